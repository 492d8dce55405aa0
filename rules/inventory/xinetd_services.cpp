// xinetd services into the inventory. All reads go through the Host, so the
// same code audits the live host and a --root fixture tree.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "config/config.h"
#include "host/host.h"
#include "inventory/inventory.h"
#include "inventory/service_ports.h"
#include "inventory/xinetd_check_entry.h"
#include "parsers/text_lines.h"
#include "parsers/xinetd.h"
#include "parsers/xinetd_limits.h"

namespace qharden {
namespace {

class HostXinetdFileSource final : public XinetdFileSource {
 public:
  explicit HostXinetdFileSource(const Host& host) : host_(host) {}

  Expected<std::string> read_file(const std::string& path) const override {
    return host_.read_file(path);
  }

  Outcome read_file_in_blocks(const std::string& path, const BlockVisitor& each) const override {
    return host_.read_file_in_blocks(path, each);
  }

  Expected<std::vector<std::string>> list_directory(const std::string& path) const override {
    return host_.list_directory(path);
  }

  Expected<bool> is_regular_file(const std::string& path) const override {
    Expected<FileStatus> file_status = host_.status(path, true);
    if (!file_status) return Unexpected(file_status.error());
    if (file_status->kind == FileKind::missing) return fail_with(path + ": no such file");
    return file_status->kind == FileKind::regular;
  }

  std::string identity(const std::string& path) const override {
    Expected<FileStatus> file_status = host_.status(path, true);
    if (!file_status || file_status->kind == FileKind::missing) return path;
    return std::to_string(file_status->device) + ":" + std::to_string(file_status->inode);
  }

 private:
  const Host& host_;
};

// 64-bit FNV-1a, fed in blocks: the same text gives the same value however
// it was cut.
struct TextHash {
  std::uint64_t value = 14695981039346656037ull;
  void add(std::string_view bytes) {
    for (char byte : bytes) {
      value ^= static_cast<unsigned char>(byte);
      value *= 1099511628211ull;
    }
  }
};

// One reading of a file: the hash of what was read, and whether the reading
// failed (part way or at once) after that.
struct FileReading {
  std::string path;
  std::uint64_t hash = 0;
  bool failed = false;
  bool operator==(const FileReading&) const = default;
};

// Remembers which files a pass read and a hash of each text, so that the two
// passes can tell whether they read the same configuration.
class RecordingFileSource final : public XinetdFileSource {
 public:
  explicit RecordingFileSource(const XinetdFileSource& inner) : inner_(inner) {}

  Expected<std::string> read_file(const std::string& path) const override {
    Expected<std::string> text = inner_.read_file(path);
    TextHash hash;
    if (text) hash.add(*text);
    remember(FileReading{path, hash.value, !text});
    return text;
  }

  Outcome read_file_in_blocks(const std::string& path, const BlockVisitor& each) const override {
    TextHash hash;
    Outcome read = inner_.read_file_in_blocks(path, [&](std::string_view block) {
      hash.add(block);
      each(block);
    });
    remember(FileReading{path, hash.value, !read});
    return read;
  }
  Expected<std::vector<std::string>> list_directory(const std::string& path) const override {
    return inner_.list_directory(path);
  }
  Expected<bool> is_regular_file(const std::string& path) const override {
    return inner_.is_regular_file(path);
  }
  std::string identity(const std::string& path) const override { return inner_.identity(path); }

  // What this pass read, cleared for the next.
  std::vector<FileReading> take_reads() const {
    hash_in_this_pass_.clear();
    changed_within_pass_ = false;
    return std::exchange(reads_, {});
  }

  // Whether a file read twice in this pass (the loader's look for NUL bytes,
  // then its parse) gave two texts: what was parsed was not what was looked
  // at, even if the other pass saw the very same pair.
  bool changed_within_pass() const { return changed_within_pass_; }

 private:
  // A reading that failed, even part way, has its error as a problem of the
  // file already: within a pass it is not compared, so a parse that fails
  // after a whole look is not taken for a rewrite (that retried, then blamed
  // Plesk for an I/O error). Between the passes it is compared whole, with
  // what it read before failing: two passes cut at different points, or one
  // failing and one not, are read again.
  void remember(FileReading reading) const {
    if (!reading.failed) {
      auto [known, inserted] = hash_in_this_pass_.emplace(reading.path, reading.hash);
      if (!inserted && known->second != reading.hash) changed_within_pass_ = true;
    }
    reads_.push_back(std::move(reading));
  }

