#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "engine/change_steps.h"
#include "engine/fix.h"
#include "engine/reload.h"
#include "host/host.h"
#include "journal/lock.h"

namespace qharden {

Expected<RollbackResult> rollback_change(const RootedHost& host, const Config& config,
                                         const std::string& change_id, bool force) {
  if (!change_id.empty() && !is_valid_change_id(change_id)) {
    return fail_with(change_id + ": not a change id (see `qharden history`)");
  }
  // Nothing was ever applied where there is no state folder: say so without
  // creating the folder and its lock for a call that changes nothing.
  struct stat state_details {};
  if (::stat(state_directory(host, config).c_str(), &state_details) != 0 && errno == ENOENT) {
    return fail_with(change_id.empty() ? "no change to roll back (see `qharden history`)"
                                       : change_id + ": no such change (see `qharden history`)");
  }
  Expected<StateLock> lock =
      StateLock::acquire(state_directory(host, config), config.paths.lock_wait_s);
  if (!lock) return Unexpected(lock.error());
  Journal journal(state_directory(host, config));
  settle_interrupted_changes(host, journal);

  Expected<std::vector<JournalChange>> changes = journal.list();
  if (!changes) return Unexpected(changes.error());
  JournalChange change;
  if (change_id.empty()) {
    bool found = false;
    for (auto candidate = changes->rbegin(); candidate != changes->rend(); ++candidate) {
      if (candidate->status == "applied" || candidate->status == "partial" ||
          candidate->status == "interrupted") {
        change = *candidate;
        found = true;
        break;
      }
    }
    if (!found) return fail_with("no change to roll back (see `qharden history`)");
  } else {
    Expected<JournalChange> loaded = journal.load(change_id);
    if (!loaded) return Unexpected(loaded.error());
    change = std::move(*loaded);
  }
  if (change.status == "rolled-back") return fail_with(change.id + ": already rolled back");

  // All or nothing: every target is checked before the first one is restored.
  if (!force) {
    std::string refusals;
    for (std::size_t index = 0; index < change.entries.size(); ++index) {
      const JournalEntry& entry = change.entries[index];
      // Two rules of one apply may have written the same file in turn: the
      // earlier entry is judged when the later one has put back what it
      // wrote, so here only the chain is checked.
      bool rewritten_later = std::any_of(change.entries.begin() + static_cast<long>(index) + 1,
                                         change.entries.end(), [&entry](const JournalEntry& later) {
                                           return later.state == "applied" &&
                                                  later.kind == "file" &&
                                                  later.target == entry.target &&
                                                  later.before_sha256 == entry.after_sha256;
                                         });
      if (entry.kind == "file" && rewritten_later) continue;
      Outcome undoable = check_entry_undoable(host, entry);
      if (!undoable) refusals += (refusals.empty() ? "" : "\n  ") + undoable.error().message;
    }
    if (!refusals.empty()) {
      return fail_with("rollback of " + change.id + " refused, nothing restored:\n  " + refusals);
    }
  }

  RollbackResult result;
  result.change_id = change.id;
  // Orders this rollback among the applies, for what the agent keeps; recorded
  // before the first restore, so a rollback that stops half-way is placed too.
  change.rolled_back_after = changes->empty() ? change.id : changes->back().id;
  std::vector<DropInExpectation> drop_ins;
  for (auto entry = change.entries.rbegin(); entry != change.entries.rend(); ++entry) {
    if (entry->state == "unknown" || entry->state == "pending") {
      // Never undone on a guess (an apply killed with nothing to tell, or a
      // journal entry edited by hand), and never passed over in silence.
      result.notes.push_back(entry->target + ": not restored, its state is unknown" +
                             (entry->error.empty() ? "" : " (" + entry->error + ")") +
                             "; check it by hand");
    }
    if (entry->state != "applied") continue;
    // Marked as the operator's opt-out, told apart from a fix its apply undid.
    Outcome undone = undo_entry(host, journal, change, *entry, force, "rolled-back");
    if (!undone) {
      (void)journal.save(change);
      // What is restored already is served as it is now: xinetd must not
      // keep running the fix from a file that no longer says it.
      // The entry it stopped at may be written, its record not (a full state
      // dir): that counts as restored too.
      std::string reloads;
      if (!result.restored.empty() || entry->state == "rolled-back") {
        for (const std::string& daemon : change.reloads)
          reloads += "; " + reload_by_name(host, config, daemon, drop_ins).message;
      }
      return fail_with("rollback of " + change.id + " stopped at " + entry->target + ": " +
                       undone.error().message +
                       " (entries already restored are marked in `qharden history`)" + reloads);
    }
    if (entry->kind == "file") {
      for (const std::string& folder : config.paths.systemd_unit_dirs) {
        // Created: systemd must stop listing it; restored: it lists it still.
        if (entry->target.rfind(folder + "/", 0) == 0)
          drop_ins.push_back({entry->rule, entry->target, entry->existed});
      }
    }
    std::string what = entry->target;
    if (!entry->note.empty()) {
      what = entry->note;
    } else if (entry->kind == "command") {
      // The target is the command that was applied; say what undid it.
      std::string undo;
      for (const std::string& word : entry->undo_argv) undo += (undo.empty() ? "" : " ") + word;
      what = "with " + undo;
    }
    result.restored.push_back(make_outcome(entry->rule, entry->subject, "restored", what));
  }
  for (const std::string& daemon : change.reloads) {
    result.notes.push_back(reload_by_name(host, config, daemon, drop_ins).message);
  }
  change.status = "rolled-back";
  std::time_t now = std::time(nullptr);
  std::tm broken_down{};
  ::gmtime_r(&now, &broken_down);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &broken_down);
  change.rolled_back_at = text;
  Outcome saved = journal.save(change);
  if (!saved) return Unexpected(saved.error());
  return result;
}

Expected<std::vector<JournalChange>> change_history(const RootedHost& host, const Config& config) {
  Journal journal(state_directory(host, config));
  return journal.list();
}

}  // namespace qharden
