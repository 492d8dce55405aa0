// Socket-activated services into the inventory: every *.socket unit with
// Accept=yes, and the ExecStart= of the template service each connection
// starts (`<socket name>@.service`). systemd sets only REMOTE_ADDR/REMOTE_PORT,
// so qmail-smtpd runs behind tcp-env there, with its ident lookup unless -R.
// As systemd does: a socket limit it cannot parse is ignored (the value before
// it stays), MaxConnections=0 or two ExecStart= outside Type=oneshot make it
// refuse the unit (a problem, shown as a skip), and $NAME / ${NAME} in
// ExecStart= take the values of Environment= and EnvironmentFile=.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <utility>

#include "config/config.h"
#include "host/host.h"
#include "inventory/inventory.h"
#include "inventory/systemd_units.h"
#include "parsers/systemd_unit.h"

namespace qharden {
namespace {

// systemd.socket(5) of systemd 252 (Debian 12): the defaults for Accept=yes.
// MaxConnectionsPerSource is off by default; 0 is how systemd stores "off".
constexpr std::pair<std::string_view, std::string_view> kSocketBuiltIns[] = {
    {"MaxConnections", "64"},
    {"MaxConnectionsPerSource", "0"},
    {"TriggerLimitIntervalSec", "2s"},
    {"TriggerLimitBurst", "200"},
};

// The unit file, then its drop-ins, parsed.
struct LoadedUnit {
  SystemdUnitLocation location;
  std::vector<SystemdUnitFile> files;
};

struct Setting {
  const SystemdAssignment* assignment = nullptr;
  const SystemdUnitFile* file = nullptr;
  bool from_drop_in = false;
};

// Every assignment of a key in that section of every file, in the order
// systemd reads them.
std::vector<Setting> all_settings(const LoadedUnit& unit, std::string_view section,
                                  std::string_view key) {
  std::vector<Setting> settings;
  for (std::size_t index = 0; index < unit.files.size(); ++index) {
    for (const SystemdSection& candidate : unit.files[index].sections) {
      if (candidate.name != section) continue;
      for (const SystemdAssignment& assignment : candidate.assignments) {
        if (assignment.key == key) settings.push_back({&assignment, &unit.files[index], index > 0});
      }
    }
  }
  return settings;
}

// A list key: an empty assignment empties the list, drop-ins included.
std::vector<Setting> list_settings(const LoadedUnit& unit, std::string_view section,
                                   std::string_view key) {
  std::vector<Setting> list;
  for (const Setting& setting : all_settings(unit, section, key)) {
    if (setting.assignment->value.empty()) {
      list.clear();
    } else {
      list.push_back(setting);
    }
  }
  return list;
}

// A single value: the last assignment, unless it is empty (back to the default).
std::optional<Setting> last_setting(const LoadedUnit& unit, std::string_view section,
                                    std::string_view key) {
  std::vector<Setting> settings = all_settings(unit, section, key);
  if (settings.empty() || settings.back().assignment->value.empty()) return std::nullopt;
  return settings.back();
}

// safe_atou: decimal digits that fit in 32 bits (a leading '+' is allowed).
bool systemd_unsigned_parses(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty() || text.size() > 10) return false;
  std::uint64_t value = 0;
  for (char character : text) {
    if (character < '0' || character > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(character - '0');
  }
  return value <= UINT32_MAX;
}

// parse_sec: "infinity", or numbers (a fraction allowed), each with an
// optional unit, blanks between allowed ("2s", "1min 30s", "500ms", "5").
bool systemd_time_span_parses(std::string_view text) {
  static constexpr std::string_view kUnits[] = {
      "usec",   "us",  "\xc2\xb5s", "msec",  "ms",   "seconds", "second", "sec",  "s",  "minutes",
      "minute", "min", "months",    "month", "M",    "m",       "hours",  "hour", "hr", "h",
      "days",   "day", "d",         "weeks", "week", "w",       "years",  "year", "y"};
  auto skip_blanks = [&](std::size_t position) {
    while (position < text.size() && (text[position] == ' ' || text[position] == '\t')) ++position;
    return position;
  };
  std::size_t position = skip_blanks(0);
  if (text.substr(position) == "infinity") return true;
  bool any = false;
  while (position < text.size()) {
    std::size_t start = position;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') ++position;
    if (position < text.size() && text[position] == '.') {
      ++position;
      while (position < text.size() && text[position] >= '0' && text[position] <= '9') ++position;
    }
    if (position == start || text.substr(start, position - start) == ".") return false;
    position = skip_blanks(position);
    for (std::string_view unit : kUnits) {
      if (text.substr(position, unit.size()) != unit) continue;
      std::size_t after = position + unit.size();
      if (after < text.size() && std::isalpha(static_cast<unsigned char>(text[after]))) continue;
      position = after;
      break;
    }
    position = skip_blanks(position);
    any = true;
  }
  return any;
}

// The parser names "FILE:LINE: " in its messages; a problem carries both apart.
std::string without_place(const std::string& file, std::string message) {
  if (message.rfind(file + ":", 0) != 0) return message;
  std::size_t separator = message.find(": ", file.size() + 1);
  return separator == std::string::npos ? message : message.substr(separator + 2);
}

class SystemdUnitReader {
 public:
  SystemdUnitReader(const Host& host, const Config& config, ServiceInventory& inventory)
      : host_(host),
        inventory_(inventory),
        directories_(host, config.paths.systemd_unit_dirs, inventory.problems) {}

