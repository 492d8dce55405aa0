// File replacement with the design's safety contract: the new content goes to
// an unnamed temporary in the same folder (O_TMPFILE), takes the original's
// mode, owner and extended attributes (SELinux label, ACL), is fsynced, and is
// renamed over the original only if the original is still the file that was
// read (same inode, same hash); then the folder is fsynced. Symlinks and mount
// points are refused as targets, never written through.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "engine/expected.h"

namespace qharden {

class RootedHost;

struct FileSnapshot {
  bool exists = false;
  std::string content;
  std::string sha256;
  ino_t inode = 0;
  dev_t device = 0;
  mode_t mode = 0644;
  uid_t owner = 0;
  gid_t group = 0;
};

// Reads host_path as a writer sees it. Refuses a symlink (the message names its
// target) and a mount point (a rename onto it fails with EBUSY).
Expected<FileSnapshot> snapshot_for_write(const RootedHost& host, const std::string& host_path);

struct FileOwnership {
  mode_t mode = 0644;
  uid_t owner = 0;
  gid_t group = 0;
};

// Replaces (or creates, when expected.exists is false) host_path with content.
// Fails, writing nothing, when the file is no longer what `expected` describes,
// or when one of its extended attributes cannot be copied (the message names
// it). ownership: the mode/owner to give the new file; defaults to the
// original's. `replaced`, when given, is set once the rename has put the new
// file in place: a failure after it (the folder's fsync) has changed the file.
Outcome write_file_atomically(const RootedHost& host, const std::string& host_path,
                              std::string_view content, const FileSnapshot& expected,
                              std::optional<FileOwnership> ownership = std::nullopt,
                              bool* replaced = nullptr);

// Removes host_path if it still holds expected_sha256 (undo of a created file).
Outcome remove_file_checked(const RootedHost& host, const std::string& host_path,
                            const std::string& expected_sha256);

// Creates the folder that is to hold host_path, when it is missing (a systemd
// drop-in folder such as /etc/systemd/system/x.socket.d), with mode 0755
// whatever the umask; its own parent must exist. True when it was created,
// false when something was already there (the write then judges it).
Expected<bool> create_folder_for_file(const RootedHost& host, const std::string& host_path);

// Removes a folder qharden created, if it is empty (undo of a created drop-in).
// True when removed; false when it is gone already or holds other files.
Expected<bool> remove_folder_if_empty(const RootedHost& host, const std::string& folder_host_path);

// Whether the folder that holds host_path is missing (a folder qharden would
// have to create before it can write there).
bool folder_of_file_is_missing(const RootedHost& host, const std::string& host_path);

// The folder of a file path ("/etc/x.d/a.conf" -> "/etc/x.d").
std::string folder_of_file(const std::string& host_path);

// The name under which a replacement is linked just before its rename; a run
// killed in between leaves it, and the next run removes it.
std::string temporary_name_for(const std::string& host_path);
Outcome remove_stale_temporary(const RootedHost& host, const std::string& host_path);

}  // namespace qharden
