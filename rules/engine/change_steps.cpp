#include "engine/change_steps.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "host/command.h"
#include "host/host.h"
#include "journal/atomic_file.h"
#include "journal/sha256.h"

namespace qharden {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Expected<std::string> read_sysctl_file(const std::string& path) {
  int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return fail_with(path + ": " + std::strerror(errno));
  char buffer[256];
  ssize_t count = ::read(descriptor, buffer, sizeof buffer);
  int number = errno;
  ::close(descriptor);
  if (count < 0) return fail_with(path + ": " + std::strerror(number));
  return trimmed(std::string(buffer, static_cast<std::size_t>(count)));
}

Outcome write_sysctl_file(const std::string& path, const std::string& value) {
  // O_TRUNC: /proc/sys ignores it, but a --root tree holds plain files, where
  // "900" over "10800" would leave "900\n0\n".
  int descriptor = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (descriptor < 0) return fail_with(path + ": " + std::strerror(errno));
  std::string line = value + "\n";
  ssize_t count = ::write(descriptor, line.data(), line.size());
  int number = errno;
  ::close(descriptor);
  if (count != static_cast<ssize_t>(line.size())) {
    return fail_with(path + ": write " + value + ": " + std::strerror(number));
  }
  Expected<std::string> now = read_sysctl_file(path);
  if (!now) return Unexpected(now.error());
  if (*now != value) return fail_with(path + ": wrote " + value + " but it reads " + *now);
  return Done{};
}

// After a created file is removed: the folder qharden made for it, if nothing
// else was put there since.
Outcome remove_created_folder(const RootedHost& host, const JournalEntry& entry) {
  if (entry.created_folder.empty()) return Done{};
  Expected<bool> removed = remove_folder_if_empty(host, entry.created_folder);
  if (!removed) return Unexpected(removed.error());
  return Done{};
}

// The target as it is now. A folder that is gone altogether (an operator
// removed /etc/systemd/system/x.socket.d with qharden's drop-in in it) means
// the file is absent, which undo and settling can judge, rather than an error
// that would block the rollback of every other entry.
Expected<FileSnapshot> snapshot_of_target(const RootedHost& host, const std::string& host_path) {
  if (folder_of_file_is_missing(host, host_path)) return FileSnapshot{};
  return snapshot_for_write(host, host_path);
}

// Whether `marker` stands in `text` as a word: bounded by the line's ends,
// blanks or quotes (iptables quotes a comment holding ':'; nft lists
// "table inet qharden"), so "table inet qharden2" is not it.
bool holds_word(std::string_view text, std::string_view marker) {
  auto boundary = [](char character) {
    return character == ' ' || character == '\t' || character == '\n' || character == '"' ||
           character == '{' || character == ';';
  };
  for (std::size_t at = text.find(marker); at != std::string_view::npos;
       at = text.find(marker, at + 1)) {
    std::size_t end = at + marker.size();
    if ((at == 0 || boundary(text[at - 1])) && (end == text.size() || boundary(text[end])))
      return true;
  }
  return false;
}

enum class Presence { present, absent, unknown };

// Only a listing that ran can say "absent"; any doubt is unknown.
Presence presence_of(const JournalEntry& entry) {
  if (entry.listing_argv.empty() || entry.present_marker.empty()) return Presence::unknown;
  Expected<CommandResult> listed = run_command(entry.listing_argv);
  if (!listed) return Presence::unknown;
  return holds_word(listed->standard_output, entry.present_marker) ? Presence::present
                                                                   : Presence::absent;
}

// The file holds the backup's bytes already: an earlier rollback wrote them
// and was killed, or could not save the journal (a full state dir), before
// it recorded that. Writing again would change nothing; only the record is
// missing.
bool already_restored(const JournalEntry& entry, const FileSnapshot& snapshot) {
  return entry.existed && snapshot.exists && snapshot.sha256 == entry.before_sha256;
}

Outcome record_undone(Journal& journal, const JournalChange& change) {
  Outcome saved = journal.save(change);
  if (saved) return saved;
  return fail_with("restored, but the journal could not record it (" + saved.error().message +
                   "); run the rollback again once the state dir has room: it finds this "
                   "restored and records it");
}

// Judged on the snapshot the undo then writes against, so a rewrite between
// a check and the write cannot slip through unkept.
Outcome check_file_undoable(const JournalEntry& entry, const FileSnapshot& snapshot) {
  if (!snapshot.exists && entry.existed) {
    return fail_with(entry.target + ": removed since the change; use --force to restore it");
  }
  if (already_restored(entry, snapshot)) return Done{};
  if (snapshot.exists && snapshot.sha256 != entry.after_sha256) {
    return fail_with(entry.target + ": changed since qharden wrote it (sha256 " +
                     snapshot.sha256.substr(0, 12) + ", expected " +
                     entry.after_sha256.substr(0, 12) +
                     "); rolling back would lose that newer content. Use --force to restore "
                     "the backup anyway (the current content is kept in the journal)");
  }
  return Done{};
}

StepOutcome failed(std::string message) {
  return {StepResult::failed, std::move(message)};
}

StepOutcome apply_file(const RootedHost& host, Journal& journal, JournalChange& change,
                       JournalEntry entry, const FileReplacement& file) {
  // A new drop-in may need its folder (/etc/systemd/system/x.socket.d): it is
  // created after the journal names it, so that undo can remove it again.
  bool folder_missing = file.create && folder_of_file_is_missing(host, file.host_path);
  Expected<FileSnapshot> snapshot = folder_missing ? Expected<FileSnapshot>(FileSnapshot{})
                                                   : snapshot_for_write(host, file.host_path);
  if (!snapshot) return {StepResult::refused, snapshot.error().message};
  if (snapshot->exists && snapshot->content == file.after) return {StepResult::unchanged, ""};
  if (file.create && snapshot->exists) {
    return {StepResult::refused, file.host_path + ": exists now, so it was not created"};
  }
  if (!file.create && !snapshot->exists) {
    return {StepResult::refused, file.host_path + ": was removed since it was planned"};
  }
  if (!file.create && snapshot->content != file.before) {
    return {StepResult::refused, file.host_path +
                                     ": changed since it was planned (another program rewrote it); "
                                     "nothing written"};
  }
  entry.kind = "file";
  entry.target = file.host_path;
  entry.existed = snapshot->exists;
  entry.before_sha256 = snapshot->sha256;
  entry.after_sha256 = sha256_hex(file.after);
  entry.mode = snapshot->exists ? snapshot->mode : 0644;
  entry.owner = snapshot->owner;
  entry.group = snapshot->group;
  if (folder_missing) entry.created_folder = folder_of_file(file.host_path);
  if (snapshot->exists) {
    entry.backup = "backup-" + std::to_string(change.entries.size());
    Outcome stored = journal.store_bytes(change, entry.backup, snapshot->content);
    if (!stored) return failed("journal: " + stored.error().message + "; nothing written");
  }
  change.entries.push_back(entry);
  Outcome saved = journal.save(change);
  if (!saved) {
    change.entries.pop_back();
    return failed("journal: " + saved.error().message + "; nothing written");
  }
  std::optional<FileOwnership> ownership;
  if (file.create) ownership = FileOwnership{0644, 0, 0};
  Outcome written = Done{};
  if (folder_missing) {
    Expected<bool> created = create_folder_for_file(host, file.host_path);
    if (!created) written = Unexpected(created.error());
    // Made by someone else meanwhile: theirs, so undo must leave it.
    if (created && !*created) change.entries.back().created_folder.clear();
  }
  bool replaced = false;
  if (written) {
    written =
        write_file_atomically(host, file.host_path, file.after, *snapshot, ownership, &replaced);
  }
  JournalEntry& recorded = change.entries.back();
  // A failure after the rename (the folder's fsync) has put the new text in
  // place: the entry must read "applied", or no undo would ever put the old
  // text back. Any earlier failure wrote nothing of ours, whatever the file
  // holds now (another program may have written the same text meanwhile).
  recorded.state = written || replaced ? "applied" : "failed";
  if (!written) recorded.error = written.error().message;
  (void)journal.save(change);
  if (!written) {
    // A folder made for this file and left empty by the failed write.
    if (recorded.state == "failed") (void)remove_created_folder(host, recorded);
    bool refused = written.error().message.find("changed since") != std::string::npos;
    return {refused ? StepResult::refused : StepResult::failed, written.error().message};
  }
  return {StepResult::applied, ""};
}

StepOutcome apply_sysctl(const RootedHost& host, Journal& journal, JournalChange& change,
                         JournalEntry entry, const SysctlWrite& sysctl) {
  std::string source = host.runtime_sysctl_source();
  std::string path = source + "/" + sysctl.slash_key;
  Expected<std::string> current = read_sysctl_file(path);
  if (!current) return failed(current.error().message);
  if (*current == sysctl.after) return {StepResult::unchanged, ""};
  entry.kind = "sysctl";
  entry.target = sysctl.slash_key;
  entry.value_before = *current;
  entry.value_after = sysctl.after;
  entry.sysctl_source = source;
  change.entries.push_back(entry);
  Outcome saved = journal.save(change);
  if (!saved) {
    change.entries.pop_back();
    return failed("journal: " + saved.error().message + "; nothing written");
  }
  Outcome written = write_sysctl_file(path, sysctl.after);
  change.entries.back().state = written ? "applied" : "failed";
  if (!written) change.entries.back().error = written.error().message;
  (void)journal.save(change);
  if (!written) return failed(written.error().message);
  return {StepResult::applied, ""};
}

StepOutcome apply_command(Journal& journal, JournalChange& change, JournalEntry entry,
                          const CommandRun& command) {
  entry.kind = "command";
  entry.target = describe_argv(command.argv);
  entry.argv = command.argv;
  entry.undo_argv = command.undo_argv;
  entry.listing_argv = command.listing_argv;
  entry.present_marker = command.present_marker;
  change.entries.push_back(entry);
  Outcome saved = journal.save(change);
  if (!saved) {
    change.entries.pop_back();
    return failed("journal: " + saved.error().message + "; nothing run");
  }
  Expected<CommandResult> ran = run_command(command.argv);
  change.entries.back().state = ran ? "applied" : "failed";
  if (!ran) change.entries.back().error = ran.error().message;
  (void)journal.save(change);
  if (!ran) return failed(ran.error().message);
  return {StepResult::applied, ""};
}

}  // namespace

