#include "engine/kept_changes.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace qharden {
namespace {

// Where a change's rollback falls in the sequence of changes: after the change
// named by rolled_back_after, which the rollback recorded under the state lock.
// Journals written before that field existed place it by time instead (second
// resolution, so a rollback and an apply within one second may swap; only such
// old journals are affected).
std::size_t rollback_position(const std::vector<JournalChange>& changes, std::size_t own_index) {
  const JournalChange& change = changes[own_index];
  if (!change.rolled_back_after.empty()) {
    // Ids sort in the order changes were made, so the position holds even when
    // journal retention has removed the change it names.
    std::size_t position = own_index;
    for (std::size_t index = own_index + 1; index < changes.size(); ++index) {
      if (changes[index].id <= change.rolled_back_after) position = index;
    }
    return position;
  }
  std::size_t position = own_index;
  for (std::size_t index = own_index + 1; index < changes.size(); ++index) {
    if (changes[index].created_at <= change.rolled_back_at) position = index;
  }
  return position;
}

// Entries of a change that a rollback restored. Older journals marked them
// "undone", like a fix undone by its own verification; there the change's
// status tells them apart.
bool rolled_back(const JournalChange& change, const JournalEntry& entry) {
  if (entry.state == "rolled-back") return true;
  bool legacy = change.status == "rolled-back" &&
                std::none_of(change.entries.begin(), change.entries.end(),
                             [](const JournalEntry& each) { return each.state == "rolled-back"; });
  return legacy && entry.state == "undone";
}

}  // namespace

std::vector<KeptChange> kept_changes(const std::vector<JournalChange>& journal) {
  std::vector<JournalChange> changes = journal;
  // Ids sort in the order the changes were made (journal.h).
  std::sort(
      changes.begin(), changes.end(),
      [](const JournalChange& left, const JournalChange& right) { return left.id < right.id; });

  // (position, 0 = apply / 1 = rollback, change index)
  std::vector<std::tuple<std::size_t, int, std::size_t>> events;
  for (std::size_t index = 0; index < changes.size(); ++index) {
    events.emplace_back(index, 0, index);
    bool any_rolled_back =
        std::any_of(changes[index].entries.begin(), changes[index].entries.end(),
                    [&](const JournalEntry& entry) { return rolled_back(changes[index], entry); });
    if (any_rolled_back) events.emplace_back(rollback_position(changes, index), 1, index);
  }
  std::sort(events.begin(), events.end());

  std::map<std::pair<std::string, std::string>, std::string> kept;  // -> change id
  for (const auto& [position, kind, index] : events) {
    const JournalChange& change = changes[index];
    for (const JournalEntry& entry : change.entries) {
      std::pair<std::string, std::string> key{entry.rule, entry.subject};
      if (kind == 0 && (entry.state == "applied" || rolled_back(change, entry))) {
        kept[key] = change.id;
      } else if (kind == 1 && rolled_back(change, entry)) {
        kept.erase(key);
      }
    }
  }
  std::vector<KeptChange> result;
  for (const auto& [key, change_id] : kept) result.push_back({change_id, key.first, key.second});
  return result;
}

std::set<std::pair<std::string, std::string>> kept_subjects(const std::vector<KeptChange>& kept) {
  std::set<std::pair<std::string, std::string>> subjects;
  for (const KeptChange& change : kept) subjects.emplace(change.rule, change.subject);
  return subjects;
}

}  // namespace qharden
