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

AuditResult run_audit(AuditContext& context, const std::vector<const Rule*>& rules) {
  AuditResult result;
  auto wall_start = std::chrono::system_clock::now();
  auto start = std::chrono::steady_clock::now();
  result.started_at = utc_timestamp(wall_start);
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