StepOutcome apply_planned_change(const RootedHost& host, Journal& journal, JournalChange& change,
                                 const PlannedChange& planned) {
  JournalEntry entry;
  entry.rule = planned.rule;
  entry.subject = planned.subject;
  entry.summary = planned.summary;
  if (const auto* file = std::get_if<FileReplacement>(&planned.action)) {
    return apply_file(host, journal, change, entry, *file);
  }
  if (const auto* sysctl = std::get_if<SysctlWrite>(&planned.action)) {
    return apply_sysctl(host, journal, change, entry, *sysctl);
  }
  return apply_command(journal, change, entry, std::get<CommandRun>(planned.action));
}

Outcome check_entry_undoable(const RootedHost& host, const JournalEntry& entry) {
  if (entry.state != "applied") return Done{};
  if (entry.kind == "file") {
    Expected<FileSnapshot> snapshot = snapshot_of_target(host, entry.target);
    if (!snapshot) return Unexpected(snapshot.error());
    return check_file_undoable(entry, *snapshot);
  } else if (entry.kind == "sysctl") {
    Expected<std::string> now = read_sysctl_file(entry.sysctl_source + "/" + entry.target);
    if (!now) return Unexpected(now.error());
    if (*now != entry.value_after && *now != entry.value_before) {
      return fail_with(entry.sysctl_source + "/" + entry.target + ": is " + *now +
                       " now, not the " + entry.value_after + " qharden wrote; use --force");
    }
  }
  return Done{};
}

