#include "journal/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "host/descriptor.h"
#include "host/host.h"
#include "journal/extended_attributes.h"
#include "journal/sha256.h"

namespace qharden {
namespace {

struct SplitPath {
  std::string folder;
  std::string name;
};

Expected<SplitPath> split_path(const std::string& host_path) {
  std::size_t slash = host_path.rfind('/');
  if (host_path.empty() || host_path.front() != '/' || slash == std::string::npos ||
      slash + 1 == host_path.size()) {
    return fail_with(host_path + ": not an absolute file path");
  }
  SplitPath split{slash == 0 ? "/" : host_path.substr(0, slash), host_path.substr(slash + 1)};
  if (split.name == "." || split.name == "..") return fail_with(host_path + ": not a file path");
  return split;
}

std::string errno_message(const std::string& host_path, const std::string& doing, int number) {
  std::string message = host_path + ": " + doing + ": " + std::strerror(number);
  if (number == ENOSPC || number == EDQUOT) {
    message += " (the file system is full; the original is unchanged)";
  } else if (number == EROFS) {
    message += " (read-only file system; nothing was written)";
  }
  return message;
}

Expected<std::string> read_descriptor(int descriptor, const std::string& host_path) {
  std::string content;
  char buffer[65536];
  for (;;) {
    ssize_t count = ::read(descriptor, buffer, sizeof buffer);
    if (count < 0) {
      if (errno == EINTR) continue;
      return fail_with(errno_message(host_path, "read", errno));
    }
    if (count == 0) break;
    content.append(buffer, static_cast<std::size_t>(count));
    if (static_cast<std::int64_t>(content.size()) > kMaximumFileBytes) {
      return fail_with(host_path + ": larger than the size cap; refusing to rewrite it");
    }
  }
  return content;
}

Expected<int> open_folder(const RootedHost& host, const std::string& folder) {
  // Folders on the way may be symlinks (resolved inside the root); only the
  // final component of a write target must not be one.
  return host.open_under_root(folder, O_PATH | O_DIRECTORY, true);
}

Expected<FileSnapshot> snapshot_in_folder(int folder, const std::string& name,
                                          const std::string& host_path) {
  FileSnapshot snapshot;
  struct statx details {};
  if (::statx(folder, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &details) != 0) {
    if (errno == ENOENT) return snapshot;
    return fail_with(errno_message(host_path, "stat", errno));
  }
  if (S_ISLNK(details.stx_mode)) {
    char target[4096];
    ssize_t length = ::readlinkat(folder, name.c_str(), target, sizeof target - 1);
    std::string shown = length > 0 ? std::string(target, static_cast<std::size_t>(length)) : "?";
    return fail_with(host_path + ": is a symlink to " + shown +
                     "; qharden never writes through a symlink. Change the file it points to "
                     "by hand, or replace the link with a regular file");
  }
  if ((details.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
      (details.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0) {
    return fail_with(host_path +
                     ": is a mount point (a bind mount, as in containers or `ip netns exec`); a "
                     "rename onto it would fail with EBUSY, so it is left as it is");
  }
  if (!S_ISREG(details.stx_mode)) return fail_with(host_path + ": not a regular file");
  Descriptor file(::openat(folder, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!file.valid()) return fail_with(errno_message(host_path, "open", errno));
  Expected<std::string> content = read_descriptor(file.get(), host_path);
  if (!content) return Unexpected(content.error());
  snapshot.exists = true;
  snapshot.content = std::move(*content);
  snapshot.sha256 = sha256_hex(snapshot.content);
  snapshot.inode = details.stx_ino;
  snapshot.device = makedev(details.stx_dev_major, details.stx_dev_minor);
  snapshot.mode = details.stx_mode & 07777;
  snapshot.owner = details.stx_uid;
  snapshot.group = details.stx_gid;
  return snapshot;
}

// The file must still be the one the plan read: a Plesk rewrite in between
// shows as a new inode or a new hash.
Outcome check_unchanged(int folder, const std::string& name, const std::string& host_path,
                        const FileSnapshot& expected) {
  Expected<FileSnapshot> now = snapshot_in_folder(folder, name, host_path);
  if (!now) return Unexpected(now.error());
  if (!expected.exists) {
    if (now->exists) return fail_with(host_path + ": appeared since it was planned; not replaced");
    return Done{};
  }
  if (!now->exists) return fail_with(host_path + ": was removed since it was planned");
  if (now->inode != expected.inode || now->sha256 != expected.sha256) {
    return fail_with(host_path +
                     ": changed since it was read (another program rewrote it); nothing was "
                     "written. Run `qharden plan` again to see the new state");
  }
  return Done{};
}

Outcome write_all(int descriptor, std::string_view content, const std::string& host_path) {
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t count = ::write(descriptor, content.data() + written, content.size() - written);
    if (count < 0) {
      if (errno == EINTR) continue;
      return fail_with(errno_message(host_path, "write", errno));
    }
    written += static_cast<std::size_t>(count);
  }
  return Done{};
}

// Read through a descriptor whose inode is checked, so the attributes are the
// ones of the file the plan read, not of whatever took its name since.
Expected<std::vector<ExtendedAttribute>> attributes_of_original(int folder, const std::string& name,
                                                                const std::string& host_path,
                                                                const FileSnapshot& expected) {
  if (!expected.exists) return std::vector<ExtendedAttribute>{};
  Descriptor original(::openat(folder, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!original.valid()) return fail_with(errno_message(host_path, "open", errno));
  struct stat details {};
  if (::fstat(original.get(), &details) != 0) {
    return fail_with(errno_message(host_path, "stat", errno));
  }
  if (details.st_ino != expected.inode || details.st_dev != expected.device) {
    return fail_with(host_path +
                     ": changed since it was read (another program rewrote it); nothing was "
                     "written. Run `qharden plan` again to see the new state");
  }
  return read_extended_attributes(original.get(), host_path);
}

}  // namespace

std::string temporary_name_for(const std::string& host_path) {
  std::size_t slash = host_path.rfind('/');
  std::string name = slash == std::string::npos ? host_path : host_path.substr(slash + 1);
  return "." + name + ".qharden-new";
}

Outcome remove_stale_temporary(const RootedHost& host, const std::string& host_path) {
  Expected<SplitPath> split = split_path(host_path);
  if (!split) return Unexpected(split.error());
  Expected<int> folder = open_folder(host, split->folder);
  if (!folder) return Done{};  // no folder, no temporary
  Descriptor folder_guard(*folder);
  if (::unlinkat(*folder, temporary_name_for(host_path).c_str(), 0) != 0 && errno != ENOENT) {
    return fail_with(errno_message(host_path, "remove stale temporary", errno));
  }
  return Done{};
}

Expected<FileSnapshot> snapshot_for_write(const RootedHost& host, const std::string& host_path) {
  Expected<SplitPath> split = split_path(host_path);
  if (!split) return Unexpected(split.error());
  Expected<int> folder = open_folder(host, split->folder);
  if (!folder) return Unexpected(folder.error());
  Descriptor folder_guard(*folder);
  return snapshot_in_folder(*folder, split->name, host_path);
}

Outcome write_file_atomically(const RootedHost& host, const std::string& host_path,
                              std::string_view content, const FileSnapshot& expected,
                              std::optional<FileOwnership> ownership, bool* replaced) {
  if (replaced != nullptr) *replaced = false;
  Expected<SplitPath> split = split_path(host_path);
  if (!split) return Unexpected(split.error());
  Expected<int> folder_path = open_folder(host, split->folder);
  if (!folder_path) return Unexpected(folder_path.error());
  Descriptor folder(*folder_path);

  Outcome unchanged = check_unchanged(folder.get(), split->name, host_path, expected);
  if (!unchanged) return unchanged;
  Expected<std::vector<ExtendedAttribute>> carried =
      attributes_of_original(folder.get(), split->name, host_path, expected);
  if (!carried) return Unexpected(carried.error());

  // Unnamed until it is complete: a crash while writing leaves nothing behind.
  // File systems without O_TMPFILE get a named O_EXCL temporary instead.
  std::string temporary_name = temporary_name_for(host_path);
  ::unlinkat(folder.get(), temporary_name.c_str(), 0);
  bool named_temporary = false;
  Descriptor temporary(::openat(folder.get(), ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600));
  if (!temporary.valid() && (errno == EOPNOTSUPP || errno == EISDIR)) {
    named_temporary = true;
    temporary.reset(::openat(folder.get(), temporary_name.c_str(),
                             O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0600));
  }
  if (!temporary.valid()) return fail_with(errno_message(host_path, "create temporary", errno));
  auto discard_named = [&] {
    if (named_temporary) ::unlinkat(folder.get(), temporary_name.c_str(), 0);
  };
  // Content first: a write clears security.capability. Attributes next, while
  // this process still owns the temporary: setting an ACL needs the owner or
  // CAP_FOWNER. A new file has no original to copy from and keeps what the
  // folder gives it (a default ACL, a label).
  Outcome prepared = write_all(temporary.get(), content, host_path);
  if (prepared && expected.exists) {
    prepared = copy_extended_attributes(temporary.get(), *carried, host_path);
  }
  FileOwnership wanted =
      ownership.value_or(FileOwnership{expected.mode, expected.owner, expected.group});
  // chown only when the owner must change: qhardend.service filters out the
  // chown system calls (~@privileged), and a root-owned replacement written by
  // root is already root:root. Found by the boot test.
  struct stat created {};
  if (prepared && ::fstat(temporary.get(), &created) != 0) {
    prepared = fail_with(errno_message(host_path, "stat temporary", errno));
  }
  if (prepared && (created.st_uid != wanted.owner || created.st_gid != wanted.group)) {
    if (::fchown(temporary.get(), wanted.owner, wanted.group) != 0) {
      prepared = fail_with(errno_message(host_path, "set owner", errno));
    } else if (expected.exists) {
      // chown drops security.capability; this pass sets again only what is gone.
      prepared = copy_extended_attributes(temporary.get(), *carried, host_path);
    }
  }
  // Last, because setting an ACL rewrote the group bits from its mask and
  // chown cleared set-id bits. chmod rewrites the mask from the group bits,
  // which for the original's own mode gives back the original's ACL.
  if (prepared && ::fchmod(temporary.get(), wanted.mode) != 0) {
    prepared = fail_with(errno_message(host_path, "set mode", errno));
  }
  if (prepared && ::fsync(temporary.get()) != 0) {
    prepared = fail_with(errno_message(host_path, "fsync", errno));
  }
  if (!prepared) {
    discard_named();
    return prepared;
  }
  if (!named_temporary) {
    std::string descriptor_path = "/proc/self/fd/" + std::to_string(temporary.get());
    if (::linkat(AT_FDCWD, descriptor_path.c_str(), folder.get(), temporary_name.c_str(),
                 AT_SYMLINK_FOLLOW) != 0) {
      return fail_with(errno_message(host_path, "link temporary", errno));
    }
  }
  // Checked again right before the rename to keep the window with a concurrent
  // writer as small as the file system allows.
  unchanged = check_unchanged(folder.get(), split->name, host_path, expected);
  if (!unchanged) {
    ::unlinkat(folder.get(), temporary_name.c_str(), 0);
    return unchanged;
  }
  // A new file must not replace one that appeared after that check (another
  // program's drop-in): RENAME_NOREPLACE makes the kernel refuse. Without it,
  // the plain rename, checked just above.
  int renamed = -1;
  if (!expected.exists) {
    renamed = ::renameat2(folder.get(), temporary_name.c_str(), folder.get(), split->name.c_str(),
                          RENAME_NOREPLACE);
  }
  // EINVAL: the file system lacks it; ENOSYS or EPERM: a kernel or seccomp
  // filter that predates renameat2.
  if (expected.exists || (renamed != 0 && (errno == EINVAL || errno == ENOSYS || errno == EPERM))) {
    renamed = ::renameat(folder.get(), temporary_name.c_str(), folder.get(), split->name.c_str());
  }
  if (renamed != 0) {
    int number = errno;
    ::unlinkat(folder.get(), temporary_name.c_str(), 0);
    if (number == EEXIST && !expected.exists) {
      return fail_with(host_path +
                       ": changed since it was planned (another program created it); left as it "
                       "is");
    }
    if (number == EBUSY) {
      return fail_with(host_path +
                       ": rename failed with EBUSY: it is a mount point; left as it is");
    }
    return fail_with(errno_message(host_path, "rename", number));
  }
  if (replaced != nullptr) *replaced = true;
  Descriptor folder_for_sync(::openat(folder.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!folder_for_sync.valid() || ::fsync(folder_for_sync.get()) != 0) {
    return fail_with(errno_message(split->folder, "fsync folder (the file was replaced)", errno));
  }
  return Done{};
}

Outcome remove_file_checked(const RootedHost& host, const std::string& host_path,
                            const std::string& expected_sha256) {
  Expected<SplitPath> split = split_path(host_path);
  if (!split) return Unexpected(split.error());
  Expected<int> folder_path = open_folder(host, split->folder);
  if (!folder_path) return Unexpected(folder_path.error());
  Descriptor folder(*folder_path);
  Expected<FileSnapshot> now = snapshot_in_folder(folder.get(), split->name, host_path);
  if (!now) return Unexpected(now.error());
  if (!now->exists) return Done{};
  if (now->sha256 != expected_sha256) {
    return fail_with(host_path + ": changed since qharden created it; not removed");
  }
  if (::unlinkat(folder.get(), split->name.c_str(), 0) != 0) {
    return fail_with(errno_message(host_path, "remove", errno));
  }
  Descriptor folder_for_sync(::openat(folder.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (folder_for_sync.valid()) ::fsync(folder_for_sync.get());
  return Done{};
}

std::string folder_of_file(const std::string& host_path) {
  Expected<SplitPath> split = split_path(host_path);
  return split ? split->folder : std::string();
}

bool folder_of_file_is_missing(const RootedHost& host, const std::string& host_path) {
  Expected<SplitPath> split = split_path(host_path);
  if (!split) return false;
  // Only a folder that is not there at all (lstat): a dangling symlink or an
  // unreadable parent is left to the write, which refuses it by name.
  Expected<FileStatus> status = host.status(split->folder, false);
  return status && status->kind == FileKind::missing;
}

Expected<bool> create_folder_for_file(const RootedHost& host, const std::string& host_path) {
  Expected<SplitPath> file = split_path(host_path);
  if (!file) return Unexpected(file.error());
  Expected<SplitPath> folder = split_path(file->folder);
  if (!folder) return Unexpected(folder.error());
  Expected<int> parent_path = open_folder(host, folder->folder);
  if (!parent_path) return Unexpected(parent_path.error());
  Descriptor parent(*parent_path);
  if (::mkdirat(parent.get(), folder->name.c_str(), 0755) != 0) {
    if (errno == EEXIST) return false;
    return fail_with(errno_message(file->folder, "create folder", errno));
  }
  // The fixer runs with a strict umask; systemd does not mind, but the
  // operator's tools and package managers expect a unit folder to be 0755.
  Descriptor created(::openat(parent.get(), folder->name.c_str(),
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!created.valid() || ::fchmod(created.get(), 0755) != 0) {
    int number = errno;
    ::unlinkat(parent.get(), folder->name.c_str(), AT_REMOVEDIR);
    return fail_with(errno_message(file->folder, "set the mode of the new folder", number));
  }
  Descriptor parent_for_sync(::openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (parent_for_sync.valid()) ::fsync(parent_for_sync.get());
  return true;
}

Expected<bool> remove_folder_if_empty(const RootedHost& host, const std::string& folder_host_path) {
  Expected<SplitPath> folder = split_path(folder_host_path);
  if (!folder) return Unexpected(folder.error());
  Expected<int> parent_path = open_folder(host, folder->folder);
  if (!parent_path) return Unexpected(parent_path.error());
  Descriptor parent(*parent_path);
  if (::unlinkat(parent.get(), folder->name.c_str(), AT_REMOVEDIR) != 0) {
    if (errno == ENOENT || errno == ENOTEMPTY || errno == EEXIST) return false;
    return fail_with(errno_message(folder_host_path, "remove folder", errno));
  }
  Descriptor parent_for_sync(::openat(parent.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (parent_for_sync.valid()) ::fsync(parent_for_sync.get());
  return true;
}

}  // namespace qharden
