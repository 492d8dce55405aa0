// daemontools/runit run scripts: each command that runs tcpserver, rblsmtpd or
// tcp-env, with its wrappers unwrapped and the environment it starts with.
#include <map>
#include <set>
#include <utility>

#include "config/config.h"
#include "host/host.h"
#include "inventory/inventory.h"
#include "parsers/shell_words.h"

namespace qharden {
namespace {

std::string parent_directory(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// supervise runs ./run inside the service directory, so a relative envdir is
// relative to it.
std::string resolve_against(const std::string& directory, std::string relative) {
  if (!relative.empty() && relative.front() == '/') return relative;
  while (relative.rfind("./", 0) == 0) relative.erase(0, 2);
  if (relative.empty() || relative == ".") return directory;
  return (directory == "/" ? "" : directory) + "/" + relative;
}

bool runs_watched_program(const std::vector<ShellWord>& argv) {
  std::vector<std::string> texts;
  for (const ShellWord& word : argv) texts.push_back(word.text);
  for (std::string_view program : {"tcpserver", "rblsmtpd", "tcp-env"}) {
    if (find_program_word(texts, program)) return true;
  }
  return false;
}

std::string guess_supervisor(const Host& host, const std::string& path,
                             const std::vector<std::string>& wrappers) {
  for (const std::string& wrapper : wrappers) {
    if (wrapper == "chpst") return "runit";
  }
  if (path.rfind("/etc/sv/", 0) == 0) return "runit";
  if (path.rfind("/service/", 0) == 0 || path.rfind("/var/qmail/supervise/", 0) == 0) {
    return "daemontools";
  }
  if (host.exists("/etc/runit") || host.exists("/usr/bin/runsvdir")) return "runit";
  if (host.exists("/usr/bin/svscan") || host.exists("/command/svscan")) return "daemontools";
  return "";
}

class RunScriptReader {
 public:
  RunScriptReader(const Host& host, ServiceInventory& inventory, std::string path)
      : host_(host), inventory_(inventory), path_(std::move(path)) {}

  void read(std::string_view text) {
    ShellScript script = parse_shell_script(path_, text);
    for (const ShellProblem& problem : script.problems) add_problem(problem.line, problem.message);
    ResolvedScript resolved = resolve_programs(script);
    for (const ShellProblem& problem : resolved.problems) {
      add_problem(problem.line, problem.message);
    }
    for (const ProgramCommand& program : resolved.commands) {
      if (runs_watched_program(program.argv)) add_command(program);
    }
  }

 private:
  void add_command(const ProgramCommand& program) {
    ServiceCommand command;
    command.source = LaunchSource::run_script;
    command.file = path_;
    command.line = program.line;
    command.service = base_name(parent_directory(path_));
    command.subject = path_;
    for (const ShellWord& word : program.argv) {
      command.argv.push_back(word.text);
      command.locations.emplace_back(word.location);
    }
    command.details->wrappers = program.wrappers;
    command.details->supervisor = guess_supervisor(host_, path_, program.wrappers);
    std::map<std::string, std::string>& environment = command.details->environment;
    auto current_path = [&]() -> std::optional<std::string> {
      auto path = environment.find("PATH");
      if (path == environment.end()) return std::nullopt;
      return path->second;
    };
    std::optional<std::string> path_before_last_directory;
    bool read_a_directory = false;
    for (const EnvironmentChange& change : program.environment) {
      if (change.kind == EnvironmentChange::Kind::read_directory) {
        path_before_last_directory = current_path();
        read_a_directory = true;
      }
      apply(change, program.line, environment);
    }
    // pathexec_run finds the program with the PATH of the wrapper that runs
    // it: for an innermost envdir or chpst -e, the one before it read its folder.
    bool innermost_reads_a_directory =
        read_a_directory && !program.wrappers.empty() &&
        (program.wrappers.back() == "envdir" || program.wrappers.back() == "chpst");
    command.details->search_path =
        innermost_reads_a_directory ? path_before_last_directory : current_path();
    inventory_.commands.push_back(std::move(command));
  }

  void apply(const EnvironmentChange& change, int line,
             std::map<std::string, std::string>& environment) {
    switch (change.kind) {
      case EnvironmentChange::Kind::set:
        environment[change.name] = change.value;
        break;
      case EnvironmentChange::Kind::unset:
        environment.erase(change.name);
        break;
      case EnvironmentChange::Kind::clear:
        environment.clear();
        break;
      case EnvironmentChange::Kind::read_directory:
        read_environment_directory(resolve_against(parent_directory(path_), change.value), line,
                                   environment);
        break;
    }
  }

  // envdir's rules: one variable per file, named by the file; the first line is
  // the value with trailing blanks cut and NULs read as newlines; an empty file
  // removes the variable; names starting with '.' are skipped.
  void read_environment_directory(const std::string& directory, int line,
                                  std::map<std::string, std::string>& environment) {
    Expected<std::vector<std::string>> names = host_.list_directory(directory);
    if (!names) {
      add_problem(line, "envdir " + directory + ": " + names.error().message);
      return;
    }
    for (const std::string& name : *names) {
      if (name.empty() || name.front() == '.') continue;
      if (name.find('=') != std::string::npos) {
        add_problem(line, "envdir " + directory + ": '" + name + "' cannot name a variable");
        continue;
      }
      std::string file = directory + "/" + name;
      Expected<std::string> content = host_.read_file(file);
      if (!content) {
        add_problem(line, "envdir " + directory + ": " + content.error().message);
        continue;
      }
      inventory_.files_read.push_back(file);
      if (content->empty()) {
        environment.erase(name);
        continue;
      }
      std::string value = content->substr(0, content->find('\n'));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      for (char& character : value) {
        if (character == '\0') character = '\n';
      }
      environment[name] = value;
    }
  }

  void add_problem(int line, std::string message) {
    inventory_.problems.push_back(
        InventoryProblem{LaunchSource::run_script, path_, line, std::move(message)});
  }

  const Host& host_;
  ServiceInventory& inventory_;
  std::string path_;
};

}  // namespace

void collect_run_scripts(const Host& host, const Config& config, ServiceInventory& inventory) {
  // /service/x is usually a symlink to /var/qmail/supervise/x or /etc/sv/x: the
  // same script can match two globs, and is read once, under its first path.
  std::set<std::pair<dev_t, ino_t>> scripts_read;
  for (const std::string& pattern : config.paths.run_scripts) {
    for (const std::string& path : host.glob(pattern)) {
      Expected<FileStatus> file_status = host.status(path, true);
      if (file_status && file_status->kind != FileKind::regular) continue;
      inventory.run_scripts_seen.push_back(path);
      if (file_status && !scripts_read.insert({file_status->device, file_status->inode}).second) {
        continue;
      }
      Expected<std::string> text = host.read_file(path);
      if (!text) {
        inventory.problems.push_back(
            InventoryProblem{LaunchSource::run_script, path, 0, text.error().message});
        continue;
      }
      inventory.files_read.push_back(path);
      RunScriptReader(host, inventory, path).read(*text);
    }
  }
}

}  // namespace qharden
