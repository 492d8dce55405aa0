#include "engine/audit.h"

#include <chrono>
#include <ctime>

namespace qharden {
namespace {

std::string utc_timestamp(std::chrono::system_clock::time_point when) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm broken_down{};
  ::gmtime_r(&seconds, &broken_down);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &broken_down);
  return text;
}

}  // namespace

AuditSummary run_audit_each(AuditContext& context, const std::vector<const Rule*>& rules,
                            const FindingSink& sink) {
  AuditSummary summary;
  auto start = std::chrono::steady_clock::now();
  summary.started_at = utc_timestamp(std::chrono::system_clock::now());
  for (const Rule* rule : rules) {
    for (std::string_view read : rule->info().reads_findings_of) context.keep_findings_of(read);
  }
  for (const Rule* rule : rules) {
    context.check_rule_each(*rule, [&](Finding&& finding) {
      summary.tally.add(finding);
      sink(std::move(finding));
    });
  }
  // Kept only for the rules of this audit that read them.
  for (const Rule* rule : rules) context.take_findings(rule->info().id);
  std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  summary.duration_ms = elapsed.count();
  return summary;
}

// Every rule is checked before any finding is taken, and a rule that throws
// gives only its error finding: plan, apply and the agent act on findings,
// and must not act on a crashed rule's partial ones.
AuditResult run_audit(AuditContext& context, const std::vector<const Rule*>& rules) {
  AuditResult result;
  auto start = std::chrono::steady_clock::now();
  result.started_at = utc_timestamp(std::chrono::system_clock::now());
  for (const Rule* rule : rules) context.check_rule(*rule);
  std::size_t count = 0;
  for (const Rule* rule : rules) count += context.findings_of(rule->info().id).size();
  result.findings.reserve(count);
  for (const Rule* rule : rules) {
    for (Finding& finding : context.take_findings(rule->info().id)) {
      result.findings.push_back(std::move(finding));
    }
  }
  std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  result.duration_ms = elapsed.count();
  return result;
}

}  // namespace qharden
