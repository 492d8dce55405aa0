#include "config/config_values.h"

#include <arpa/inet.h>

#include <initializer_list>
#include <optional>

#include "engine/registry.h"
#include "parsers/getopt.h"

namespace qharden {
namespace {

class ValueReader {
 public:
  ValueReader(const toml::table& defaults, const toml::table& overrides, std::string file_name)
      : defaults_(defaults), overrides_(overrides), file_name_(std::move(file_name)) {}

  std::int64_t integer(std::initializer_list<std::string_view> path, std::int64_t minimum,
                       std::int64_t maximum) {
    const toml::node* node = find(path);
    if (node == nullptr) return 0;
    std::int64_t value = node->value<std::int64_t>().value_or(0);
    if (value < minimum || value > maximum) {
      report(path, *node,
             "must be between " + std::to_string(minimum) + " and " + std::to_string(maximum) +
                 ", not " + std::to_string(value));
    }
    return value;
  }

  bool boolean(std::initializer_list<std::string_view> path) {
    const toml::node* node = find(path);
    return node != nullptr && node->value<bool>().value_or(false);
  }

  std::string string(std::initializer_list<std::string_view> path) {
    const toml::node* node = find(path);
    if (node == nullptr) return {};
    return node->value<std::string>().value_or("");
  }

  // "/etc/systemd/system/" and "/etc//systemd" name the folder every other
  // part of qharden (and systemd's DropInPaths) spells "/etc/systemd/system":
  // paths are compared as strings, so they are written one way.
  static std::string tidy(std::string value) {
    std::string tidied;
    for (char character : value) {
      if (character == '/' && !tidied.empty() && tidied.back() == '/') continue;
      tidied.push_back(character);
    }
    while (tidied.size() > 1 && tidied.back() == '/') tidied.pop_back();
    return tidied;
  }

  std::string absolute_path(std::initializer_list<std::string_view> path, bool may_be_empty) {
    const toml::node* node = find(path);
    std::string value = string(path);
    if (value.empty() && may_be_empty) return value;
    if (value.empty() || value.front() != '/') {
      report(path, *node, "must be an absolute path, not '" + value + "'");
    }
    return tidy(value);
  }

  std::vector<std::string> absolute_paths(std::initializer_list<std::string_view> path) {
    std::vector<std::string> values;
    const toml::node* node = find(path);
    if (node == nullptr) return values;
    for (const toml::node& element : *node->as_array()) {
      std::string value = element.value<std::string>().value_or("");
      if (value.empty() || value.front() != '/') {
        report(path, element, "must hold absolute paths, not '" + value + "'");
      }
      values.push_back(tidy(value));
    }
    return values;
  }

  // A list of IP addresses (IPv4 or IPv6, no port), or of DNS names when
  // want_names; each element is checked.
  std::vector<std::string> address_list(std::initializer_list<std::string_view> path,
                                        bool want_names) {
    std::vector<std::string> values;
    const toml::node* node = find(path);
    if (node == nullptr) return values;
    for (const toml::node& element : *node->as_array()) {
      std::string value = element.value<std::string>().value_or("");
      unsigned char buffer[16];
      bool address = ::inet_pton(AF_INET, value.c_str(), buffer) == 1 ||
                     ::inet_pton(AF_INET6, value.c_str(), buffer) == 1;
      constexpr std::string_view kNameCharacters =
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
      bool name = !value.empty() && value.size() <= 237 && value.front() != '.' &&
                  value.find_first_not_of(kNameCharacters) == std::string::npos &&
                  value.find("..") == std::string::npos;
      if (want_names ? !name : !address) {
        report(path, element,
               std::string(want_names ? "must hold DNS zone names" : "must hold IP addresses") +
                   ", not '" + value + "'");
      }
      values.push_back(value);
    }
    return values;
  }

  std::vector<std::int64_t> ports(std::initializer_list<std::string_view> path) {
    std::vector<std::int64_t> values;
    const toml::node* node = find(path);
    if (node == nullptr) return values;
    for (const toml::node& element : *node->as_array()) {
      std::int64_t value = element.value<std::int64_t>().value_or(0);
      if (value < 1 || value > 65535) {
        report(path, element, "must hold TCP ports (1-65535), not " + std::to_string(value));
      }
      values.push_back(value);
    }
    return values;
  }

