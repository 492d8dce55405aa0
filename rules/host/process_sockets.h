// Which processes hold which sockets: a scan of /proc/*/fd for "socket:[inode]"
// links. It costs a few microseconds per descriptor, so callers run it only when
// they need owners, and once for every group of inodes they care about.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/expected.h"

namespace qharden {

struct SocketHolding {
  pid_t pid = 0;
  std::string comm;
  int group = 0;  // the caller's group of the inodes (for sockets.stuck: the state)
  int count = 0;  // descriptors of this process that point at an inode of the group
};

struct OwnerScan {
  std::vector<SocketHolding> holdings;  // by pid, then group
  std::int64_t processes = 0;
  std::int64_t descriptors = 0;
  double milliseconds = 0;
};

// inode_groups maps a socket inode to its group. Processes that exit while the
// scan runs, and descriptors closed under it, are skipped: the counts come from
// sock_diag, and only the owners can be missing. proc_root is "/proc" except in
// tests, which build a fake one.
Expected<OwnerScan> scan_socket_owners(const std::unordered_map<std::uint32_t, int>& inode_groups,
                                       const std::string& proc_root = "/proc");

}  // namespace qharden