  void read_sockets() {
    for (const std::string& name : directories_.names_ending(".socket")) {
      // A template socket (foo@.socket) listens only through its instances,
      // whose names the unit folders do not tell.
      if (name.find('@') != std::string::npos) continue;
      read_socket(directories_.locate(name));
    }
  }

 private:
  void read_socket(const SystemdUnitLocation& location) {
    if (location.masked) return;
    // Most sockets are not Accept=yes: only those that mention it are parsed.
    std::optional<LoadedUnit> socket = load(location, "Accept");
    if (!socket) return;
    std::optional<bool> accept;
    for (const Setting& setting : all_settings(*socket, "Socket", "Accept")) {
      std::optional<bool> value = parse_systemd_boolean(setting.assignment->value);
      if (!value) {
        add_problem(
            setting.file->file, setting.assignment->location.line,
            "Accept=" + setting.assignment->value + " is no boolean; systemd ignores the line");
        continue;
      }
      accept = value;
    }
    if (!accept || !*accept) return;
    inventory_.systemd_accept_sockets = true;
    if (std::optional<Setting> service = last_setting(*socket, "Socket", "Service")) {
      add_problem(
          service->file->file, service->assignment->location.line,
          "Service= is only allowed with Accept=no; systemd refuses to load " + location.name);
      return;
    }
    std::string stem =
        location.name.substr(0, location.name.size() - std::string(".socket").size());
    std::string service_name = stem + "@.service";
    SystemdUnitLocation service_location = directories_.locate(service_name);
    if (service_location.path.empty()) {
      add_problem(location.path, 0,
                  "Accept=yes, but no " + service_name +
                      " is in paths.systemd_unit_dirs: no connection can start a service");
      return;
    }
    if (service_location.masked) return;  // the operator switched it off
    std::optional<LoadedUnit> service = load(service_location, "");
    if (!service) return;
    add_command(*socket, *service);
  }

  void add_command(const LoadedUnit& socket, const LoadedUnit& service) {
    std::vector<Setting> starts = list_settings(service, "Service", "ExecStart");
    if (starts.empty()) {
      add_problem(service.location.path, 0,
                  "no ExecStart= (after its drop-ins); systemd refuses to start the service");
      return;
    }
    std::optional<Setting> type = last_setting(service, "Service", "Type");
    if (starts.size() > 1 && (!type || type->assignment->value != "oneshot")) {
      // service_verify(): only Type=oneshot may have several; a drop-in that
      // adds an ExecStart= without the empty one before it is the usual cause.
      const Setting& second = starts[1];
      add_problem(second.file->file, second.assignment->location.line,
                  "more than one ExecStart= (add an empty `ExecStart=` before this one); "
                  "systemd refuses to start " +
                      service.location.name);
      return;
    }
    const Setting& start = starts.back();
    ServiceCommand command;
    command.source = LaunchSource::systemd;
    command.details->exec_start_count = static_cast<int>(starts.size());
    command.service = socket.location.name;
    command.subject = service.location.path;
    Outcome split = take_exec_start(start, command);
    if (!split) {
      add_problem(start.file->file, start.assignment->location.line, split.error().message);
      return;
    }
    command.enabled = directories_.enabled(socket.location.name);
    if (!command.enabled) {
      command.details->disabled_reason = "no *.wants/ or *.requires/ link to " +
                                         socket.location.name +
                                         " in paths.systemd_unit_dirs (not enabled)";
    }
    for (const Setting& listen : list_settings(socket, "Socket", "ListenStream")) {
      command.port = systemd_listen_port(listen.assignment->value);
      if (command.port) break;
    }
    for (const auto& [name, built_in] : kSocketBuiltIns) {
      command.burst_limits.push_back(burst_limit(socket, name, built_in));
      const BurstLimitSetting& limit = command.burst_limits.back();
      if (name == "MaxConnections" &&
          limit.words.front().find_first_not_of("+0") == std::string::npos) {
        // socket_verify(): "MaxConnection= setting too small. Refusing."
        add_problem(limit.file, limit.line,
                    "MaxConnections=" + limit.words.front() + ": systemd refuses to load " +
                        socket.location.name);
        return;
      }
    }
    read_environment(service, command);
    expand_variables(command);
    command.details->under_qharden_drop_in = command_without_qharden_drop_in(service, command);
    inventory_.commands.push_back(std::move(command));
  }