Outcome undo_entry(const RootedHost& host, Journal& journal, JournalChange& change,
                   JournalEntry& entry, bool force, const char* undone_state) {
  if (entry.state != "applied") return Done{};
  if (!force) {
    Outcome undoable = check_entry_undoable(host, entry);
    if (!undoable) return undoable;
  }
  Outcome undone = Done{};
  bool replaced = false;  // the old text is back even if the write then failed
  if (entry.kind == "file") {
    Expected<FileSnapshot> snapshot = snapshot_of_target(host, entry.target);
    if (!snapshot) return Unexpected(snapshot.error());
    if (!force) {
      Outcome undoable = check_file_undoable(entry, *snapshot);
      if (!undoable) return undoable;
    }
    if (already_restored(entry, *snapshot)) {
      entry.state = undone_state;
      return record_undone(journal, change);
    }
    if (force && snapshot->exists && snapshot->sha256 != entry.after_sha256) {
      std::string keep = "overwritten-" + std::to_string(&entry - change.entries.data()) + "-" +
                         snapshot->sha256.substr(0, 12);
      Outcome kept = journal.store_bytes(change, keep, snapshot->content);
      if (!kept) return kept;
    }
    if (entry.existed) {
      Expected<std::string> backup = journal.load_bytes(change, entry.backup);
      if (!backup) return Unexpected(backup.error());
      // Forced over a folder removed since (a drop-in folder, /etc/xinetd.d):
      // the backup goes back where it was, so the folder is made again.
      bool folder_made = false;
      if (!snapshot->exists && folder_of_file_is_missing(host, entry.target)) {
        Expected<bool> created = create_folder_for_file(host, entry.target);
        if (!created) return Unexpected(created.error());
        folder_made = *created;
      }
      undone =
          write_file_atomically(host, entry.target, *backup, *snapshot,
                                FileOwnership{entry.mode, entry.owner, entry.group}, &replaced);
      if (!undone && folder_made) (void)remove_folder_if_empty(host, folder_of_file(entry.target));
    } else if (snapshot->exists) {
      undone =
          remove_file_checked(host, entry.target, force ? snapshot->sha256 : entry.after_sha256);
      if (undone) undone = remove_created_folder(host, entry);
    } else {
      // Already gone, folder and all: nothing left to remove.
      undone = remove_created_folder(host, entry);
      if (!undone && folder_of_file_is_missing(host, entry.target)) undone = Done{};
    }
  } else if (entry.kind == "sysctl") {
    undone = write_sysctl_file(entry.sysctl_source + "/" + entry.target, entry.value_before);
  } else if (entry.kind == "command") {
    Expected<CommandResult> ran = run_command(entry.undo_argv);
    if (!ran) undone = Unexpected(ran.error());
    // Flushed since (a reboot, a firewall reload): nothing was left to undo,
    // and the rollback goes on to the files.
    if (!ran && presence_of(entry) == Presence::absent) {
      undone = Done{};
      entry.note = "already gone: " + describe_argv(entry.listing_argv) + " lists no " +
                   entry.present_marker;
    }
  }
  if (!undone && replaced) {
    entry.state = undone_state;
    (void)journal.save(change);
    return undone;
  }
  if (!undone) return undone;
  entry.state = undone_state;
  return record_undone(journal, change);
}

