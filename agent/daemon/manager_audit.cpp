// The manager's audits, drift detection and fixes. The loop and its sources
// are in manager.cpp.
#include <malloc.h>

#include <algorithm>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "daemon/bus.h"
#include "daemon/manager.h"
#include "engine/registry.h"
#include "engine/report.h"

namespace qharden::agent {
namespace {

std::uint64_t realtime_usec() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

std::vector<const Rule*> rules_by_id(const std::vector<std::string>& rule_ids) {
  std::vector<const Rule*> rules;
  for (const std::string& rule_id : rule_ids) {
    if (const Rule* rule = find_rule(rule_id)) rules.push_back(rule);
  }
  return rules;
}

std::vector<const Rule*> rules_touched(const std::vector<ChangeOutcome>& outcomes) {
  std::set<std::string> seen;
  std::vector<std::string> rule_ids;
  for (const ChangeOutcome& outcome : outcomes) {
    if (seen.insert(outcome.rule).second) rule_ids.push_back(outcome.rule);
  }
  return rules_by_id(rule_ids);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Manager::audit_now(
    const std::vector<const Rule*>& rules) {
  AuditContext context(*host_, config_, false);
  AuditResult result = run_audit(context, rules);
  // SIGTERM during a probe cancels it; its findings would be wrong, so none
  // are recorded, announced or acted on.
  if (stopping()) return {};
  auto now = std::chrono::steady_clock::now();
  std::uint64_t finished_usec = realtime_usec();

  std::vector<std::pair<std::string, std::string>> drifted;
  std::map<std::string, std::vector<Finding>> by_rule;
  for (const Rule* rule : rules) by_rule[std::string(rule->info().id)];
  for (Finding& finding : result.findings) by_rule[finding.rule].push_back(std::move(finding));
  for (auto& [rule_id, findings] : by_rule) {
    RuleRecord& record = records_[rule_id];
    for (const Finding& finding : findings) {
      auto [known, inserted] = statuses_.try_emplace({rule_id, finding.subject}, finding.status);
      if (!inserted) {
        if (known->second == Status::pass && finding.status == Status::fail) {
          drifted.emplace_back(rule_id, finding.subject);
        }
        known->second = finding.status;
      }
    }
    record.findings = std::move(findings);
    record.audited_at = now;
    record.fresh = true;
    record.finished_usec = finished_usec;
    record.started_at = result.started_at;
    record.duration_ms = result.duration_ms;
  }

  files_read_ = context.inventory().files_read;
  if (config_.agent.watch) watcher_.update(host_->root(), watch_list(config_, files_read_));
  refresh_properties();
  // Cheap (only changed manifests are read), and catches a journal the watch
  // could not see: the state dir made by the first apply after the agent started.
  refresh_kept();
  std::uint32_t failures = 0;
  for (const auto& [rule_id, record] : records_) {
    failures += static_cast<std::uint32_t>(
        std::count_if(record.findings.begin(), record.findings.end(),
                      [](const Finding& finding) { return finding.status == Status::fail; }));
  }
  // This run's time, which a partial run does not make the report's.
  if (object_) object_->audit_completed(finished_usec, compliant_, failures);
  // An audit's parse trees, command output and JSON are freed by now, but glibc
  // keeps the free pages below the heap's top; an agent idles for an hour
  // between audits, so give them back.
  ::malloc_trim(0);
  return drifted;
}

// Compliant: no failing finding that would change the audit's exit code, so an
// info-level keepalive finding does not make every host non-compliant.
void Manager::refresh_properties() {
  bool compliant = true;
  std::vector<std::string> failing;
  for (const auto& rule : all_rules()) {
    auto record = records_.find(std::string(rule->info().id));
    if (record == records_.end()) continue;
    bool rule_fails = false;
    for (const Finding& finding : record->second.findings) {
      if (finding.status != Status::fail) continue;
      rule_fails = true;
      if (finding.severity != Severity::info) compliant = false;
    }
    if (rule_fails) failing.emplace_back(rule->info().id);
  }
  const RuleRecord* oldest = oldest_record();
  std::uint64_t last_audit_usec = oldest != nullptr ? oldest->finished_usec : 0;
  std::vector<std::string> changed;
  if (last_audit_usec != last_audit_usec_) changed.emplace_back("LastAuditUsec");
  if (compliant != compliant_) changed.emplace_back("Compliant");
  if (failing != failing_rules_) changed.emplace_back("FailingRules");
  last_audit_usec_ = last_audit_usec;
  compliant_ = compliant;
  failing_rules_ = std::move(failing);
  if (object_) object_->announce_properties(changed);
}

// Only what the operator applied is put back (apply = opt in, rollback = opt
// out), and only for rules in agent.reapply; everything else is reported.
void Manager::handle_drift(const std::vector<std::pair<std::string, std::string>>& drifted) {
  if (drifted.empty()) return;
  std::vector<std::string> to_reapply;
  for (const auto& [rule_id, subject] : drifted) {
    ++drift_events_;
    if (object_) object_->drift_detected(rule_id, subject);
    const auto& reapply = config_.agent.reapply;
    bool listed = std::find(reapply.begin(), reapply.end(), rule_id) != reapply.end();
    bool kept = keeps_rule(rule_id);
    spdlog::warn("drift: {} {} passed and now fails{}", rule_id, subject,
                 !kept     ? "; reported only: qharden applied no fix of this rule that is kept "
                             "(apply opts in, rollback opts out)"
                 : !listed ? "; reported only: the rule is not in agent.reapply"
                           : "");
    if (listed && kept &&
        std::find(to_reapply.begin(), to_reapply.end(), rule_id) == to_reapply.end()) {
      to_reapply.push_back(rule_id);
    }
  }
  if (object_) object_->announce_properties({"DriftEvents"});
  for (const Rule* rule : rules_by_id(to_reapply)) reapply(*rule);
}

void Manager::reapply(const Rule& rule) {
  std::string rule_id(rule.info().id);
  switch (limiter_.request(rule_id, ReapplyLimiter::Clock::now())) {
    case ReapplyLimiter::Verdict::stopped_before:
      spdlog::warn("drift: not re-applying {}: stopped by the rate limit (reload or Apply resumes)",
                   rule_id);
      return;
    case ReapplyLimiter::Verdict::stopped_now:
      spdlog::error(
          "drift: {} re-applied {} times within {} s and drifted again; another writer keeps "
          "changing it, so qhardend stops re-applying it until a reload or an explicit Apply",
          rule_id, config_.agent.reapply_limit, config_.agent.reapply_window_s);
      return;
    case ReapplyLimiter::Verdict::allowed:
      break;
  }
  // Only the subjects the journal keeps: the fixer decides that under the state
  // lock, so a rollback that runs meanwhile wins.
  fixer_call_starts();
  Expected<ApplyResult> applied =
      fixer_->apply({rule_id}, true, true, "drift re-apply", std::move(early_fixer_));
  fixer_call_ended();
  refresh_kept();
  if (!applied) {
    spdlog::error("drift: re-applying {} failed: {}", rule_id, applied.error().message);
    return;
  }
  for (const ChangeOutcome& outcome : applied->outcomes) {
    spdlog::info("drift: re-applied {} {}: {} (change {})", outcome.rule, outcome.subject,
                 outcome.outcome, applied->change_id);
    if (outcome.result == "applied" && object_) {
      object_->fix_applied(applied->change_id, outcome.rule, outcome.subject);
    }
  }
  for (const std::string& note : applied->notes) spdlog::info("drift: {}", note);
  // Recorded now, so our own rename is not mistaken for the next drift. A file
  // overwritten while the fixer worked (it planned from what it read first)
  // shows here as pass -> fail; the watch event that follows finds it already
  // failing, so it is handled now or never. The rate limit bounds the chain.
  handle_drift(audit_now({&rule}));
}

void Manager::after_file_change() {
  unsigned topics = pending_topics_;
  pending_topics_ = 0;
  std::vector<std::string> rule_ids = rules_for_topics(topics);
  // The file rules first and the probing ones after (DNS, and the greeting
  // probe, which can wait up to give_up_ms), so a drifted xinetd file is
  // repaired without waiting for resolver timeouts or a slow 220.
  auto slow = std::stable_partition(rule_ids.begin(), rule_ids.end(), [](const std::string& id) {
    return id != "resolv.nameservers" && id != "rblsmtpd.sources" && id != "smtp.greeting" &&
           id != "smtp.open-relay" && id != "smtp.identity" && id != "dnsbl.self";
  });
  std::vector<std::string> fast_ids(rule_ids.begin(), slow);
  if (!fast_ids.empty()) handle_drift(audit_now(rules_by_id(fast_ids)));
  // Started for a drift this audit did not confirm: the fixer exits unasked.
  early_fixer_.reset();
  if (slow == rule_ids.end()) return;
  // DNS probes block the loop for up to their timeouts; run them once the
  // files have been quiet for a while rather than after every write, so a
  // burst of rewrites (and our own repairs) is handled at file speed.
  slow_pending_.insert(slow, rule_ids.end());
  arm_slow_audit();
}

std::vector<Finding> Manager::audit(const std::vector<const Rule*>& requested) {
  std::vector<const Rule*> rules = requested;
  if (rules.empty()) {
    for (const auto& rule : all_rules()) rules.push_back(rule.get());
  }
  auto now = std::chrono::steady_clock::now();
  std::vector<const Rule*> stale;
  for (const Rule* rule : rules) {
    auto record = records_.find(std::string(rule->info().id));
    if (record == records_.end() || !record->second.fresh ||
        now - record->second.audited_at > kAuditCoalesceWindow) {
      stale.push_back(rule);
    }
  }
  if (!stale.empty()) handle_drift(audit_now(stale));
  std::vector<Finding> findings;
  for (const Rule* rule : rules) {
    const RuleRecord& record = records_[std::string(rule->info().id)];
    findings.insert(findings.end(), record.findings.begin(), record.findings.end());
  }
  return findings;
}

const Manager::RuleRecord* Manager::oldest_record() const {
  const RuleRecord* oldest = nullptr;
  for (const auto& rule : all_rules()) {
    auto record = records_.find(std::string(rule->info().id));
    if (record == records_.end()) return nullptr;
    if (oldest == nullptr || record->second.finished_usec < oldest->finished_usec) {
      oldest = &record->second;
    }
  }
  return oldest;
}

std::string Manager::report_json_text() {
  if (!has_report()) audit({});
  AuditResult result;
  // started_at and duration_ms are the oldest rule's run's, as LastAuditUsec is.
  if (const RuleRecord* oldest = oldest_record()) {
    result.started_at = oldest->started_at;
    result.duration_ms = oldest->duration_ms;
  }
  for (const auto& rule : all_rules()) {
    auto record = records_.find(std::string(rule->info().id));
    if (record == records_.end()) continue;
    result.findings.insert(result.findings.end(), record->second.findings.begin(),
                           record->second.findings.end());
  }
  ReportHeader header{QHARDEN_VERSION, host_name_, host_->root(), false};
  // Findings quote file content, which need not be UTF-8; D-Bus strings must
  // be, and the writer replaces what is not. Written as it goes: the findings
  // are not held a third time as a JSON tree.
  std::ostringstream text;
  write_report_json(text, header, std::move(result), -1);
  return std::move(text).str();
}

PlanResult Manager::plan(const std::vector<const Rule*>& rules, bool named) {
  AuditContext context(*host_, config_, false);
  FixSelection selection{rules, named, false};
  if (selection.rules.empty()) {
    for (const auto& rule : all_rules()) selection.rules.push_back(rule.get());
  }
  return make_plan(context, selection);
}

Expected<ApplyResult> Manager::apply(const std::vector<const Rule*>& rules, bool named,
                                     const std::string& caller) {
  std::vector<std::string> rule_ids;
  for (const Rule* rule : rules) rule_ids.emplace_back(rule->info().id);
  // An operator's Apply ends a rate-limit stop for the rules it covers.
  if (rules.empty()) {
    for (const auto& rule : all_rules()) limiter_.resume(std::string(rule->info().id));
  }
  for (const std::string& rule_id : rule_ids) limiter_.resume(rule_id);
  fixer_call_starts();
  Expected<ApplyResult> applied = fixer_->apply(rule_ids, named, false, caller);
  fixer_call_ended();
  refresh_kept();
  if (!applied) return applied;
  for (const ChangeOutcome& outcome : applied->outcomes) {
    spdlog::info("apply {}: {} {}: {}", applied->change_id, outcome.rule, outcome.subject,
                 outcome.outcome);
    if (outcome.result == "applied" && object_) {
      object_->fix_applied(applied->change_id, outcome.rule, outcome.subject);
    }
  }
  std::vector<const Rule*> touched = rules_touched(applied->outcomes);
  if (!touched.empty()) audit_now(touched);
  return applied;
}

Expected<RollbackResult> Manager::rollback(const std::string& change_id,
                                           const std::string& caller) {
  fixer_call_starts();
  Expected<RollbackResult> rolled = fixer_->rollback(change_id, caller);
  fixer_call_ended();
  refresh_kept();
  if (!rolled) return rolled;
  spdlog::info("rolled back change {}", rolled->change_id);
  // Recorded at once: the restored (failing) state is the operator's choice,
  // and must not look like drift when inotify reports the rename.
  std::vector<const Rule*> touched = rules_touched(rolled->restored);
  if (!touched.empty()) audit_now(touched);
  return rolled;
}

bool Manager::change_exists(const std::string& change_id) {
  Expected<std::vector<JournalChange>> history = journal_reader_->changes();
  if (!history) return false;
  return std::any_of(history->begin(), history->end(),
                     [&](const JournalChange& change) { return change.id == change_id; });
}

}  // namespace qharden::agent
