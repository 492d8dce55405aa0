// All host access goes through Host, so a rule runs unchanged against the live
// host, a fixture tree (--root) or a network namespace. Paths given to Host are
// paths as on the host ("/etc/xinetd.conf"); Host resolves them under its root
// the way a chroot would.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"

namespace qharden {

enum class FileKind { missing, regular, directory, symlink, other };

struct FileStatus {
  FileKind kind = FileKind::missing;
  mode_t mode = 0;
  uid_t owner = 0;
  gid_t group = 0;
  ino_t inode = 0;
  dev_t device = 0;
  std::int64_t size = 0;
};

class Host {
 public:
  virtual ~Host() = default;

  // "/" for the live host, else the --root folder.
  virtual const std::string& root() const = 0;

  // Follows symlinks as a chroot into root() would. Refuses files over the size
  // cap so that a planted multi-gigabyte file cannot exhaust memory.
  virtual Expected<std::string> read_file(const std::string& host_path) const = 0;

  // The same file and checks, handed on a block at a time, for a caller that
  // turns the text into something else and need not hold it whole (issue 15:
  // audit memory). Each block ends with a '\n' unless it is the file's last;
  // together they are the file. A failure part way comes after some blocks
  // have been handed on. The default hands the whole file as one block.
  using FileBlockVisitor = std::function<void(std::string_view block)>;
  virtual Outcome read_file_in_blocks(const std::string& host_path,
                                      const FileBlockVisitor& each_block) const;

  // Entry names without "." and "..", in strcmp order (xinetd's and
  // systemd-sysctl's order).
  virtual Expected<std::vector<std::string>> list_directory(const std::string& host_path) const = 0;

  // follow_final_symlink=false describes a symlink itself (lstat).
  virtual Expected<FileStatus> status(const std::string& host_path,
                                      bool follow_final_symlink) const = 0;

  virtual Expected<std::string> read_symlink(const std::string& host_path) const = 0;

  // "net/ipv4/tcp_fin_timeout": read from ROOT/proc/sys when that folder exists,
  // else from the live network namespace.
  virtual Expected<std::string> read_runtime_sysctl(const std::string& slash_key) const = 0;
  virtual std::string runtime_sysctl_source() const = 0;

  // Expands '*', '?' and '[...]' per path component, like the shell (no match
  // gives no result). Entries are returned sorted.
  std::vector<std::string> glob(const std::string& pattern) const;

  bool exists(const std::string& host_path) const;
};

inline constexpr std::int64_t kMaximumFileBytes = 16 * 1024 * 1024;
// About how much of a file read_file_in_blocks holds at a time.
inline constexpr std::size_t kFileBlockBytes = 256 * 1024;

// A Host rooted at a folder of the real file system. Root "/" is the live host.
class RootedHost final : public Host {
 public:
  static Expected<RootedHost> open(const std::string& root);
  RootedHost(RootedHost&& other) noexcept;
  RootedHost& operator=(RootedHost&&) = delete;
  RootedHost(const RootedHost&) = delete;
  ~RootedHost() override;

  const std::string& root() const override { return root_; }
  Expected<std::string> read_file(const std::string& host_path) const override;
  Outcome read_file_in_blocks(const std::string& host_path,
                              const FileBlockVisitor& each_block) const override;
  Expected<std::vector<std::string>> list_directory(const std::string& host_path) const override;
  Expected<FileStatus> status(const std::string& host_path,
                              bool follow_final_symlink) const override;
  Expected<std::string> read_symlink(const std::string& host_path) const override;
  Expected<std::string> read_runtime_sysctl(const std::string& slash_key) const override;
  std::string runtime_sysctl_source() const override;

  // The root folder, for writers that work relative to it.
  int root_descriptor() const { return root_descriptor_; }

  // Opens host_path under the root; returns an fd or an error naming the path.
  Expected<int> open_under_root(const std::string& host_path, int flags,
                                bool follow_final_symlink) const;

 private:
  struct OpenedFile {
    int descriptor = -1;  // the caller closes it
    std::int64_t size = 0;
  };
  Expected<OpenedFile> open_regular_file(const std::string& host_path) const;

  RootedHost(std::string root, int root_descriptor);
  // Returns a descriptor, or -errno.
  int open_raw(const std::string& host_path, int flags, bool follow_final_symlink) const;
  std::string root_;
  int root_descriptor_ = -1;
};

// Joins a host path to a root for messages and for tools that need a real path.
std::string path_under_root(const std::string& root, const std::string& host_path);

}  // namespace qharden
