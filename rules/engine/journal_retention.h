// Journal retention: every drift repair the agent makes is a change folder
// with its backups, and the agent reads every manifest, so a host whose file
// is overwritten every few minutes would grow both without bound. The oldest
// changes beyond paths.journal_keep_changes are removed, but never one that
// still decides what is kept (engine/kept_changes.h) or one still open.
#pragma once

#include <cstddef>

#include "engine/expected.h"
#include "journal/journal.h"

namespace qharden {

struct RetentionResult {
  std::size_t removed = 0;
  // Changes older than the limit that stay, because removing them would
  // change which fixes are kept, or because they are not settled.
  std::size_t held_back = 0;
};

// Removes the oldest changes so that at most `keep` remain where it can; 0
// keeps every change. The caller holds the state lock. A folder is renamed
// out of the journal's id space before its files go, so a run killed midway
// leaves no half change: the next call removes what it left.
Expected<RetentionResult> prune_journal(const Journal& journal, std::size_t keep);

}  // namespace qharden
