// sysctl.tcp-keepalive: how soon the kernel notices an SMTP client that vanished.
#include <memory>

#include "sysctl/sysctl_rule.h"

namespace qharden {
namespace {

std::string keepalive_time_consequence(std::int64_t value) {
  return "the kernel starts probing an idle connection only after " + std::to_string(value) +
         " s, so a client that vanished keeps its qmail-smtpd process and socket that long; "
         "600-900 s is enough";
}

std::string keepalive_interval_consequence(std::int64_t value) {
  return "each unanswered keepalive probe waits " + std::to_string(value) +
         " s before the next, which stretches the time a dead client holds its socket";
}

std::string keepalive_probes_consequence(std::int64_t value) {
  return std::to_string(value) +
         " unanswered probes are sent before a dead connection is dropped, which stretches the "
         "time a dead client holds its socket";
}

std::vector<SysctlKeyPolicy> keepalive_policies(const Config& config) {
  const Config::SysctlTcpKeepalive& limits = config.sysctl_tcp_keepalive;
  return {{"net.ipv4.tcp_keepalive_time", 7200, limits.time_max, keepalive_time_consequence},
          {"net.ipv4.tcp_keepalive_intvl", 75, limits.intvl_max, keepalive_interval_consequence},
          {"net.ipv4.tcp_keepalive_probes", 9, limits.probes_max, keepalive_probes_consequence}};
}

}  // namespace

std::unique_ptr<Rule> make_sysctl_tcp_keepalive_rule() {
  SysctlRuleSpec spec;
  spec.info.id = "sysctl.tcp-keepalive";
  spec.info.severity = Severity::info;
  spec.info.summary =
      "net.ipv4.tcp_keepalive_time/_intvl/_probes, now and at boot, are within "
      "time_max/intvl_max/probes_max";
  spec.info.explanation =
      "With the kernel defaults (7200 s idle, then 9 probes 75 s apart) a connection whose "
      "client vanished without a FIN or RST holds its socket and its qmail-smtpd process for over "
      "two hours; 600-900 s idle is enough on a mail host. Keepalive only applies to sockets "
      "that ask for it (SO_KEEPALIVE), so this is advice (info), not a warning.\n\n"
      "Each of the three keys has two findings: the running value (/proc/sys/net/ipv4/<key>, "
      "from DIR/proc/sys under --root when that folder exists; skipped under --offline "
      "otherwise) and the boot-time value, from the file that wins by the host's sysctl "
      "precedence (systemd-sysctl when /run/systemd/system exists or, under --root, /sbin/init "
      "links to systemd, else procps `sysctl --system`, which reads /etc/sysctl.conf last; see "
      "`qharden "
      "explain sysctl.tcp-fin-timeout`). With no file setting a key the kernel default is what "
      "boot leaves.\n\n"
      "Fix: write the maxima to the running kernel and create or update "
      "/etc/sysctl.d/90-qharden-tcp-keepalive.conf, owned by qharden and named to sort after "
      "every file that sets these keys (99-zz-... or zz-... when needed; the plan names the "
      "files it outranks). A key that procps reads from /etc/sysctl.conf cannot be outranked: "
      "the plan is an error saying so, and qharden does not edit that file.";
  spec.info.touches =
      "reads /proc/sys/net/ipv4/tcp_keepalive_{time,intvl,probes} (or DIR/proc/sys), "
      "/etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d, /lib/sysctl.d "
      "(*.conf), /etc/sysctl.conf, /run/systemd/system, /sbin/init; writes those /proc/sys keys "
      "and /etc/sysctl.d/{90-,99-zz-,zz-}qharden-tcp-keepalive.conf";
  spec.info.can_fix = true;
  spec.drop_in_stem = "tcp-keepalive";
  spec.policies = keepalive_policies;
  return std::make_unique<SysctlRule>(spec);
}

}  // namespace qharden