  std::vector<std::string> rule_ids(std::initializer_list<std::string_view> path) {
    std::vector<std::string> values;
    const toml::node* node = find(path);
    if (node == nullptr) return values;
    for (const toml::node& element : *node->as_array()) {
      std::string value = element.value<std::string>().value_or("");
      if (!is_known_rule_id(value)) report(path, element, "unknown rule id '" + value + "'");
      values.push_back(value);
    }
    return values;
  }

  // Reports a bad value that was checked by the caller.
  void reject(std::initializer_list<std::string_view> path, const std::string& message) {
    if (const toml::node* node = find(path)) report(path, *node, message);
  }

  std::optional<Error> first_error() const { return first_error_; }

 private:
  static const toml::node* descend(const toml::table& table,
                                   std::initializer_list<std::string_view> path) {
    const toml::table* current = &table;
    const toml::node* node = nullptr;
    for (std::string_view key : path) {
      if (current == nullptr) return nullptr;
      node = current->get(key);
      if (node == nullptr) return nullptr;
      current = node->as_table();
    }
    return node;
  }

  const toml::node* find(std::initializer_list<std::string_view> path) {
    if (const toml::node* node = descend(overrides_, path)) {
      from_overrides_ = true;
      return node;
    }
    from_overrides_ = false;
    return descend(defaults_, path);
  }

  void report(std::initializer_list<std::string_view> path, const toml::node& node,
              const std::string& message) {
    if (first_error_) return;
    std::string dotted;
    for (std::string_view key : path) {
      if (!dotted.empty()) dotted += '.';
      bool needs_quotes = key.find('.') != std::string_view::npos;
      dotted += needs_quotes ? "\"" + std::string(key) + "\"" : std::string(key);
    }
    std::string where = from_overrides_ ? file_name_ : std::string("built-in defaults");
    const toml::source_region& region = node.source();
    first_error_ = Error{where + ":" + std::to_string(region.begin.line) + ":" +
                         std::to_string(region.begin.column) + ": " + dotted + " " + message};
  }