  // argv[0] as executed is the program path, as for the other sources; with
  // '@' the word systemd passes as argv[0] is not run, so it is left out.
  static Outcome take_exec_start(const Setting& start, ServiceCommand& command) {
    Expected<SystemdCommandLine> command_line =
        split_systemd_command(start.file->file, *start.assignment);
    if (!command_line) {
      return fail_with(without_place(start.file->file, command_line.error().message));
    }
    command.file = start.file->file;
    command.line = start.assignment->location.line;
    command.argv.push_back(command_line->program.text);
    command.locations.emplace_back(command_line->program.location);
    for (std::size_t index = 1; index < command_line->argv.size(); ++index) {
      command.argv.push_back(command_line->argv[index].text);
      command.locations.emplace_back(command_line->argv[index].location);
    }
    return Done{};
  }

  // When the effective ExecStart= is qharden's tcp-env drop-in: what the unit
  // would run without it. The drop-in holds a copy of that line, and a package
  // upgrade that changes the unit's line would otherwise go unnoticed.
  static std::shared_ptr<const ServiceCommand> command_without_qharden_drop_in(
      const LoadedUnit& service, const ServiceCommand& effective) {
    if (file_name_of(effective.file) != kQhardenTcpEnvDropIn) return nullptr;
    std::vector<Setting> starts;
    for (const Setting& setting : all_settings(service, "Service", "ExecStart")) {
      if (setting.file->file == effective.file) continue;
      if (setting.assignment->value.empty()) {
        starts.clear();
      } else {
        starts.push_back(setting);
      }
    }
    auto underneath = std::make_shared<ServiceCommand>();
    underneath->source = LaunchSource::systemd;
    underneath->service = effective.service;
    underneath->subject = effective.subject;
    underneath->port = effective.port;
    // Not comparable: an empty argv, and disabled_reason says why.
    if (starts.empty()) {
      underneath->details->disabled_reason = "the unit has no ExecStart= of its own any more";
      return underneath;
    }
    if (starts.size() > 1) {
      underneath->details->disabled_reason =
          "the unit now has " + std::to_string(starts.size()) +
          " ExecStart= lines (Type=oneshot), which the drop-in's one "
          "line hides";
      return underneath;
    }
    Outcome split = take_exec_start(starts.back(), *underneath);
    if (!split) {
      underneath->argv.clear();
      underneath->locations.clear();
      underneath->details->disabled_reason =
          "the unit's ExecStart= does not parse: " + split.error().message;
      return underneath;
    }
    underneath->details->environment = effective.details->environment;
    expand_variables(*underneath);
    return underneath;
  }

  static std::string file_name_of(const std::string& path) {
    std::size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }

  static bool variable_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
    return std::all_of(name.begin(), name.end(), [](char character) {
      return std::isalnum(static_cast<unsigned char>(character)) || character == '_';
    });
  }

