#include <map>

#include "engine/fix.h"
#include "engine/fix_report.h"
#include "host/host.h"

namespace qharden {

PlanResult make_plan(AuditContext& context, const FixSelection& selection) {
  PlanResult result;
  for (const Rule* rule : selection.rules) {
    const RuleInfo& info = rule->info();
    AuditResult audit = run_audit(context, {rule});
    std::vector<Finding> failing;
    for (const Finding& finding : audit.findings) {
      if (finding.status != Status::fail) continue;
      if (finding.fixable && info.can_fix) {
        failing.push_back(finding);
      } else {
        result.unfixed.push_back(finding);
      }
    }
    if (failing.empty()) continue;
    if (info.fixes_only_when_named && !selection.rules_named) {
      for (const Finding& finding : failing) result.unfixed.push_back(finding);
      result.refusals.push_back(std::string(info.id) + ": fixed only when named (--rule " +
                                std::string(info.id) + ")");
      continue;
    }
    result.failing_fixable += static_cast<int>(failing.size());
    Expected<std::vector<PlannedChange>> changes = rule->plan(context, failing);
    if (!changes) {
      result.refusals.push_back(std::string(info.id) + ": " + changes.error().message);
      continue;
    }
    for (const Finding& finding : failing)
      result.planned_findings.insert({std::string(info.id), finding.subject});
    for (PlannedChange& change : *changes) result.changes.push_back(std::move(change));
  }
  return result;
}

std::string render_plan(const PlanResult& plan) {
  std::string out;
  for (const PlannedChange& change : plan.changes) {
    out += "# " + change.rule + "  " + change.subject + "\n";
    if (!change.summary.empty()) out += "# " + change.summary + "\n";
    out += describe_change(change) + "\n";
  }
  for (const std::string& refusal : plan.refusals) out += "refused: " + refusal + "\n";
  for (const Finding& finding : plan.unfixed) {
    out += "not fixed automatically: " + finding.rule + "  " + finding.subject + "  " +
           finding.message + "\n";
  }
  if (plan.changes.empty()) {
    out += plan.refusals.empty() && plan.unfixed.empty()
               ? "No changes: every selected rule passes.\n"
               : "No changes planned.\n";
  } else {
    out +=
        std::to_string(plan.changes.size()) + " change(s) planned; `qharden apply` makes them.\n";
  }
  return out;
}

}  // namespace qharden