  const toml::table& defaults_;
  const toml::table& overrides_;
  std::string file_name_;
  bool from_overrides_ = false;
  std::optional<Error> first_error_;
};

constexpr std::int64_t kDay = 86400;

bool is_resolver_options(const std::string& text) {
  // glibc reads "timeout:N" (1..30) and "attempts:N" (1..5); anything else here
  // would be written into resolv.conf verbatim, so keep it to those two.
  std::size_t position = 0;
  bool any = false;
  while (position < text.size()) {
    std::size_t end = text.find(' ', position);
    if (end == std::string::npos) end = text.size();
    std::string token = text.substr(position, end - position);
    position = end + 1;
    if (token.empty()) continue;
    std::size_t colon = token.find(':');
    if (colon == std::string::npos) return false;
    std::string name = token.substr(0, colon);
    std::string number = token.substr(colon + 1);
    if (number.empty() || number.size() > 2 ||
        number.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    int value = std::stoi(number);
    if (name == "timeout" && (value < 1 || value > 30)) return false;
    if (name == "attempts" && (value < 1 || value > 5)) return false;
    if (name != "timeout" && name != "attempts") return false;
    any = true;
  }
  return any;
}

}  // namespace

Expected<Config> read_config_values(const toml::table& defaults, const toml::table& overrides,
                                    const std::string& override_name) {
  ValueReader reader(defaults, overrides, override_name);
  Config config;
  config.source = overrides.empty() ? "built-in defaults" : override_name;

  Config::Paths& paths = config.paths;
  paths.xinetd_conf = reader.absolute_path({"paths", "xinetd_conf"}, false);
  paths.inetd_conf = reader.absolute_path({"paths", "inetd_conf"}, false);
  paths.resolv_conf = reader.absolute_path({"paths", "resolv_conf"}, false);
  paths.run_scripts = reader.absolute_paths({"paths", "run_scripts"});
  paths.systemd_unit_dirs = reader.absolute_paths({"paths", "systemd_unit_dirs"});
  paths.xinetd_pidfile = reader.absolute_path({"paths", "xinetd_pidfile"}, false);
  paths.inetd_pidfile = reader.absolute_path({"paths", "inetd_pidfile"}, false);
  paths.state_dir = reader.absolute_path({"paths", "state_dir"}, false);
  paths.prometheus_textfile_dir = reader.absolute_path({"paths", "prometheus_textfile_dir"}, true);
  paths.lock_wait_s = reader.integer({"paths", "lock_wait_s"}, 0, 3600);
  paths.journal_keep_changes = reader.integer({"paths", "journal_keep_changes"}, 0, 1000000);
  paths.qmail_control = reader.absolute_path({"paths", "qmail_control"}, false);

  auto& resolv = config.resolv_nameservers;
  resolv.timeout_ms = reader.integer({"rules", "resolv.nameservers", "timeout_ms"}, 1, 60000);
  resolv.tries = reader.integer({"rules", "resolv.nameservers", "tries"}, 1, 10);
  resolv.max_latency_ms =
      reader.integer({"rules", "resolv.nameservers", "max_latency_ms"}, 1, 60000);
  resolv.forward_probe = reader.string({"rules", "resolv.nameservers", "forward_probe"});
  if (resolv.forward_probe.empty() || resolv.forward_probe.size() > 253) {
    reader.reject({"rules", "resolv.nameservers", "forward_probe"}, "must be a DNS name");
  }
  resolv.reverse_probe = reader.string({"rules", "resolv.nameservers", "reverse_probe"});
  if (resolv.reverse_probe.empty() ||
      resolv.reverse_probe.find_first_not_of("0123456789abcdefABCDEF.:") != std::string::npos) {
    reader.reject({"rules", "resolv.nameservers", "reverse_probe"}, "must be an IP address");
  }
  resolv.fix_options = reader.string({"rules", "resolv.nameservers", "fix_options"});
  if (!is_resolver_options(resolv.fix_options)) {
    reader.reject({"rules", "resolv.nameservers", "fix_options"},
                  "must be resolv.conf options such as \"timeout:1 attempts:2\" (timeout 1-30, "
                  "attempts 1-5)");
  }

  config.tcp_env_flags.options = reader.string({"rules", "tcp-env.flags", "options"});
  if (!tcp_env_options_disable_ident(config.tcp_env_flags.options)) {
    reader.reject({"rules", "tcp-env.flags", "options"},
                  "must be tcp-env options that turn ident off, such as \"-Rt0\", not '" +
                      config.tcp_env_flags.options + "'");
  }

  auto& rbl = config.rblsmtpd_sources;
  rbl.timeout_ms = reader.integer({"rules", "rblsmtpd.sources", "timeout_ms"}, 1, 60000);
  rbl.tries = reader.integer({"rules", "rblsmtpd.sources", "tries"}, 1, 10);
  rbl.max_latency_ms = reader.integer({"rules", "rblsmtpd.sources", "max_latency_ms"}, 1, 60000);
  rbl.public_resolvers =
      reader.address_list({"rules", "rblsmtpd.sources", "public_resolvers"}, false);

  config.sysctl_tcp_fin_timeout.max =
      reader.integer({"rules", "sysctl.tcp-fin-timeout", "max"}, 1, 600);
  auto& keepalive = config.sysctl_tcp_keepalive;
  keepalive.time_max = reader.integer({"rules", "sysctl.tcp-keepalive", "time_max"}, 1, 32767);
  keepalive.intvl_max = reader.integer({"rules", "sysctl.tcp-keepalive", "intvl_max"}, 1, 32767);
  keepalive.probes_max = reader.integer({"rules", "sysctl.tcp-keepalive", "probes_max"}, 1, 127);

  auto& sockets = config.sockets_stuck;
  constexpr std::int64_t kManySockets = 100'000'000;
  sockets.close_wait_max =
      reader.integer({"rules", "sockets.stuck", "close_wait_max"}, 0, kManySockets);
  sockets.fin_wait_1_max =
      reader.integer({"rules", "sockets.stuck", "fin_wait_1_max"}, 0, kManySockets);
  sockets.fin_wait_2_max =
      reader.integer({"rules", "sockets.stuck", "fin_wait_2_max"}, 0, kManySockets);
  sockets.closing_max = reader.integer({"rules", "sockets.stuck", "closing_max"}, 0, kManySockets);
  sockets.last_ack_max =
      reader.integer({"rules", "sockets.stuck", "last_ack_max"}, 0, kManySockets);
  sockets.time_wait_max =
      reader.integer({"rules", "sockets.stuck", "time_wait_max"}, 0, kManySockets);

  auto& greeting = config.smtp_greeting;
  greeting.ports = reader.ports({"rules", "smtp.greeting", "ports"});
  greeting.max_ms = reader.integer({"rules", "smtp.greeting", "max_ms"}, 1, 600000);
  greeting.give_up_ms = reader.integer({"rules", "smtp.greeting", "give_up_ms"}, 1, 600000);

  auto& relay = config.smtp_open_relay;
  relay.ports = reader.ports({"rules", "smtp.open-relay", "ports"});
  relay.give_up_ms = reader.integer({"rules", "smtp.open-relay", "give_up_ms"}, 1, 600000);
  relay.rcpt_to = reader.string({"rules", "smtp.open-relay", "rcpt_to"});
  std::size_t at = relay.rcpt_to.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == relay.rcpt_to.size() ||
      relay.rcpt_to.size() > 254 || relay.rcpt_to.find_first_of("<> \t\r\n") != std::string::npos) {
    reader.reject({"rules", "smtp.open-relay", "rcpt_to"},
                  "must be an address user@domain outside this host's domains");
  }
  relay.public_prefix_max_bits =
      reader.integer({"rules", "smtp.open-relay", "public_prefix_max_bits"}, 0, 32);