  // systemd.service(5) "Command lines": a word that is `$NAME` becomes the
  // variable's value split at blanks (zero or more words); `${NAME}` anywhere
  // in a word becomes its exact value; `$$` is a '$'. The program path is not
  // expanded. A changed word has no location: it is not written as such.
  static void expand_variables(ServiceCommand& command) {
    std::vector<std::string> argv;
    std::vector<std::optional<WordLocation>> locations;
    for (std::size_t index = 0; index < command.argv.size(); ++index) {
      const std::string& word = command.argv[index];
      if (index == 0 || word.find('$') == std::string::npos) {
        argv.push_back(word);
        locations.push_back(command.locations[index]);
        continue;
      }
      if (word.size() > 1 && word.front() == '$' && variable_name(word.substr(1))) {
        auto value = command.details->environment.find(word.substr(1));
        if (value == command.details->environment.end()) continue;  // unset: no word at all
        std::size_t position = 0;
        const std::string& text = value->second;
        while ((position = text.find_first_not_of(" \t\n", position)) != std::string::npos) {
          std::size_t end = std::min(text.size(), text.find_first_of(" \t\n", position));
          argv.push_back(text.substr(position, end - position));
          locations.emplace_back(std::nullopt);
          position = end;
        }
        continue;
      }
      std::string expanded;
      for (std::size_t position = 0; position < word.size(); ++position) {
        if (word[position] != '$' || position + 1 == word.size()) {
          expanded.push_back(word[position]);
        } else if (word[position + 1] == '$') {
          expanded.push_back('$');
          ++position;
        } else if (std::size_t close = word.find('}', position + 2);
                   word[position + 1] == '{' && close != std::string::npos &&
                   variable_name(
                       std::string_view(word).substr(position + 2, close - position - 2))) {
          auto value =
              command.details->environment.find(word.substr(position + 2, close - position - 2));
          if (value != command.details->environment.end()) expanded += value->second;
          position = close;
        } else {
          expanded.push_back(word[position]);
        }
      }
      locations.push_back(expanded == word ? command.locations[index] : std::nullopt);
      argv.push_back(std::move(expanded));
    }
    command.argv = std::move(argv);
    command.locations = std::move(locations);
  }

  // Environment= as systemd applies it: every assignment in order, an empty one
  // clearing the list, each word `NAME=value` (a word without a valid name is
  // ignored, as systemd ignores it with a warning); then EnvironmentFile=, whose
  // values win (systemd.exec(5)). smtp.open-relay reads RELAYCLIENT from here.
  void read_environment(const LoadedUnit& service, ServiceCommand& command) {
    for (const Setting& setting : list_settings(service, "Service", "Environment")) {
      Expected<std::vector<SystemdCommandWord>> words =
          split_systemd_words(setting.file->file, *setting.assignment);
      if (!words) continue;  // systemd ignores the whole line
      for (const SystemdCommandWord& word : *words) set_variable(word.text, command);
    }
    for (const Setting& setting : list_settings(service, "Service", "EnvironmentFile")) {
      std::string pattern = setting.assignment->value;
      bool may_be_missing = !pattern.empty() && pattern.front() == '-';
      if (may_be_missing) pattern.erase(0, 1);
      // systemd drops a relative path when it loads the unit, with a warning.
      if (pattern.empty() || pattern.front() != '/') continue;
      read_environment_files(setting, pattern, may_be_missing, command);
    }
  }

  // The path may be a glob (systemd.exec(5)): every match is read, in sorted
  // order, as glob(3) gives them. No match, or a file that cannot be read, stops
  // the service unless the path starts with '-'.
  void read_environment_files(const Setting& setting, const std::string& pattern,
                              bool may_be_missing, ServiceCommand& command) {
    int line = setting.assignment->location.line;
    bool is_glob = pattern.find_first_of("*?[") != std::string::npos;
    std::vector<std::string> paths = is_glob ? host_.glob(pattern) : std::vector{pattern};
    if (paths.empty() && !may_be_missing) {
      add_problem(
          setting.file->file, line,
          "EnvironmentFile=" + pattern + " matches no file; systemd refuses to start the service");
    }
    for (const std::string& path : paths) {
      Expected<std::string> text = host_.read_file(path);
      if (!text) {
        if (!may_be_missing) {
          add_problem(setting.file->file, line,
                      "EnvironmentFile=" + path + ": " + without_place(path, text.error().message) +
                          "; systemd refuses to start the service");
        }
        continue;
      }
      inventory_.files_read.push_back(path);
      read_environment_file(*text, command);
    }
  }

