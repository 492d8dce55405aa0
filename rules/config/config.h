#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/expected.h"

namespace qharden {

class Host;

struct Config {
  struct Paths {
    std::string xinetd_conf;
    std::string inetd_conf;
    std::string resolv_conf;
    std::vector<std::string> run_scripts;
    // systemd's unit search path, highest precedence first (systemd.unit(5)).
    std::vector<std::string> systemd_unit_dirs;
    std::string xinetd_pidfile;
    std::string inetd_pidfile;
    std::string state_dir;
    std::string prometheus_textfile_dir;
    std::string qmail_control;  // qmail's control folder (conf-qmail + /control)
    std::int64_t lock_wait_s = 0;
    std::int64_t journal_keep_changes = 0;  // 0 keeps every change
  } paths;
  struct ResolvNameservers {
    std::int64_t timeout_ms = 0;
    std::int64_t tries = 0;
    std::int64_t max_latency_ms = 0;
    std::string forward_probe;
    std::string reverse_probe;
    std::string fix_options;
  } resolv_nameservers;
  struct TcpEnvFlags {
    std::string options;
  } tcp_env_flags;
  struct RblsmtpdSources {
    std::int64_t timeout_ms = 0;
    std::int64_t tries = 0;
    std::int64_t max_latency_ms = 0;
    std::vector<std::string> public_resolvers;  // IPv4: djbdns' DNSCACHEIP and resolv.conf
  } rblsmtpd_sources;
  struct SysctlTcpFinTimeout {
    std::int64_t max = 0;
  } sysctl_tcp_fin_timeout;
  struct SysctlTcpKeepalive {
    std::int64_t time_max = 0;
    std::int64_t intvl_max = 0;
    std::int64_t probes_max = 0;
  } sysctl_tcp_keepalive;
  struct SocketsStuck {
    std::int64_t close_wait_max = 0;
    std::int64_t fin_wait_1_max = 0;
    std::int64_t fin_wait_2_max = 0;
    std::int64_t closing_max = 0;
    std::int64_t last_ack_max = 0;
    std::int64_t time_wait_max = 0;
  } sockets_stuck;
  struct SmtpGreeting {
    std::vector<std::int64_t> ports;
    std::int64_t max_ms = 0;
    std::int64_t give_up_ms = 0;
  } smtp_greeting;
  struct SmtpOpenRelay {
    std::vector<std::int64_t> ports;  // listeners probed live
    std::int64_t give_up_ms = 0;
    std::string rcpt_to;                      // an outside recipient the probe asks for
    std::int64_t public_prefix_max_bits = 0;  // a public grant wider than this is a warning
  } smtp_open_relay;
  struct ListenerBurstLimits {
    std::vector<std::int64_t> ports;  // listeners judged (and any that runs qmail-smtpd)
    std::int64_t xinetd_cps_min = 0;
    std::int64_t xinetd_cps_wait_max = 0;
    std::int64_t xinetd_instances_min = 0;
    std::int64_t xinetd_per_source_min = 0;
    std::int64_t inetd_per_minute_min = 0;
    std::int64_t tcpserver_concurrency_min = 0;
    std::int64_t systemd_max_connections_min = 0;  // Accept=yes sockets
    std::int64_t systemd_trigger_limit_burst_min = 0;
  } listener_burst_limits;
  struct SmtpIdentity {
    std::vector<std::string> addresses;    // empty: discovered through route_probe
    std::vector<std::string> route_probe;  // public addresses whose route names the source
    std::int64_t timeout_ms = 0;
    std::int64_t tries = 0;
  } smtp_identity;
  struct DnsblSelf {
    std::vector<std::string> zones;      // empty: the default zones of dnsbl-zones.toml
    std::vector<std::string> addresses;  // empty: the sending addresses (smtp.identity's)
    std::vector<std::string> resolvers;  // empty: resolv.conf's first three nameservers
    std::int64_t timeout_ms = 0;
    std::int64_t tries = 0;
  } dnsbl_self;
  struct Agent {
    std::int64_t audit_interval_s = 0;
    bool watch = true;
    std::vector<std::string> reapply;
    std::int64_t reapply_limit = 0;
    std::int64_t reapply_window_s = 0;
    std::int64_t netfilter_check_s = 0;
  } agent;

  // Where the values came from, for messages: "built-in defaults" or a file.
  std::string source = "built-in defaults";
};

// The compiled-in config/qharden.toml, and its data files.
std::string_view builtin_config_text();
std::string_view builtin_defunct_zones_text();
std::string_view builtin_dnsbl_zones_text();  // config/dnsbl-zones.toml

// Parses override_text (named override_name in messages) over the built-in
// defaults, key by key. An unknown key, a wrong type or a bad value is an error
// naming override_name:line:column.
Expected<Config> load_config_from_text(std::string_view override_text,
                                       const std::string& override_name);
Expected<Config> load_builtin_config();

// --config FILE when given (a real path), else /etc/qharden/qharden.toml read
// through the host (so under --root it is DIR/etc/qharden/qharden.toml), else
// the built-in defaults.
Expected<Config> load_config(const std::optional<std::string>& explicit_file, const Host& host);

}  // namespace qharden
