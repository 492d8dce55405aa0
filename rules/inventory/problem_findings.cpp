#include "inventory/problem_findings.h"

#include <string>
#include <utility>

namespace qharden {

std::vector<Finding> inventory_problem_findings(const RuleInfo& info,
                                                const ServiceInventory& inventory) {
  std::vector<Finding> findings;
  for (const InventoryProblem& problem : inventory.problems) {
    if (problem.source == LaunchSource::run_script) continue;
    bool blocks = problem_blocks_checks(problem);
    std::string where =
        problem.line > 0 ? problem.file + ":" + std::to_string(problem.line) : problem.file;
    Finding finding = make_finding(
        info, problem.file, blocks ? Status::error : Status::skip,
        where + ": " + problem.message +
            (blocks ? ""
                    : "; systemd starts nothing from this unit, so there is nothing to check"));
    finding.evidence = {{"file", problem.file}, {"line", problem.line}};
    findings.push_back(std::move(finding));
  }
  return findings;
}

void stream_command_findings(const RuleInfo& info, const ServiceInventory& inventory,
                             const FindingSink& sink, const CommandJudge& judge,
                             std::string_view nothing_judged) {
  bool any = false;
  for (Finding& problem : inventory_problem_findings(info, inventory)) {
    any = true;
    sink(std::move(problem));
  }
  for (const ServiceCommand& command : inventory.commands) {
    std::optional<Finding> finding = judge(command);
    if (!finding) continue;
    any = true;
    sink(std::move(*finding));
  }
  if (!any) {
    sink(make_finding(info, std::string(info.id), Status::skip, std::string(nothing_judged)));
  }
}

}  // namespace qharden