  const XinetdFileSource& inner_;
  mutable std::vector<FileReading> reads_;
  mutable std::map<std::string, std::uint64_t> hash_in_this_pass_;
  mutable bool changed_within_pass_ = false;
};

// Debian's /etc/default/xinetd: INETD_COMPAT=Yes makes xinetd serve inetd.conf too.
bool inetd_compatibility_enabled(const Host& host) {
  Expected<std::string> text = host.read_file("/etc/default/xinetd");
  if (!text) return false;
  bool enabled = false;
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    line = line.substr(start);
    if (line.rfind("export ", 0) == 0) line = line.substr(7);
    if (line.rfind("INETD_COMPAT=", 0) != 0) continue;
    std::string value = line.substr(13);
    value = value.substr(0, value.find_first_of(" \t#;"));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    for (char& character : value) {
      character = static_cast<char>(std::tolower(static_cast<unsigned char>(character)));
    }
    enabled = value == "yes";  // the last assignment wins, as in the shell
  }
  return enabled;
}

// passenv is modifiable: defaults read before a service add to it (`=` in
// defaults adds too), then the service's own =, += and -= apply in order. Fed
// every section in reading order.
class XinetdPassenv {
 public:
  // The service's effective names; empty for defaults.
  std::vector<std::string> next(const XinetdSection& section) {
    bool is_defaults = section.kind == XinetdSectionKind::defaults;
    std::set<std::string> names = from_defaults_;
    for (const XinetdAttribute& attribute : section.attributes) {
      if (attribute.name != "passenv") continue;
      if (!is_defaults && attribute.operation == XinetdOperator::assign) names.clear();
      for (const std::string& value : attribute.values) {
        if (attribute.operation == XinetdOperator::remove) {
          names.erase(value);
        } else {
          names.insert(value);
        }
      }
    }
    if (is_defaults) {
      from_defaults_ = std::move(names);
      return {};
    }
    return {names.begin(), names.end()};
  }

