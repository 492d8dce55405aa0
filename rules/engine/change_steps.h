// The single steps of apply and rollback: make one journaled change, undo one
// journal entry. Shared by apply (which also undoes a fix that failed its
// re-audit) and rollback.
#pragma once

#include <string>

#include "engine/change.h"
#include "engine/expected.h"
#include "journal/journal.h"

namespace qharden {

class RootedHost;

enum class StepResult { applied, unchanged, refused, failed };

struct StepOutcome {
  StepResult result = StepResult::failed;
  std::string message;
};

// Journals the entry (with a backup) before touching the host, then makes the
// change and marks the entry.
StepOutcome apply_planned_change(const RootedHost& host, Journal& journal, JournalChange& change,
                                 const PlannedChange& planned);

// Refuses, changing nothing, when the target no longer holds what the change
// wrote, unless force (then the current bytes are kept in the journal first).
Outcome check_entry_undoable(const RootedHost& host, const JournalEntry& entry);
// The entry is then marked `undone_state`: "undone" when apply takes back its
// own fix, "rolled-back" for the operator's rollback (an opt-out, see
// engine/kept_changes.h).
Outcome undo_entry(const RootedHost& host, Journal& journal, JournalChange& change,
                   JournalEntry& entry, bool force, const char* undone_state = "undone");

// Settles changes a killed run left "in-progress": removes stale temporaries
// and marks each pending entry by what the target now holds.
void settle_interrupted_changes(const RootedHost& host, Journal& journal);

}  // namespace qharden
