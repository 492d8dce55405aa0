// The change journal under the state dir (/var/lib/qharden, or
// DIR/var/lib/qharden with --root): one folder per change holding
// manifest.json and a backup of every original. Entries are written before the
// host is touched (state "pending") and marked afterwards, so a run killed
// midway is found and settled by the next one.
#pragma once

#include <sys/types.h>

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
  // sysctl
  std::string value_before;
  std::string value_after;
  std::string sysctl_source;  // the /proc/sys folder written
  // command
  std::vector<std::string> argv;
  std::vector<std::string> undo_argv;

  std::string state = "pending";  // pending, applied, undone, failed, not-applied, unknown
  std::string error;
};

struct JournalChange {
  std::string id;
  std::string created_at;
  std::string status =
      "in-progress";  // in-progress, applied, partial, failed, rolled-back, interrupted
  std::string root;
  std::vector<std::string> reloads;  // daemons reloaded: "xinetd", "inetd"
  std::string rolled_back_at;
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

 private:
  std::string change_folder(const std::string& change_id) const;
  std::string directory_;
};

bool is_valid_change_id(std::string_view change_id);

}  // namespace qharden