  // The common form of an environment file: NAME=value lines, '#' and ';'
  // comments, a value in one pair of quotes. Escapes and continued lines,
  // which systemd also reads, are taken as written.
  static void read_environment_file(std::string_view text, ServiceCommand& command) {
    std::size_t offset = 0;
    while (offset < text.size()) {
      std::size_t end = std::min(text.size(), text.find('\n', offset));
      std::string_view line = text.substr(offset, end - offset);
      offset = end + 1;
      std::size_t start = line.find_first_not_of(" \t\r");
      if (start == std::string_view::npos || line[start] == '#' || line[start] == ';') continue;
      line = line.substr(start, line.find_last_not_of(" \t\r") - start + 1);
      std::size_t equals = line.find('=');
      if (equals == std::string_view::npos) continue;
      std::string_view name = line.substr(0, equals);
      name = name.substr(0, name.find_last_not_of(" \t") + 1);
      std::string_view value = line.substr(equals + 1);
      value.remove_prefix(std::min(value.size(), value.find_first_not_of(" \t")));
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      set_variable(std::string(name) + "=" + std::string(value), command);
    }
  }

  static void set_variable(const std::string& word, ServiceCommand& command) {
    std::size_t equals = word.find('=');
    if (equals == std::string::npos || equals == 0) return;
    std::string name = word.substr(0, equals);
    if (std::isdigit(static_cast<unsigned char>(name.front()))) return;
    for (char character : name) {
      if (!std::isalnum(static_cast<unsigned char>(character)) && character != '_') return;
    }
    command.details->environment[name] = word.substr(equals + 1);
  }

  // The last value systemd accepts: config_parse_unsigned and config_parse_sec
  // ignore an empty or unparsable value with a warning, so the one before it
  // (or the built-in) stays.
  static BurstLimitSetting burst_limit(const LoadedUnit& socket, std::string_view name,
                                       std::string_view built_in) {
    BurstLimitSetting limit;
    limit.name = std::string(name);
    std::optional<Setting> setting;
    bool time_span = name == "TriggerLimitIntervalSec";
    for (const Setting& candidate : all_settings(socket, "Socket", name)) {
      const std::string& value = candidate.assignment->value;
      if (time_span ? systemd_time_span_parses(value) : systemd_unsigned_parses(value)) {
        setting = candidate;
      }
    }
    if (!setting) {
      limit.words = {std::string(built_in)};
      limit.from = "built-in";
      return limit;
    }
    limit.words = {setting->assignment->value};
    limit.from = setting->from_drop_in ? "drop-in" : "service";
    limit.file = setting->file->file;
    limit.line = setting->assignment->location.line;
    limit.locations = {setting->assignment->location};
    return limit;
  }

  // Reads and parses the unit file and its drop-ins. nullopt when one cannot
  // be read or systemd would refuse it (each said as a problem), or when
  // `needle` is set and no file mentions it.
  std::optional<LoadedUnit> load(const SystemdUnitLocation& location, std::string_view needle) {
    std::vector<std::string> paths{location.path};
    paths.insert(paths.end(), location.drop_ins.begin(), location.drop_ins.end());
    std::vector<std::string> texts;
    bool mentioned = needle.empty();
    for (const std::string& path : paths) {
      Expected<std::string> text = host_.read_file(path);
      if (!text) {
        add_problem(path, 0, without_place(path, text.error().message));
        return std::nullopt;
      }
      inventory_.files_read.push_back(path);
      mentioned = mentioned || text->find(needle) != std::string::npos;
      texts.push_back(std::move(*text));
    }
    if (!mentioned) return std::nullopt;
    LoadedUnit unit{location, {}};
    bool loads = true;
    for (std::size_t index = 0; index < paths.size(); ++index) {
      SystemdUnitFile parsed = parse_systemd_unit_text(paths[index], texts[index]);
      for (const SystemdUnitProblem& problem : parsed.problems) {
        // What systemd only warns about and skips is left out; what makes it
        // refuse the unit is said, since the unit then runs nothing.
        if (!problem.fatal) continue;
        add_problem(paths[index], problem.line, without_place(paths[index], problem.message));
      }
      loads = loads && parsed.loads();
      unit.files.push_back(std::move(parsed));
    }
    if (!loads) return std::nullopt;
    return unit;
  }

  void add_problem(const std::string& file, int line, std::string message) {
    inventory_.problems.push_back(
        InventoryProblem{LaunchSource::systemd, file, line, std::move(message)});
  }

  const Host& host_;
  ServiceInventory& inventory_;
  SystemdUnitDirectories directories_;
};

}  // namespace

void collect_systemd_units(const Host& host, const Config& config, ServiceInventory& inventory) {
  SystemdUnitReader(host, config, inventory).read_sockets();
}

}  // namespace qharden
