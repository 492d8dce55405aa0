#include "engine/replan.h"

#include <algorithm>
#include <set>

#include "engine/context.h"
#include "host/host.h"

namespace qharden {

std::vector<PlannedChange> changes_for_rule(
    const RootedHost& host, const Config& config, const FixSelection& selection,
    const PlanResult& plan, const std::string& rule,
    const std::map<std::string, std::string>& written_this_run, std::vector<std::string>& notes) {
  std::vector<PlannedChange> planned;
  std::set<std::string> shared_files;
  for (const PlannedChange& change : plan.changes) {
    if (change.rule != rule) continue;
    planned.push_back(change);
    if (const auto* file = std::get_if<FileReplacement>(&change.action)) {
      auto found = written_this_run.find(file->host_path);
      if (found != written_this_run.end() && found->second != file->before) {
        shared_files.insert(file->host_path);
      }
    }
  }
  if (shared_files.empty()) return planned;
  for (const std::string& path : shared_files) {
    Expected<std::string> now = host.read_file(path);
    if (!now) {
      notes.push_back(rule + ": not planned again: " + now.error().message);
      return planned;
    }
    if (*now != written_this_run.at(path)) return planned;  // another program: refused by name
  }
  const Rule* fixer = nullptr;
  for (const Rule* candidate : selection.rules) {
    if (candidate->info().id == rule) fixer = candidate;
  }
  if (fixer == nullptr) return planned;
  AuditContext fresh(host, config, selection.offline);
  AuditResult audit = run_audit(fresh, {fixer});
  std::vector<Finding> failing;
  for (const Finding& finding : audit.findings) {
    if (finding.status == Status::fail && finding.fixable &&
        plan.planned_findings.count({rule, finding.subject}) > 0) {
      failing.push_back(finding);
    }
  }
  Expected<std::vector<PlannedChange>> again = fixer->plan(fresh, failing);
  if (!again) {
    notes.push_back(rule + ": not planned again from the file the rule before it wrote: " +
                    again.error().message);
    return planned;
  }
  // The same subjects only: a re-apply of kept fixes dropped the others.
  std::set<std::string> subjects;
  for (const PlannedChange& change : planned) subjects.insert(change.subject);
  std::erase_if(*again, [&subjects](const PlannedChange& change) {
    return subjects.count(change.subject) == 0;
  });
  std::string files;
  for (const std::string& path : shared_files) files += (files.empty() ? "" : ", ") + path;
  if (!again->empty()) {
    notes.push_back(rule + ": planned again from " + files +
                    " as the rule before it in this apply left it (the same edits as shown)");
  }
  return std::move(*again);
}

}  // namespace qharden
