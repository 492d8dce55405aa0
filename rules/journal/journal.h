// The change journal under the state dir (/var/lib/qharden, or
// DIR/var/lib/qharden with --root): one folder per change holding
// manifest.json and a backup of every original. Entries are written before the
// host is touched (state "pending") and marked afterwards, so a run killed
// midway is found and settled by the next one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"

namespace qharden {

struct JournalEntry {
  std::string rule;
  std::string subject;
  std::string summary;
  std::string kind;    // "file", "sysctl" or "command"
  std::string target;  // host path, sysctl key ("net/ipv4/tcp_fin_timeout") or argv text
  // file
  bool existed = true;
  std::string before_sha256;
  std::string after_sha256;
  mode_t mode = 0;
  uid_t owner = 0;
  gid_t group = 0;
  std::string backup;  // file name inside the change folder
  // The folder qharden created to hold a new file (a systemd drop-in folder);
  // undo removes it again when it is left empty. Empty when it was there.
  std::string created_folder;
  // sysctl
  std::string value_before;
  std::string value_after;
  std::string sysctl_source;  // the /proc/sys folder written
  // command
  std::vector<std::string> argv;
  std::vector<std::string> undo_argv;
  std::vector<std::string> listing_argv;  // see CommandRun
  std::string present_marker;
  // What an undo found instead of undoing ("already gone: ..."), for history.
  std::string note;

  // pending, applied, undone (by the apply itself: refused or failed to
  // verify), rolled-back, failed, not-applied, unknown
  std::string state = "pending";
  std::string error;
};

struct JournalChange {
  std::string id;
  std::string created_at;
  std::string status =
      "in-progress";  // in-progress, applied, partial, failed, rolled-back, interrupted
  std::string root;
  std::vector<std::string> reloads;  // reloaded: "xinetd", "inetd", "systemd" (daemon-reload)
  std::string rolled_back_at;
  // The newest change in the journal when this one was rolled back: orders the
  // rollback among later applies exactly (engine/kept_changes.h).
  std::string rolled_back_after;
  std::vector<JournalEntry> entries;
};

class Journal {
 public:
  explicit Journal(std::string state_directory) : directory_(std::move(state_directory)) {}

  const std::string& directory() const { return directory_; }

  // Allocates a new change id ("20261125T150102Z-3f9a") and its folder.
  Expected<JournalChange> begin_change(const std::string& root);
  Outcome save(const JournalChange& change) const;
  Outcome store_bytes(const JournalChange& change, const std::string& name,
                      std::string_view bytes) const;
  Expected<std::string> load_bytes(const JournalChange& change, const std::string& name) const;

  // Oldest first. Unreadable manifests are errors naming their file.
  Expected<std::vector<JournalChange>> list() const;
  Expected<JournalChange> load(const std::string& change_id) const;

  // A run killed while writing a manifest leaves its ".tmp"; the next run
  // (holding the lock) removes it.
  void remove_stale_temporaries() const;

  // Changes begun and not settled yet (open/<id> marks them), which is all a
  // run needs to look at for what a killed run left: an apply does not read
  // the whole journal. A journal from before the marks lists every change.
  std::vector<std::string> open_change_ids() const;
  // Drops the mark of a change that is settled on disk; after the first look
  // at a journal from before the marks, the marks folder exists and is used.
  void mark_settled(const std::string& change_id) const;
  void start_marking() const;

  // The ids of the change folders, oldest first, without reading a manifest;
  // none when the journal does not exist yet.
  Expected<std::vector<std::string>> change_ids() const;
  std::string manifest_path(const std::string& change_id) const;

 private:
  std::string change_folder(const std::string& change_id) const;
  std::string open_marker(const std::string& change_id) const;
  std::string directory_;
};

bool is_valid_change_id(std::string_view change_id);

// The journal as the agent reads it after every audit and every fixer run:
// only manifests that changed since the last call (by inode, size and
// modification time) are parsed again, so a journal of thousands of changes
// costs a folder listing and a stat each.
class CachedJournalReader {
 public:
  explicit CachedJournalReader(std::string state_directory)
      : journal_(std::move(state_directory)) {}
  const std::string& directory() const { return journal_.directory(); }
  Expected<std::vector<JournalChange>> changes();

 private:
  struct Cached {
    ino_t inode = 0;
    off_t size = 0;
    std::int64_t modified_ns = 0;
    JournalChange change;
  };
  Journal journal_;
  std::map<std::string, Cached> cache_;
};

}  // namespace qharden