 private:
  std::set<std::string> from_defaults_;
};

// Four is enough for a file where a few services set their own limits
// between many that inherit them.
void share_with_recent(BurstLimitSettings& settings, std::vector<BurstLimitSettings>& recent) {
  for (const BurstLimitSettings& seen : recent) {
    if (settings.share_if_equal(seen)) return;
  }
  if (recent.size() == 4) recent.erase(recent.begin());
  recent.push_back(settings);
}

// One reading of the configuration in two passes; false when the second
// pass did not read the very files and texts of the first.
bool read_xinetd_services(const Host& host, const std::string& main_file,
                          const RecordingFileSource& source, ServiceInventory& inventory) {
  // Two passes, each holding one file's text and one section at a time: a
  // file can hold 100,000 services, and holding them all parsed cost about
  // ten times the file (issue 15: audit memory). The first keeps only what
  // every service depends on: the defaults entries (their `enabled` and
  // `disabled` lists apply to services before them too) and how often each
  // name occurs in a file (a repeated name is labelled by its id).
  std::vector<XinetdSection> defaults_sections;
  std::map<std::pair<std::string, std::string>, int> names_per_file;
  std::size_t service_count = 0;
  visit_xinetd_configuration(main_file, source, xinetd_attribute_is_resolved,
                             [&](XinetdSection&& section) {
                               if (section.kind == XinetdSectionKind::defaults) {
                                 defaults_sections.push_back(std::move(section));
                                 return;
                               }
                               ++names_per_file[{section.file, section.name}];
                               ++service_count;
                             });

  bool first_pass_held_still = !source.changed_within_pass();
  std::vector<FileReading> first_reads = source.take_reads();

  // The second pass turns each section into a command as it is parsed.
  XinetdNameFiles name_files(host);
  XinetdServiceResolver service_resolver(defaults_sections, name_files.lookups());
  XinetdLimitsResolver limits_resolver(defaults_sections);
  XinetdPassenv passenv;
  inventory.commands.reserve(inventory.commands.size() + service_count);  // one allocation
  // The last few distinct settings seen: services that inherit theirs share one copy.
  std::vector<BurstLimitSettings> recent_limits;
  auto add_command = [&](XinetdSection&& section) {
    std::vector<std::string> passenv_names = passenv.next(section);
    std::optional<XinetdService> service = service_resolver.resolve(section);
    if (!service) return;  // defaults: already with the resolvers
    if (service->enabled) {
      if (std::optional<std::string> refusal = xinetd_start_refusal(*service, name_files)) {
        service->enabled = false;
        service->disabled_reason = std::move(*refusal);
      }
    }
    XinetdServiceLimits limits = limits_resolver.resolve(section);

    ServiceCommand command;
    command.source = LaunchSource::xinetd;
    command.line = service->line;
    auto count = names_per_file.find({service->file, service->name});
    bool name_repeats = count != names_per_file.end() && count->second > 1;
    command.subject = service->file + ":" + (name_repeats ? service->id : service->name);
    command.file = std::move(service->file);
    command.service = std::move(service->id);
    command.enabled = service->enabled;
    XinetdCommandLine command_line = xinetd_command_line(*service);
    command.argv = std::move(command_line.argv);
    command.locations = std::move(command_line.locations);
    command.server_location = service->server_location;
    // Only what is there is stored: most services have none of these.
    if (!service->disabled_reason.empty()) {
      command.details->disabled_reason = std::move(service->disabled_reason);
    }
    if (!service->environment.empty())
      command.details->environment = std::move(service->environment);
    if (!service->ident_attributes.empty()) {
      command.details->xinetd_ident_attributes = std::move(service->ident_attributes);
    }
    if (!service->logs) {
      std::vector<std::string> latent;
      if (service->log_on_success.count("USERID") != 0) latent.push_back("log_on_success");
      if (service->log_on_failure.count("USERID") != 0) latent.push_back("log_on_failure");
      if (!latent.empty()) command.details->xinetd_latent_ident_attributes = std::move(latent);
    }
    if (!passenv_names.empty()) command.details->passenv = std::move(passenv_names);
    if (!service->port) {
      command.port = name_files.ports().find(service->name);
    } else if (*service->port != 0) {  // at 0 the kernel picks one: unknown here
      command.port = service->port;
    }
    command.burst_limits = std::move(limits.settings);
    share_with_recent(command.burst_limits, recent_limits);
    inventory.commands.push_back(std::move(command));
  };
  XinetdConfiguration configuration =
      visit_xinetd_configuration(main_file, source, xinetd_attribute_is_resolved, add_command);
  for (XinetdProblem& problem : configuration.problems) {
    inventory.problems.push_back(InventoryProblem{LaunchSource::xinetd, std::move(problem.file),
                                                  problem.line, std::move(problem.message)});
  }
  for (const XinetdProblem& problem : service_resolver.problems()) {
    inventory.problems.push_back(
        InventoryProblem{LaunchSource::xinetd, problem.file, problem.line, problem.message});
  }
  for (const XinetdProblem& problem : limits_resolver.problems()) {
    inventory.problems.push_back(
        InventoryProblem{LaunchSource::xinetd, problem.file, problem.line, problem.message});
  }
  for (std::string& file : configuration.files_read) {
    inventory.files_read.push_back(std::move(file));
  }
  // Plesk may rewrite a file between the passes: the defaults and the labels
  // of the first would then not be those of the second.
  bool second_pass_held_still = !source.changed_within_pass();
  return source.take_reads() == first_reads && first_pass_held_still && second_pass_held_still;
}

}  // namespace

void collect_xinetd_services(const Host& host, const Config& config, ServiceInventory& inventory) {
  const std::string& main_file = config.paths.xinetd_conf;
  Expected<FileStatus> main_status = host.status(main_file, true);
  if (main_status && main_status->kind == FileKind::missing) return;
  inventory.xinetd_present = true;
  // -inetd_compat reads /etc/inetd.conf, a path compiled into xinetd: an
  // inetd.conf elsewhere (paths.inetd_conf) is another inetd's alone.
  inventory.xinetd_serves_inetd_conf =
      config.paths.inetd_conf == "/etc/inetd.conf" && inetd_compatibility_enabled(host);

  HostXinetdFileSource host_source(host);
  RecordingFileSource source(host_source);
  std::size_t commands_before = inventory.commands.size();
  std::size_t problems_before = inventory.problems.size();
  std::size_t files_before = inventory.files_read.size();
  constexpr int kAttempts = 3;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    if (read_xinetd_services(host, main_file, source, inventory)) return;
    if (attempt == kAttempts) break;
    inventory.commands.resize(commands_before);
    inventory.problems.resize(problems_before);
    inventory.files_read.resize(files_before);
  }
  inventory.problems.push_back(InventoryProblem{
      LaunchSource::xinetd, main_file, 0,
      "the xinetd configuration changed while it was being read, " + std::to_string(kAttempts) +
          " times in a row; judged as last read, which may mix two versions: audit again"});
}

}  // namespace qharden
