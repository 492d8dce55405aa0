#include <memory>

#include "engine/pending_rule.h"

namespace qharden {

std::unique_ptr<Rule> make_sockets_stuck_rule() {
  RuleInfo info;
  info.id = "sockets.stuck";
  info.severity = Severity::warning;
  info.summary = "TCP sockets in CLOSE_WAIT, FIN_WAIT_*, CLOSING, LAST_ACK, TIME_WAIT stay under thresholds";
  info.explanation =
      "CLOSE_WAIT means a local process never closed its end: no timeout ends it, only fixing or\n"
      "restarting that process. FIN_WAIT_2 means the peer never closed; for orphans it is bounded\n"
      "by net.ipv4.tcp_fin_timeout. TIME_WAIT is normal unless huge. Counts come from sock_diag\n"
      "for this network namespace; owners come from /proc/*/fd when a threshold is crossed.";
  info.touches = "reads NETLINK_SOCK_DIAG and /proc/*/fd; writes nothing";
  info.needs_live_state = true;
  return std::make_unique<PendingRule>(
      info, "not checked yet: the sock_diag census lands with issue 5 (sockets.stuck)");
}

}  // namespace qharden
