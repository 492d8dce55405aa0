// The inventory's xinetd, inetd and systemd problems as findings, for the
// rules that judge the commands those launchers start (tcp-env.flags,
// listener.burst-limits). Run-script problems are left to the rules that read
// run scripts, which know whether the script names their program.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/rule.h"
#include "inventory/inventory.h"

namespace qharden {

// An xinetd or inetd problem hides services the rule should judge, so it is
// an error; a systemd unit that systemd refuses starts nothing, so it is a skip
// (problem_blocks_checks). Each names the file and, when known, the line.
std::vector<Finding> inventory_problem_findings(const RuleInfo& info,
                                                const ServiceInventory& inventory);

// A rule over the inventory's commands, one finding at a time: the problems
// above first, then `judge`'s finding for each command it judges (nullopt:
// not its business), or a single skip saying `nothing_judged` when there was
// no finding at all.
using CommandJudge = std::function<std::optional<Finding>(const ServiceCommand& command)>;
void stream_command_findings(const RuleInfo& info, const ServiceInventory& inventory,
                             const FindingSink& sink, const CommandJudge& judge,
                             std::string_view nothing_judged);

}  // namespace qharden
