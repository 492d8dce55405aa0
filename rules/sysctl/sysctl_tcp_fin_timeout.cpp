// sysctl.tcp-fin-timeout: how long an orphaned connection may sit in FIN_WAIT_2.
#include <memory>

#include "sysctl/sysctl_rule.h"

namespace qharden {
namespace {

std::string fin_timeout_consequence(std::int64_t value) {
  return "a connection that qmail-smtpd closed but the client never finishes stays in FIN_WAIT_2 "
         "for " +
         std::to_string(value) +
         " s before the kernel frees it, so a busy mail host piles up stuck sockets "
         "(TIME_WAIT is a fixed 60 s and is not changed by this key)";
}

std::vector<SysctlKeyPolicy> fin_timeout_policies(const Config& config) {
  return {
      {"net.ipv4.tcp_fin_timeout", 60, config.sysctl_tcp_fin_timeout.max, fin_timeout_consequence}};
}

}  // namespace

std::unique_ptr<Rule> make_sysctl_tcp_fin_timeout_rule() {
  SysctlRuleSpec spec;
  spec.info.id = "sysctl.tcp-fin-timeout";
  spec.info.severity = Severity::warning;
  spec.info.summary =
      "net.ipv4.tcp_fin_timeout, now and at boot, is at most rules.\"sysctl.tcp-fin-timeout\".max";
  spec.info.explanation =
      "tcp_fin_timeout is how long an orphaned connection (closed by this host, not yet by the "
      "peer) stays in FIN_WAIT_2; the kernel default is 60 s. On a mail host that drops many "
      "slow or broken SMTP clients these sockets pile up. It does not shorten TIME_WAIT.\n\n"
      "Two findings: the running value (/proc/sys/net/ipv4/tcp_fin_timeout, read from "
      "DIR/proc/sys under --root when that folder exists; skipped under --offline otherwise) and "
      "the boot-time value, from the file that wins by the host's sysctl precedence. systemd is "
      "taken to be init when /run/systemd/system exists (sd_booted()) or, for a --root tree, "
      "/sbin/init links to systemd; then systemd-sysctl's rules apply: sysctl.d in /etc, /run, "
      "/usr/local/lib, "
      "/usr/lib (and /lib on a split /usr), the first folder claims a file name, a /dev/null link "
      "masks, files are read sorted by name and the last assignment wins; /etc/sysctl.conf counts "
      "only through a link such as Debian's 99-sysctl.conf. Otherwise procps `sysctl --system` "
      "rules apply, which read /etc/sysctl.conf last of all. With no file setting it the kernel "
      "default (60) is what boot leaves.\n\n"
      "Fix: write the maximum to the running kernel, and create or update "
      "/etc/sysctl.d/90-qharden-tcp-fin-timeout.conf, owned by qharden; when a later-sorting "
      "file sets the key the drop-in is named 99-zz-qharden-... or zz-qharden-... so it still "
      "wins, and the plan names the file it outranks. When procps reads the key from "
      "/etc/sysctl.conf no drop-in can win, and the plan is an error saying so: qharden never "
      "edits a file it does not own.";
  spec.info.touches =
      "reads /proc/sys/net/ipv4/tcp_fin_timeout (or DIR/proc/sys), /etc/sysctl.d, /run/sysctl.d, "
      "/usr/local/lib/sysctl.d, /usr/lib/sysctl.d, /lib/sysctl.d (*.conf), /etc/sysctl.conf, "
      "/run/systemd/system, /sbin/init; writes /proc/sys/net/ipv4/tcp_fin_timeout and "
      "/etc/sysctl.d/{90-,99-zz-,zz-}qharden-tcp-fin-timeout.conf";
  spec.info.can_fix = true;
  spec.drop_in_stem = "tcp-fin-timeout";
  spec.policies = fin_timeout_policies;
  return std::make_unique<SysctlRule>(spec);
}

}  // namespace qharden