  auto& burst = config.listener_burst_limits;
  constexpr std::int64_t kManyConnections = 1'000'000'000;
  burst.ports = reader.ports({"rules", "listener.burst-limits", "ports"});
  burst.xinetd_cps_min =
      reader.integer({"rules", "listener.burst-limits", "xinetd_cps_min"}, 1, kManyConnections);
  burst.xinetd_cps_wait_max =
      reader.integer({"rules", "listener.burst-limits", "xinetd_cps_wait_max"}, 0, 86400);
  burst.xinetd_instances_min = reader.integer(
      {"rules", "listener.burst-limits", "xinetd_instances_min"}, 1, kManyConnections);
  burst.xinetd_per_source_min = reader.integer(
      {"rules", "listener.burst-limits", "xinetd_per_source_min"}, 1, kManyConnections);
  burst.inetd_per_minute_min = reader.integer(
      {"rules", "listener.burst-limits", "inetd_per_minute_min"}, 1, kManyConnections);
  burst.tcpserver_concurrency_min = reader.integer(
      {"rules", "listener.burst-limits", "tcpserver_concurrency_min"}, 1, kManyConnections);
  burst.systemd_max_connections_min = reader.integer(
      {"rules", "listener.burst-limits", "systemd_max_connections_min"}, 1, kManyConnections);
  burst.systemd_trigger_limit_burst_min = reader.integer(
      {"rules", "listener.burst-limits", "systemd_trigger_limit_burst_min"}, 1, kManyConnections);

  auto& identity = config.smtp_identity;
  identity.addresses = reader.address_list({"rules", "smtp.identity", "addresses"}, false);
  identity.route_probe = reader.address_list({"rules", "smtp.identity", "route_probe"}, false);
  identity.timeout_ms = reader.integer({"rules", "smtp.identity", "timeout_ms"}, 1, 60000);
  identity.tries = reader.integer({"rules", "smtp.identity", "tries"}, 1, 10);
  auto& dnsbl = config.dnsbl_self;
  dnsbl.zones = reader.address_list({"rules", "dnsbl.self", "zones"}, true);
  dnsbl.addresses = reader.address_list({"rules", "dnsbl.self", "addresses"}, false);
  dnsbl.resolvers = reader.address_list({"rules", "dnsbl.self", "resolvers"}, false);
  dnsbl.timeout_ms = reader.integer({"rules", "dnsbl.self", "timeout_ms"}, 1, 60000);
  dnsbl.tries = reader.integer({"rules", "dnsbl.self", "tries"}, 1, 10);

  auto& agent = config.agent;
  agent.audit_interval_s = reader.integer({"agent", "audit_interval_s"}, 60, 7 * kDay);
  agent.watch = reader.boolean({"agent", "watch"});
  agent.reapply = reader.rule_ids({"agent", "reapply"});
  agent.reapply_limit = reader.integer({"agent", "reapply_limit"}, 0, 1000000);
  agent.reapply_window_s = reader.integer({"agent", "reapply_window_s"}, 1, 7 * kDay);
  agent.netfilter_check_s = reader.integer({"agent", "netfilter_check_s"}, 0, kDay);

  if (std::optional<Error> error = reader.first_error()) return Unexpected(*error);
  return config;
}

bool is_known_rule_id(std::string_view id) {
  for (std::string_view known : all_rule_ids()) {
    if (known == id) return true;
  }
  return false;
}

}  // namespace qharden
