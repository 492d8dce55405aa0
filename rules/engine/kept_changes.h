// Which applied fixes the agent keeps: apply is the operator's opt-in, rollback
// the opt-out. The journal is the only record of either, so the answer is
// computed from it alone, the same way in the agent, the fixer and the CLI.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "journal/journal.h"

namespace qharden {

struct KeptChange {
  std::string change_id;  // the newest change that applied it
  std::string rule;
  std::string subject;  // as the plan named it: a file, a sysctl, "ipv4"
  bool operator==(const KeptChange&) const = default;
};

// Replays the journal in the order things happened: each change's applied
// entries opt their (rule, subject) in; each rolled-back entry opts it out at
// the time of its rollback, whichever change had applied it before. Sorted by
// rule, then subject.
std::vector<KeptChange> kept_changes(const std::vector<JournalChange>& changes);

// The (rule, subject) pairs of kept_changes, for filtering a plan.
std::set<std::pair<std::string, std::string>> kept_subjects(const std::vector<KeptChange>& kept);

}  // namespace qharden
