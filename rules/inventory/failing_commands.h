// The commands a planner is asked to fix, found from its failing findings.
// xinetd and inetd commands are edited in their files, all of one file's in
// one change; a socket-activated systemd command gets a drop-in of its own.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/finding.h"
#include "engine/rule.h"
#include "inventory/inventory.h"

namespace qharden {

struct FailingCommands {
  std::vector<std::string> files;  // in the order the findings name them
  std::map<std::string, std::vector<const ServiceCommand*>> per_file;  // in finding order
  std::vector<const ServiceCommand*> systemd;                          // in finding order
};

// Only `rule`'s fixable failing findings count, each command once. A subject
// the inventory does not hold (the host changed since the audit) is left out.
// Run scripts are tcpserver.flags' business and never found here.
FailingCommands find_failing_commands(const ServiceInventory& inventory, const RuleInfo& rule,
                                      const std::vector<Finding>& failing);

}  // namespace qharden
