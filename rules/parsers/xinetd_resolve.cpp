// From sections to services as xinetd sees them (parse.c identify_attribute):
// single-valued attributes take their first `=` and ignore `+=`/`-=`; the
// modifiable ones (log_on_*, env, ...) start from the defaults and take `=`,
// `+=` and `-=` in order; in `defaults` itself `=` adds, like `+=`.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "parsers/text_lines.h"
#include "parsers/xinetd.h"
#include "parsers/xinetd_limits.h"
#include "parsers/xinetd_log_type.h"
#include "parsers/xinetd_words.h"

namespace qharden {
namespace {

std::string upper_case(std::string_view text) {
  std::string upper(text);
  for (char& character : upper) {
    character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
  }
  return upper;
}

bool is_modifiable(std::string_view name) {
  return name == "log_on_success" || name == "log_on_failure" || name == "only_from" ||
         name == "no_access" || name == "passenv" || name == "env" || name == "disabled" ||
         name == "enabled";
}

// parse_log_flags: `=` clears first, then each word, without case, must be one
// of the attribute's names (nvlists.c); the first that is not ends the line
// there, as a parse error. Returns that word.
std::optional<std::string> apply_log_flags(std::set<std::string>& target, std::string_view name,
                                           XinetdOperator operation,
                                           const std::vector<std::string>& values) {
  static constexpr std::string_view kSuccess[] = {"HOST", "DURATION", "EXIT",
                                                  "PID",  "USERID",   "TRAFFIC"};
  static constexpr std::string_view kFailure[] = {"HOST", "ATTEMPT", "USERID"};
  if (operation == XinetdOperator::assign) target.clear();
  for (const std::string& value : values) {
    std::string word = upper_case(value);
    bool known =
        name == "log_on_success"
            ? std::find(std::begin(kSuccess), std::end(kSuccess), word) != std::end(kSuccess)
            : std::find(std::begin(kFailure), std::end(kFailure), word) != std::end(kFailure);
    if (!known) return value;
    if (operation == XinetdOperator::remove) {
      target.erase(word);
    } else {
      target.insert(word);
    }
  }
  return std::nullopt;
}

const char* operator_text(XinetdOperator operation) {
  switch (operation) {
    case XinetdOperator::add:
      return " += ";
    case XinetdOperator::remove:
      return " -= ";
    case XinetdOperator::assign:
      break;
  }
  return " = ";
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

struct DefaultsState {
  std::optional<std::set<std::string>> log_on_success;
  std::optional<std::set<std::string>> log_on_failure;
  // log_type is modifiable in defaults, so any operator sets it; a second one
  // stops xinetd ("Cannot set more than one log_type attribute").
  int log_type_lines = 0;
  bool logs = false;  // the first log_type was accepted
  // Upper-case ids. enabled_parser and disabled_parser add their words
  // whatever the operator; an `enabled` line, even an empty one, makes a list.
  std::optional<std::set<std::string>> enabled;
  std::set<std::string> disabled;
  std::set<std::string> fixed_set;  // single-valued attributes already set

  // groups, v6only, umask and max_load: a value their parser refuses stops
  // xinetd; a second line, another operator or another count is ignored.
  std::optional<std::string> fixed_value_problem(const XinetdAttribute& attribute) {
    const std::string& name = attribute.name;
    if (name != "groups" && name != "v6only" && name != "umask" && name != "max_load") {
      return std::nullopt;
    }
    if (fixed_set.count(name) != 0 || attribute.operation != XinetdOperator::assign ||
        attribute.values.size() != 1) {
      return std::nullopt;
    }
    const std::string& value = attribute.values.front();
    std::optional<std::string> problem;
    if (name == "groups" || name == "v6only") {
      if (!xinetd_equals(value, "yes") && !xinetd_equals(value, "no")) {
        problem = name + " = " + value + " is neither yes nor no";
      }
    } else if (name == "umask") {
      // parse_int(value, 8, -1): strtol, base 8, trailing white space allowed.
      errno = 0;
      char* end = nullptr;
      long mask = std::strtol(value.c_str(), &end, 8);
      while (*end != '\0' && std::isspace(static_cast<unsigned char>(*end))) ++end;
      if (errno != 0 || end == value.c_str() || *end != '\0' || mask < 0 || mask > 0777) {
        problem = "umask = " + value + " is not an octal mask from 0 to 0777";
      }
    } else {
      // sscanf("%lf"): a number first, anything after it; 0 is refused too.
      char* end = nullptr;
      double load = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || load == 0)
        problem = "max_load = " + value + " is no load above 0";
    }
    if (!problem) fixed_set.insert(name);
    return problem;
  }

  // What about this line stops xinetd, if anything (all in defaults does).
  std::optional<std::string> apply(const XinetdAttribute& attribute) {
    if (std::optional<std::string> problem = fixed_value_problem(attribute)) return problem;
    // In defaults, xinetd treats `=` on a modifiable attribute as `+=`.
    XinetdOperator operation =
        attribute.operation == XinetdOperator::assign ? XinetdOperator::add : attribute.operation;
    std::optional<std::set<std::string>>* target = nullptr;
    if (attribute.name == "log_on_success") target = &log_on_success;
    if (attribute.name == "log_on_failure") target = &log_on_failure;
    if (attribute.name == "log_type") {
      std::optional<std::string> problem = xinetd_log_type_problem(attribute.values);
      if (++log_type_lines == 1) logs = !problem;
      if (log_type_lines > 1) {
        return "a second log_type (\"Cannot set more than one log_type attribute\")";
      }
      if (problem) return "log_type = " + joined(attribute.values) + ": " + *problem;
      return std::nullopt;
    }
    if (target != nullptr) {
      if (!target->has_value()) target->emplace();
      if (std::optional<std::string> bad =
              apply_log_flags(**target, attribute.name, operation, attribute.values)) {
        return attribute.name + ": xinetd knows no " + attribute.name + " word " + *bad;
      }
      return std::nullopt;
    }
    std::set<std::string>* list = nullptr;
    if (attribute.name == "enabled") {
      if (!enabled) enabled.emplace();
      list = &*enabled;
    }
    if (attribute.name == "disabled") list = &disabled;
    if (list == nullptr) return std::nullopt;
    // remove_disabled_services compares ids with EQ, which ignores case.
    for (const std::string& id : attribute.values) list->insert(upper_case(id));
    return std::nullopt;
  }
};

// port_parser: parse_base10 into an int, refused outside 0-65535. Port 0 is
// a port like any: xinetd then drops a listed service ("Service submission
// expects port 587, not 0") and binds an UNLISTED one to a port the kernel
// picks (both seen on Debian 12's xinetd).
std::optional<int> parse_port(const std::string& text) {
  std::optional<int> port = xinetd_base10_int(text);
  if (!port || *port < 0 || *port > 65535) return std::nullopt;
  return port;
}

// Debian 12's xinetd 2.3.15.3, checked against the binary: `disable = yes`
// (or a bad value) keeps a service off even when defaults' `enabled` lists
// it, but that list turns back on a service that a parse error disabled
// ("Error parsing attribute ... - DISABLING SERVICE").
enum class DisableCause { disable_attribute, parse_error };

void disable(XinetdService& service, std::string reason,
             DisableCause cause = DisableCause::disable_attribute) {
  // Keep the first reason, the one to change, unless it is a parse error
  // that an `enabled` list would clear while this one would stay.
  if (!service.enabled &&
      !(service.disabled_by_parse_error && cause == DisableCause::disable_attribute)) {
    return;
  }
  service.enabled = false;
  service.disabled_reason = std::move(reason);
  service.disabled_by_parse_error = cause == DisableCause::parse_error;
}

// xinetd's service_flags (nvlists.c), compared without case as it does.
bool is_known_flag(std::string_view flag) {
  static constexpr std::string_view kFlags[] = {"REUSE",      "INTERCEPT", "NORETRY",   "IDONLY",
                                                "NAMEINARGS", "NODELAY",   "KEEPALIVE", "NOLIBWRAP",
                                                "SENSOR",     "IPV4",      "IPV6",      "LABELED"};
  std::string upper = upper_case(flag);
  return std::find(std::begin(kFlags), std::end(kFlags), upper) != std::end(kFlags);
}

// type_parser: each word, without case, one of service_types (nvlists.c);
// those before a bad word stay set, and the line is a parse error.
bool apply_types(XinetdService& service, const std::vector<std::string>& values) {
  static constexpr std::string_view kTypes[] = {"RPC",     "INTERNAL", "UNLISTED",
                                                "SPECIAL", "TCPMUX",   "TCPMUXPLUS"};
  if (values.empty()) {
    disable(service, "type has no value", DisableCause::parse_error);
    return false;
  }
  for (const std::string& value : values) {
    std::string word = upper_case(value);
    if (std::find(std::begin(kTypes), std::end(kTypes), word) == std::end(kTypes)) {
      disable(service, "type = " + joined(values) + ": xinetd knows no type " + value,
              DisableCause::parse_error);
      return false;
    }
    service.types.insert(word);
  }
  return true;
}

enum class RedirectAddress { literal, name, refused };

// redir_parser's getaddrinfo: AF_INET6 when the text holds ':', else AF_INET,
// which takes inet_aton's forms (127.1, 0x7f.0.0.1). Digits and dots that
// are no address (300.1.1.1) are no name in DNS either.
RedirectAddress read_redirect_address(const std::string& text) {
  if (text.find(':') != std::string::npos) {
    in6_addr address6{};
    return inet_pton(AF_INET6, text.c_str(), &address6) == 1 ? RedirectAddress::literal
                                                             : RedirectAddress::name;
  }
  in_addr address{};
  if (inet_aton(text.c_str(), &address) != 0) return RedirectAddress::literal;
  bool numeric = std::all_of(text.begin(), text.end(), [](char character) {
    return std::isdigit(static_cast<unsigned char>(character)) || character == '.';
  });
  return numeric ? RedirectAddress::refused : RedirectAddress::name;
}

// False when xinetd ignores the line, so that a later line may still set it.
bool apply_single_valued(XinetdService& service, const XinetdAttribute& attribute,
                         const XinetdLookups& lookups) {
  const std::string& name = attribute.name;
  const std::vector<std::string>& values = attribute.values;
  auto exists = [](const std::function<bool(const std::string&)>& lookup,
                   const std::string& value) { return !lookup || lookup(value); };
  if (name == "server_args") {
    if (values.empty()) {
      // "attribute server_args expects at least 1 value"
      disable(service, "server_args has no value", DisableCause::parse_error);
      return false;
    }
    service.server_args = values;
    service.server_args_locations = attribute.value_locations;
    service.server_args_end = attribute.content_end;
    return true;
  }
  if (name == "log_type") {
    std::optional<std::string> problem = xinetd_log_type_problem(values);
    if (!problem) {
      service.logs = true;
      return true;
    }
    // xinetd disables the service and, not having recorded the attribute,
    // still parses a later log_type line.
    disable(service, "log_type = " + joined(values) + ": " + *problem, DisableCause::parse_error);
    return false;
  }
  if (name == "flags") {
    if (values.empty()) {
      disable(service, "flags has no value", DisableCause::parse_error);
      return false;
    }
    for (const std::string& flag : values) {
      // xinetd 2.3.15 has no DISABLE flag, whatever its manual says: like any
      // unknown flag it is a parse error that disables the service, and the
      // flags after it are not read.
      if (!is_known_flag(flag)) {
        disable(service,
                xinetd_equals(flag, "DISABLE")
                    ? "flags = DISABLE"
                    : "flags = " + joined(values) + ": xinetd knows no flag " + flag,
                DisableCause::parse_error);
        return false;
      }
      if (xinetd_equals(flag, "NAMEINARGS")) {
        // server_args_parser kept argv[0] for the server's name, which
        // fix_server_argv then leaves unset under NAMEINARGS.
        if (service.server_args_end) service.name_in_args_after_server_args = true;
        service.name_in_args = true;
      }
      service.flags.insert(upper_case(flag));
    }
    return true;
  }
  if (name == "type") return apply_types(service, values);
  if (name == "redirect") {
    if (values.size() != 2) return false;  // ignored, with a warning
    // redir_parser: a port above 0 and below 65536, or a tcp service name.
    std::optional<int> port = xinetd_base10_int(values[1]);
    bool port_valid =
        port && *port > 0 ? *port < 65536 : exists(lookups.tcp_service_exists, values[1]);
    RedirectAddress address = read_redirect_address(values[0]);
    if (!port_valid || address == RedirectAddress::refused) {
      disable(service,
              "redirect = " + joined(values) + ": xinetd finds no " +
                  (port_valid ? "address " + values[0] : "port " + values[1]),
              DisableCause::parse_error);
      return false;
    }
    // A name may fail to resolve when xinetd starts, a parse error that a
    // later disable = no undoes: its server is judged, not taken as unused.
    (address == RedirectAddress::literal ? service.redirected : service.redirect_to_a_name) = true;
    return true;
  }
  if (std::optional<std::size_t> count = xinetd_limit_value_count(name)) {
    if (values.size() != *count) return false;  // ignored, with a warning
    std::string problem = xinetd_limit_value_problem(name, values);
    if (problem.empty()) return true;
    // "Error parsing attribute instances - DISABLING SERVICE", undone like
    // any parse error; the attribute stays unset, so a later line may set it.
    disable(service, problem + " (line " + std::to_string(attribute.line) + ")",
            DisableCause::parse_error);
    return false;
  }
  // The rest take exactly one value; xinetd ignores the line otherwise.
  if (values.size() != 1) return false;
  const std::string& value = values.front();
  if (name == "server") {
    service.server = value;
    service.server_location = attribute.value_locations.front();
  } else if (name == "id") {
    service.id = value;
  } else if (name == "port") {
    std::optional<int> port = parse_port(value);
    if (!port) {
      // Unset, as for any refused attribute: a later port line may set it.
      disable(service, "port = " + value + " is not a port number", DisableCause::parse_error);
      return false;
    }
    service.port = port;
  } else if (name == "socket_type") {
    static constexpr std::string_view kSocketTypes[] = {"stream", "dgram", "raw", "seqpacket"};
    auto known = std::find_if(std::begin(kSocketTypes), std::end(kSocketTypes),
                              [&](std::string_view type) { return xinetd_equals(value, type); });
    if (known == std::end(kSocketTypes)) {
      disable(service, "socket_type = " + value + ": xinetd knows no such socket type",
              DisableCause::parse_error);
      return false;
    }
    service.socket_type = std::string(*known);
  } else if (name == "protocol") {
    if (!exists(lookups.protocol_exists, value)) {
      disable(service, "protocol = " + value + ": not in /etc/protocols",
              DisableCause::parse_error);
      return false;
    }
    service.protocol = value;
  } else if (name == "wait") {
    if (!xinetd_equals(value, "yes") && !xinetd_equals(value, "no")) {
      disable(service, "wait = " + value + " is neither yes nor no", DisableCause::parse_error);
      return false;
    }
    service.wait = xinetd_equals(value, "yes");
  } else if (name == "user") {
    // user_parser takes digits as a uid without a lookup.
    bool digits = std::all_of(value.begin(), value.end(), [](char character) {
      return std::isdigit(static_cast<unsigned char>(character));
    });
    if (!digits && !exists(lookups.user_exists, value)) {
      disable(service, "user = " + value + ": no such user", DisableCause::parse_error);
      return false;
    }
    service.user_set = true;
  } else if (name == "disable") {
    if (xinetd_equals(value, "yes")) {
      disable(service, "disable = " + value);
    } else if (!xinetd_equals(value, "no")) {
      disable(service, "disable = " + value + " is neither yes nor no");
    } else if (service.disabled_by_parse_error) {
      // svcdisable_parser's SC_ENABLE clears what an earlier parse error set.
      service.enabled = true;
      service.disabled_reason.clear();
      service.disabled_by_parse_error = false;
    }
  }
  return true;
}

void apply_environment(XinetdService& service, const XinetdAttribute& attribute) {
  if (attribute.operation == XinetdOperator::assign) service.environment.clear();
  for (const std::string& word : attribute.values) {
    std::size_t equals = word.find('=');
    if (equals == std::string::npos) continue;
    std::string variable = word.substr(0, equals);
    if (attribute.operation == XinetdOperator::remove) {
      service.environment.erase(variable);
    } else {
      service.environment[variable] = word.substr(equals + 1);
    }
  }
}

// log_on_* starts from the defaults read before the service
// (get_service_entry's fill_attribute); when none of the service's own lines
// for it parsed, the defaults as they are once every file is read replace it
// (service_fill), and log_type likewise.
XinetdService resolve_service(const XinetdSection& section, const DefaultsState& so_far,
                              const DefaultsState& every, const XinetdLookups& lookups) {
  XinetdService service;
  service.file = section.file;
  service.line = section.line;
  service.name = section.name;
  service.closing_offset = section.closing_offset;
  service.log_on_success = so_far.log_on_success.value_or(std::set<std::string>{});
  service.log_on_failure = so_far.log_on_failure.value_or(std::set<std::string>{});
  std::set<std::string> specified;
  bool success_set = false;  // by a line of the service's own that parsed
  bool failure_set = false;
  for (const XinetdAttribute& attribute : section.attributes) {
    service.attribute_indentation = attribute.indentation;
    const std::string& name = attribute.name;
    if (name == "log_on_success" || name == "log_on_failure") {
      bool success = name == "log_on_success";
      std::optional<std::string> bad =
          apply_log_flags(success ? service.log_on_success : service.log_on_failure, name,
                          attribute.operation, attribute.values);
      if (!bad) {
        (success ? success_set : failure_set) = true;
      } else {
        disable(service,
                name + operator_text(attribute.operation) + joined(attribute.values) +
                    ": xinetd knows no " + name + " word " + *bad,
                DisableCause::parse_error);
      }
    } else if (name == "env") {
      apply_environment(service, attribute);
    } else if (!is_modifiable(name) && attribute.operation == XinetdOperator::assign &&
               specified.count(name) == 0 && apply_single_valued(service, attribute, lookups)) {
      specified.insert(name);
    }
    // parse_entry: after any line named disable, even one it ignored, a
    // service that is off is dropped there, and no enabled list revives it.
    // The rest is still read, for the finding that says so.
    if (name == "disable" && service.disabled_by_parse_error) {
      service.disabled_reason += "; a disable line after it drops the service for good";
      service.disabled_by_parse_error = false;
    }
  }
  if (service.id.empty()) service.id = service.name;
  if (!success_set && every.log_on_success) service.log_on_success = *every.log_on_success;
  if (!failure_set && every.log_on_failure) service.log_on_failure = *every.log_on_failure;
  if (specified.count("log_type") == 0) service.logs = every.logs;
  // Without a log, xinetd does no USERID lookup at all (SVC_LOGS_USERID_ON_*).
  if (!service.logs) return service;
  if (service.log_on_success.count("USERID") != 0) {
    service.ident_attributes.push_back("log_on_success");
  }
  if (service.log_on_failure.count("USERID") != 0) {
    service.ident_attributes.push_back("log_on_failure");
  }
  return service;
}

}  // namespace

struct XinetdServiceResolver::State {
  DefaultsState every_defaults;   // all of them: enabled and disabled
  DefaultsState defaults_so_far;  // those read before the current section: log settings
  XinetdLookups lookups;
};

XinetdServiceResolver::XinetdServiceResolver(const std::vector<XinetdSection>& sections,
                                             XinetdLookups lookups)
    : state_(std::make_unique<State>()) {
  state_->lookups = std::move(lookups);
  for (const XinetdSection& section : sections) {
    if (section.kind != XinetdSectionKind::defaults) continue;
    for (const XinetdAttribute& attribute : section.attributes) {
      // xinetd stops at any of these while it reads `defaults`: "xinetd will exit".
      if (std::optional<std::string> problem = state_->every_defaults.apply(attribute)) {
        problems_.push_back(
            {section.file, attribute.line, "defaults: " + *problem + "; xinetd exits at start"});
      }
    }
  }
}

XinetdServiceResolver::~XinetdServiceResolver() = default;

std::optional<XinetdService> XinetdServiceResolver::resolve(const XinetdSection& section) {
  if (section.kind == XinetdSectionKind::defaults) {
    for (const XinetdAttribute& attribute : section.attributes) {
      state_->defaults_so_far.apply(attribute);
    }
    return std::nullopt;
  }
  const DefaultsState& every = state_->every_defaults;
  XinetdService service = resolve_service(section, state_->defaults_so_far, every, state_->lookups);
  std::string id = upper_case(service.id);
  if (every.disabled.count(id) != 0) {
    disable(service, "listed in `disabled` of defaults");
  } else if (every.enabled && every.enabled->count(id) == 0) {
    disable(service, "not listed in `enabled` of defaults");
  } else if (every.enabled && service.disabled_by_parse_error) {
    service.enabled = true;
    service.disabled_reason.clear();
    service.disabled_by_parse_error = false;
  }
  return service;
}

bool xinetd_attribute_is_resolved(std::string_view name) {
  // resolve_service and DefaultsState; resolve_xinetd_limits; the inventory's passenv.
  static constexpr std::string_view kResolved[] = {
      "log_on_success", "log_on_failure", "log_type",    "env",      "passenv",
      "server_args",    "flags",          "server",      "id",       "port",
      "disable",        "enabled",        "disabled",    "cps",      "instances",
      "per_source",     "type",           "socket_type", "protocol", "wait",
      "groups",         "v6only",         "umask",       "max_load", "user",
      "redirect"};
  return std::find(std::begin(kResolved), std::end(kResolved), name) != std::end(kResolved);
}

std::vector<XinetdService> resolve_xinetd_services(const std::vector<XinetdSection>& sections,
                                                   const XinetdLookups& lookups) {
  XinetdServiceResolver resolver(sections, lookups);
  std::vector<XinetdService> services;
  services.reserve(sections.size());  // not doubled: a file can hold 100,000 services
  for (const XinetdSection& section : sections) {
    if (std::optional<XinetdService> service = resolver.resolve(section)) {
      services.push_back(std::move(*service));
    }
  }
  return services;
}

XinetdCommandLine xinetd_command_line(const XinetdService& service) {
  XinetdCommandLine command;
  if (service.server.empty()) return command;  // an internal service
  // service_fill runs /bin/true instead: xinetd forwards the connection itself.
  if (service.redirected) return command;
  // A built-in answers (check_entry turns SENSOR into INTERNAL).
  if (service.types.count("INTERNAL") != 0 || service.flags.count("SENSOR") != 0) return command;
  std::size_t first_argument = 0;
  if (service.name_in_args && path_basename(service.server) == "tcpd" &&
      !service.server_args.empty()) {
    // tcpd executes its own argv[0], so the real program is server_args[0].
  } else {
    command.argv.push_back(service.server);
    command.locations.push_back(std::nullopt);
    if (service.name_in_args) first_argument = 1;
  }
  for (std::size_t index = first_argument; index < service.server_args.size(); ++index) {
    command.argv.push_back(service.server_args[index]);
    command.locations.push_back(service.server_args_locations[index]);
  }
  return command;
}

}  // namespace qharden
