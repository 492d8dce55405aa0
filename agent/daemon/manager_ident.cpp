// Re-asserting the ident rule (firewall.ident-reject). Its fix is a netfilter
// rule, not a file: nothing the agent watches changes when a reboot,
// `iptables -F`, `systemctl reload nftables` or a firewalld reload removes it.
// So the agent checks it at start, after firewalld's Reloaded signal, and on a
// timer where firewalld does not manage netfilter, and re-applies it through
// the drift path (rate limit, journal, log, FixApplied).
#include <algorithm>
#include <cstring>
#include <utility>

#include <sdbus-c++/Error.h>
#include <spdlog/spdlog.h>

#include "daemon/manager.h"
#include "daemon/sdbus_compat.h"
#include "engine/registry.h"

namespace qharden::agent {
namespace {

constexpr std::uint64_t kMillisecond = 1000;  // sd-event times are in microseconds
constexpr std::uint64_t kSecond = 1000 * kMillisecond;

}  // namespace

// Two consents: the operator applied the rule (the journal keeps it), and
// agent.reapply lets the agent put it back. Without both the agent only
// reports.
bool Manager::ident_reassert_enabled() const {
  const auto& reapply = config_.agent.reapply;
  return keeps_rule(kIdentRuleId) &&
         std::find(reapply.begin(), reapply.end(), kIdentRuleId) != reapply.end();
}

// firewalld rebuilds netfilter only on a reload, and says so with Reloaded;
// polling there would only cost a Python start (firewall-cmd) per check.
bool Manager::ident_managed_by_firewalld() const {
  auto record = records_.find(std::string(kIdentRuleId));
  if (record == records_.end()) return false;
  return std::any_of(
      record->second.findings.begin(), record->second.findings.end(), [](const Finding& finding) {
        const auto backends = finding.evidence.find("backends");
        if (backends == finding.evidence.end() || !backends->is_array()) return false;
        return std::find(backends->begin(), backends->end(), "firewalld") != backends->end();
      });
}

// Re-applies the rule when its last audit failed with a fix to make. A failure
// the drift path has already handled (pass -> fail) is not reached here: the
// record then reflects the re-applied state.
void Manager::reassert_recorded_ident(const char* reason) {
  if (!ident_reassert_enabled()) return;
  const Rule* rule = find_rule(kIdentRuleId);
  auto record = records_.find(std::string(kIdentRuleId));
  if (rule == nullptr || record == records_.end()) return;
  std::string failing;
  // The rule's finding subjects are its plan's ("ipv4", "ipv6"): a family the
  // operator never applied (or rolled back) costs no fixer run.
  for (const Finding& finding : record->second.findings) {
    if (finding.status == Status::fail && finding.fixable && keeps(kIdentRuleId, finding.subject)) {
      failing += (failing.empty() ? "" : ", ") + finding.subject;
    }
  }
  if (failing.empty()) return;
  // Stopped by the rate limit: the stop was logged once; every check after it
  // would only repeat that.
  if (limiter_.stopped(std::string(kIdentRuleId))) return;
  spdlog::warn("{}: {} fails ({}); re-asserting it", reason, kIdentRuleId, failing);
  reapply(*rule);
}

void Manager::reassert_ident(const char* reason) {
  if (!ident_reassert_enabled()) return;
  const Rule* rule = find_rule(kIdentRuleId);
  if (rule == nullptr) return;
  std::vector<std::pair<std::string, std::string>> drifted = audit_now({rule});
  // A rule that passed and now fails is drift: DriftDetected, then re-applied.
  bool drift_handles_it = !drifted.empty();
  handle_drift(drifted);
  if (!drift_handles_it) reassert_recorded_ident(reason);
}

void Manager::arm_netfilter_check() {
  sd_event_source_disable_unref(netfilter_timer_);
  netfilter_timer_ = nullptr;
  if (!ident_reassert_enabled() || config_.agent.netfilter_check_s <= 0 ||
      ident_managed_by_firewalld()) {
    return;
  }
  auto interval = static_cast<std::uint64_t>(config_.agent.netfilter_check_s) * kSecond;
  // Not punctual: a coarse accuracy lets the kernel fold this wakeup into
  // others (the watchdog's), so an idle agent wakes only for these two.
  std::uint64_t accuracy = std::min(kSecond, interval / 4);
  int result = sd_event_add_time_relative(event_, &netfilter_timer_, CLOCK_MONOTONIC, interval,
                                          accuracy, &Manager::on_netfilter_check, this);
  if (result < 0) spdlog::error("netfilter check timer: {}", std::strerror(-result));
}

int Manager::on_netfilter_check(sd_event_source* /*source*/, std::uint64_t /*usec*/,
                                void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  self->defer("netfilter check", [self] {
    self->reassert_ident("netfilter check");
    self->arm_netfilter_check();
  });
  return 0;
}

// On whichever bus the agent serves: firewalld is on the system bus; on a
// session or private bus nothing sends Reloaded, unless a test plays firewalld.
void Manager::subscribe_firewalld() {
  auto on_reloaded = [this] {
    if (!ident_reassert_enabled()) return;
    // Deferred to the loop rather than run inside sd-bus's dispatch, and
    // coalesced: a burst of reloads costs one check.
    if (firewalld_reloaded_ != nullptr) return;
    int result =
        sd_event_add_defer(event_, &firewalld_reloaded_, &Manager::on_firewalld_reloaded, this);
    if (result < 0) spdlog::error("firewalld Reloaded: {}", std::strerror(-result));
  };
  try {
    firewalld_match_ =
        sdbus_compat::add_match(*connection_, kFirewalldReloadedMatch, std::move(on_reloaded));
  } catch (const sdbus::Error& error) {
    // A bus that refuses the match still gets the agent; the timer remains.
    spdlog::warn("not following firewalld's Reloaded signal: {} ({})", error.getMessage(),
                 error.getName());
  }
}

int Manager::on_firewalld_reloaded(sd_event_source* /*source*/, void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  sd_event_source_disable_unref(self->firewalld_reloaded_);
  self->firewalld_reloaded_ = nullptr;
  spdlog::info("firewalld reloaded its rules: checking {}", kIdentRuleId);
  self->defer("ident re-assert", [self] {
    self->reassert_ident("firewalld reload");
    // firewalld may have been started or stopped since the last check.
    self->arm_netfilter_check();
  });
  return 0;
}

}  // namespace qharden::agent
