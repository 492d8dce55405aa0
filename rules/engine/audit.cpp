#include "engine/audit.h"

#include <chrono>
#include <ctime>
#include <exception>

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
  for (const Rule* rule : rules) {
    try {
      std::vector<Finding> findings = rule->check(context);
      context.remember_findings(rule->info().id, findings);
      for (Finding& finding : findings) result.findings.push_back(std::move(finding));
    } catch (const std::exception& exception) {
      result.findings.push_back(make_finding(rule->info(), std::string(rule->info().id),
                                             Status::error,
                                             std::string("internal error: ") + exception.what()));
    }
  }
  std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  result.duration_ms = elapsed.count();
  return result;
}

}  // namespace qharden
