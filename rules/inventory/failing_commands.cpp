#include "inventory/failing_commands.h"

#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace qharden {

FailingCommands find_failing_commands(const ServiceInventory& inventory, const RuleInfo& rule,
                                      const std::vector<Finding>& failing) {
  // The first command of a subject in inventory order wins, as a scan would
  // find it. systemd commands stay in, so that a planner can refuse a finding
  // about one by name rather than skip it.
  std::unordered_map<std::string_view, const ServiceCommand*> by_subject;
  by_subject.reserve(inventory.commands.size());
  for (const ServiceCommand& command : inventory.commands) {
    if (command.source == LaunchSource::run_script) continue;
    by_subject.emplace(command.subject, &command);
  }
  FailingCommands found;
  std::unordered_set<const ServiceCommand*> seen;
  for (const Finding& finding : failing) {
    if (finding.rule != rule.id || finding.status != Status::fail || !finding.fixable) continue;
    auto match = by_subject.find(finding.subject);
    if (match == by_subject.end()) continue;
    const ServiceCommand* command = match->second;
    if (!seen.insert(command).second) continue;
    if (command->source == LaunchSource::systemd) {
      found.systemd.push_back(command);
      continue;
    }
    std::vector<const ServiceCommand*>& commands = found.per_file[command->file];
    if (commands.empty()) found.files.push_back(command->file);
    commands.push_back(command);
  }
  return found;
}

}  // namespace qharden
