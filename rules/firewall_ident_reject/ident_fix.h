// The fix for firewall.ident-reject: which backend gets the owned rule, and the
// exact commands (with their undo). The choice is tried on a copy of the read
// netfilter state first, so a fix that would itself be shadowed is not planned.
#pragma once

#include <string>
#include <vector>

#include "engine/change.h"
#include "engine/expected.h"
#include "host/netfilter.h"

namespace qharden {

struct IdentFix {
  std::string backend;  // "firewalld", "iptables", "nft"
  std::vector<CommandRun> commands;
  std::string summary;
};

inline constexpr std::string_view kOwnedNftTable = "qharden";

// The owned iptables rule, for `iptables -I OUTPUT 1` and `-D OUTPUT`.
std::vector<std::string> owned_iptables_rule_words();

// nft_priority: the owned chain's priority, below every output chain there is.
int owned_nft_priority(const std::vector<NetfilterTable>& tables);

// Refuses when qharden's own rule or table is already there but does not pass
// (adding another would duplicate it), and when no backend's rule would pass.
Expected<IdentFix> choose_ident_fix(const NetfilterSnapshot& snapshot);

}  // namespace qharden
