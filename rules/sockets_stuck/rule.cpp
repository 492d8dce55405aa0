#include <memory>

#include "engine/context.h"
#include "host/privileged_reads.h"
#include "host/process_sockets.h"
#include "host/sock_diag.h"
#include "host/sockstat.h"
#include "sockets_stuck/census.h"

namespace qharden {
namespace {

class SocketsStuckRule final : public Rule {
 public:
  explicit SocketsStuckRule(RuleInfo info) : info_(info) {}
  const RuleInfo& info() const override { return info_; }

  std::vector<Finding> check(AuditContext& context) const override {
    const Config::SocketsStuck& config = context.config.sockets_stuck;
    if (context.offline) {
      std::vector<Finding> findings;
      for (const WatchedState& watched : watched_states(config)) {
        Finding skipped = make_finding(info_, std::string(watched.name), Status::skip,
                                       "--offline: the live socket census is not taken");
        skipped.evidence["threshold"] = watched.threshold;
        findings.push_back(std::move(skipped));
      }
      return findings;
    }
    Expected<Census> census = take_census(
        config,
        [](std::uint32_t mask, std::size_t expected_count) {
          return dump_tcp_sockets(mask, expected_count);
        },
        read_sockstat);
    return census_findings(info_, config, census,
                           [](const std::unordered_map<std::uint32_t, int>& inode_groups) {
                             return privileged_reader().scan_socket_owners(inode_groups);
                           });
  }

 private:
  RuleInfo info_;
};

}  // namespace

std::unique_ptr<Rule> make_sockets_stuck_rule() {
  RuleInfo info;
  info.id = "sockets.stuck";
  info.severity = Severity::warning;
  info.summary =
      "TCP sockets in CLOSE_WAIT, FIN_WAIT_*, CLOSING, LAST_ACK, TIME_WAIT stay under thresholds";
  info.explanation =
      "CLOSE_WAIT means a local process never closed its end: no timeout ends it, only fixing or\n"
      "restarting that process. FIN_WAIT_2 means the peer never closed; for orphans it is bounded\n"
      "by net.ipv4.tcp_fin_timeout. TIME_WAIT is normal unless huge. Counts come from one\n"
      "sock_diag walk (IPv4 and IPv6) of this network namespace; when /proc/net/sockstat shows\n"
      "TIME_WAIT cannot be over its threshold, that walk leaves TIME_WAIT out and its count comes\n"
      "from sockstat. by_port (states over their threshold only) keys each socket by the service\n"
      "side's port (the local port when this namespace listens on it, else the remote port). "
      "Owners (by_process) come from /proc/*/fd, scanned only when a threshold is crossed\n"
      "and the state has sockets that a process holds (TIME_WAIT and orphans have none).";
  info.touches = "reads /proc/net/sockstat, NETLINK_SOCK_DIAG and /proc/*/fd; writes nothing";
  info.needs_live_state = true;
  return std::make_unique<SocketsStuckRule>(info);
}

}  // namespace qharden
