#include "listener_burst_limits/limits.h"

#include <map>

#include "host/host.h"
#include "parsers/getopt.h"
#include "parsers/shell_words.h"
#include "parsers/xinetd_limits.h"
#include "tcpserver_flags/tcpserver_options.h"

namespace qharden {
namespace {

// Digits after an optional '+'; nullopt otherwise, or when too big to matter.
std::optional<std::int64_t> whole_number(const std::string& word) {
  std::size_t start = !word.empty() && word.front() == '+' ? 1 : 0;
  if (start == word.size()) return std::nullopt;
  std::int64_t value = 0;
  for (std::size_t index = start; index < word.size(); ++index) {
    if (word[index] < '0' || word[index] > '9') return std::nullopt;
    value = value * 10 + (word[index] - '0');
    if (value > 4'000'000'000) return std::nullopt;
  }
  return value;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

JudgedLimit minimum_limit(std::string name, std::optional<std::int64_t> value,
                          const BurstLimitSetting& setting, std::string written,
                          std::int64_t minimum) {
  JudgedLimit limit{std::move(name),    value,   setting.from, setting.file, setting.line,
                    std::move(written), minimum, false,        true};
  limit.ok = !value || *value >= minimum;
  return limit;
}

const BurstLimitSetting* find_setting(const ServiceCommand& command, const std::string& name) {
  for (const BurstLimitSetting& setting : command.burst_limits) {
    if (setting.name == name) return &setting;
  }
  return nullptr;
}

// "$MAXSMTPD" or "${MAXSMTPD}" whose value the run script's envdir or exports
// give; other words stay as they are.
// A value written as `cat FILE` or $(cat FILE): the first line of that file.
std::optional<std::string> command_output(const std::string& value, const Host* host) {
  std::string inner;
  if (value.size() > 2 && value.front() == '`' && value.back() == '`') {
    inner = value.substr(1, value.size() - 2);
  } else if (value.size() > 3 && value.rfind("$(", 0) == 0 && value.back() == ')') {
    inner = value.substr(2, value.size() - 3);
  } else {
    return value;
  }
  if (host == nullptr || inner.rfind("cat ", 0) != 0) return std::nullopt;
  std::string path = inner.substr(4);
  while (!path.empty() && path.front() == ' ') path.erase(0, 1);
  while (!path.empty() && path.back() == ' ') path.pop_back();
  if (path.empty() || path.front() != '/' || path.find(' ') != std::string::npos) {
    return std::nullopt;
  }
  Expected<std::string> text = host->read_file(path);
  if (!text) return std::nullopt;
  return text->substr(0, text->find('\n'));
}

std::optional<std::string> expand_variable(const std::string& word,
                                           const std::map<std::string, std::string>& environment,
                                           const Host* host) {
  if (word.find('$') == std::string::npos && word.find('`') == std::string::npos) return word;
  std::string name;
  if (word.size() > 3 && word.rfind("${", 0) == 0 && word.back() == '}') {
    name = word.substr(2, word.size() - 3);
  } else if (word.size() > 1 && word.front() == '$') {
    name = word.substr(1);
  }
  auto found = environment.find(name);
  if (name.empty() || found == environment.end()) return std::nullopt;
  std::optional<std::string> expanded = command_output(found->second, host);
  if (!expanded) return std::nullopt;
  std::string value = *expanded;
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

// The run script's own variables set before `line` (MAXSMTPD=`cat ...` is not
// exported, so the inventory's environment lacks it), under the environment.
std::map<std::string, std::string> script_variables(const ServiceCommand& command,
                                                    const Host* host) {
  std::map<std::string, std::string> variables;
  if (host != nullptr) {
    Expected<std::string> text = host->read_file(command.file);
    if (text) {
      for (const ShellCommand& each : parse_shell_script(command.file, *text).commands) {
        if (!each.words.empty() || each.line >= command.line) continue;
        for (const ShellAssignment& assignment : each.assignments) {
          variables[assignment.name] = assignment.value;
        }
      }
    }
  }
  for (const auto& [name, value] : command.details->environment) variables[name] = value;
  return variables;
}

}  // namespace

bool ListenerLimits::all_ok() const {
  if (error) return false;
  for (const JudgedLimit& limit : limits) {
    if (!limit.ok) return false;
  }
  return true;
}

ListenerLimits judge_xinetd_limits(const ServiceCommand& command,
                                   const Config::ListenerBurstLimits& bounds) {
  ListenerLimits result;
  result.kind = "xinetd";
  for (const char* name : {"cps", "instances", "per_source"}) {
    const BurstLimitSetting* setting = find_setting(command, name);
    if (setting == nullptr) {
      result.error = std::string("no ") + name + " value was read for this service";
      return result;
    }
    std::string written = setting->name + " = " + joined(setting->words);
    // Read as xinetd reads it: a value it refused never gets here (the
    // service is off), so a problem is a built-in or inherited one gone wrong.
    XinetdLimitValue read = read_xinetd_limit(setting->name, setting->words);
    if (!read.problem.empty()) {
      result.error = read.problem;
      return result;
    }
    if (setting->name == "cps") {
      std::int64_t rate = read.numbers.at(0).value_or(0);
      std::int64_t wait = read.numbers.at(1).value_or(0);
      // A rate of 0 turns xinetd's connection-rate check off (access.c).
      bool unlimited = rate == 0;
      result.limits.push_back(minimum_limit("cps", unlimited ? std::nullopt : std::optional(rate),
                                            *setting, written, bounds.xinetd_cps_min));
      JudgedLimit off_for = minimum_limit("cps_wait", wait, *setting, written, 0);
      off_for.bound = bounds.xinetd_cps_wait_max;
      off_for.bound_is_maximum = true;
      off_for.ok = unlimited || wait <= bounds.xinetd_cps_wait_max;
      result.limits.push_back(off_for);
      continue;
    }
    std::optional<std::int64_t> value = read.numbers.at(0);
    std::int64_t minimum =
        setting->name == "instances" ? bounds.xinetd_instances_min : bounds.xinetd_per_source_min;
    result.limits.push_back(minimum_limit(setting->name, value, *setting, written, minimum));
  }
  return result;
}

std::int64_t inetd_per_minute(const std::string& wait_field) {
  std::size_t dot = wait_field.find('.');
  if (dot == std::string::npos) return kInetdBuiltInPerMinute;
  std::optional<std::int64_t> value = whole_number(wait_field.substr(dot + 1));
  if (!value || *value < 1) return kInetdBuiltInPerMinute;
  return *value;
}

ListenerLimits judge_inetd_limits(const ServiceCommand& command,
                                  const Config::ListenerBurstLimits& bounds) {
  ListenerLimits result;
  result.kind = "inetd";
  const BurstLimitSetting* setting = find_setting(command, "wait");
  if (setting == nullptr || setting->words.empty()) {
    result.error = "the wait/nowait field was not read for this line";
    return result;
  }
  const std::string& field = setting->words.front();
  std::int64_t per_minute = inetd_per_minute(field);
  // "nowait.0" or "nowait.x": inetd logs "illegal max field" and uses its 256.
  std::size_t dot = field.find('.');
  std::optional<std::int64_t> written_max =
      dot == std::string::npos ? std::nullopt : whole_number(field.substr(dot + 1));
  BurstLimitSetting shown = *setting;
  shown.from = written_max && *written_max >= 1 ? "service" : "built-in";
  result.limits.push_back(
      minimum_limit("per_minute", per_minute, shown, field, bounds.inetd_per_minute_min));
  return result;
}

// A systemd time span is zero when no digit in it is other than 0 ("0", "0s").
bool zero_time_span(const std::string& text) {
  bool digit_seen = false;
  for (char character : text) {
    if (character >= '1' && character <= '9') return false;
    digit_seen = digit_seen || character == '0';
  }
  return digit_seen;
}

ListenerLimits judge_systemd_limits(const ServiceCommand& command,
                                    const Config::ListenerBurstLimits& bounds) {
  ListenerLimits result;
  result.kind = "systemd";
  const BurstLimitSetting* connections = find_setting(command, "MaxConnections");
  const BurstLimitSetting* burst = find_setting(command, "TriggerLimitBurst");
  const BurstLimitSetting* interval = find_setting(command, "TriggerLimitIntervalSec");
  if (connections == nullptr || burst == nullptr || interval == nullptr ||
      connections->words.empty() || burst->words.empty() || interval->words.empty()) {
    result.error = "the socket's limits were not read";
    return result;
  }
  std::optional<std::int64_t> maximum = whole_number(connections->words.front());
  if (!maximum || *maximum < 1) {
    result.error = "MaxConnections=" + connections->words.front() + " is no positive number";
    return result;
  }
  result.limits.push_back(minimum_limit("MaxConnections", maximum, *connections,
                                        "MaxConnections=" + connections->words.front(),
                                        bounds.systemd_max_connections_min));
  std::optional<std::int64_t> triggers = whole_number(burst->words.front());
  if (!triggers) {
    result.error = "TriggerLimitBurst=" + burst->words.front() + " is no number";
    return result;
  }
  // 0 for either turns systemd's trigger limit off (systemd.socket(5)).
  bool off = *triggers == 0 || zero_time_span(interval->words.front());
  std::string written = "TriggerLimitBurst=" + burst->words.front() +
                        " per TriggerLimitIntervalSec=" + interval->words.front();
  result.limits.push_back(minimum_limit("TriggerLimitBurst",
                                        off ? std::nullopt : std::optional(*triggers), *burst,
                                        written, bounds.systemd_trigger_limit_burst_min));
  return result;
}

std::optional<std::string> tcpserver_port_word(const std::vector<std::string>& argv,
                                               std::size_t tcpserver_index) {
  std::vector<std::string> after(argv.begin() + static_cast<long>(tcpserver_index) + 1, argv.end());
  GetoptResult parsed = parse_options(after, kTcpserverIpv6Optstring);
  if (parsed.first_operand + 1 >= after.size()) return std::nullopt;
  return after[parsed.first_operand + 1];
}

ListenerLimits judge_tcpserver_limits(const ServiceCommand& command, std::size_t tcpserver_index,
                                      const Config::ListenerBurstLimits& bounds, const Host* host) {
  ListenerLimits result;
  result.kind = "tcpserver";
  std::vector<std::string> after(command.argv.begin() + static_cast<long>(tcpserver_index) + 1,
                                 command.argv.end());
  GetoptResult parsed = parse_options(after, kTcpserverIpv6Optstring);
  BurstLimitSetting setting{"c", {}, "built-in", "", 0, {}};
  std::string written = "-c " + std::to_string(kTcpserverBuiltInConcurrency);
  std::optional<std::int64_t> value = kTcpserverBuiltInConcurrency;
  if (parsed.error) {
    result.error = "tcpserver would reject its options (" + *parsed.error + ")";
    return result;
  }
  for (const ParsedOption& option : parsed.options) {
    if (option.letter != 'c' || !option.argument) continue;  // the last -c wins
    std::optional<std::string> text =
        expand_variable(*option.argument, script_variables(command, host), host);
    if (!text) {
      result.error = "tcpserver's -c comes from " + *option.argument +
                     ", whose value qharden cannot read (not set by the run script or its "
                     "envdir, or set by a command other than `cat FILE`, or FILE is missing)";
      return result;
    }
    // tcpserver reads -c with scan_ulong: the leading digits, 0 when there are none.
    std::int64_t digits = 0;
    for (char character : *text) {
      if (character < '0' || character > '9') break;
      digits = digits * 10 + (character - '0');
      if (digits > 4'000'000'000) break;
    }
    value = digits;
    written = "-c " + *option.argument;
    setting.from = "service";
    setting.file = command.file;
    std::size_t word = tcpserver_index + 1 + option.word_index;
    setting.line = word < command.locations.size() && command.locations[word]
                       ? command.locations[word]->line
                       : command.line;
  }
  result.limits.push_back(
      minimum_limit("concurrency", value, setting, written, bounds.tcpserver_concurrency_min));
  return result;
}

std::string describe_limit(const JudgedLimit& limit) {
  std::string value = limit.value ? std::to_string(*limit.value) : "unlimited";
  std::string origin = limit.from == "built-in" ? "built-in default"
                       : limit.from == "defaults"
                           ? "from defaults, " + limit.file + ":" + std::to_string(limit.line)
                           : limit.file + ":" + std::to_string(limit.line);
  std::string relation = limit.bound_is_maximum ? " is above " : " is below ";
  return limit.name + " " + value + " (`" + limit.written + "`, " + origin + ")" + relation +
         std::to_string(limit.bound);
}

}  // namespace qharden