void settle_interrupted_changes(const RootedHost& host, Journal& journal) {
  journal.remove_stale_temporaries();
  for (const std::string& change_id : journal.open_change_ids()) {
    Expected<JournalChange> loaded = journal.load(change_id);
    if (!loaded) continue;
    JournalChange& change = *loaded;
    if (change.status != "in-progress") {
      journal.mark_settled(change_id);
      continue;
    }
    for (JournalEntry& entry : change.entries) {
      if (entry.kind == "file") (void)remove_stale_temporary(host, entry.target);
      if (entry.state != "pending") continue;
      if (entry.kind == "file") {
        Expected<FileSnapshot> snapshot = snapshot_of_target(host, entry.target);
        if (!snapshot) {
          entry.state = "unknown";
        } else if (snapshot->exists && snapshot->sha256 == entry.after_sha256) {
          entry.state = "applied";
        } else if ((!snapshot->exists && !entry.existed) ||
                   (snapshot->exists && snapshot->sha256 == entry.before_sha256)) {
          entry.state = "not-applied";
          (void)remove_created_folder(host, entry);
        } else {
          entry.state = "unknown";
        }
      } else if (entry.kind == "sysctl") {
        Expected<std::string> now = read_sysctl_file(entry.sysctl_source + "/" + entry.target);
        entry.state = !now                         ? "unknown"
                      : *now == entry.value_after  ? "applied"
                      : *now == entry.value_before ? "not-applied"
                                                   : "unknown";
      } else {
        Presence presence = presence_of(entry);
        entry.state = presence == Presence::present  ? "applied"
                      : presence == Presence::absent ? "not-applied"
                                                     : "unknown";
      }
    }
    change.status = "interrupted";
    (void)journal.save(change);
  }
  journal.start_marking();
}

}  // namespace qharden
