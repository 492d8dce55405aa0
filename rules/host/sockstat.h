// /proc/net/sockstat of the calling process's network namespace: the kernel
// keeps these TCP counters up to date, so reading them costs no socket walk.
// sockets.stuck uses `tw` to skip dumping TIME_WAIT when it cannot be over its
// threshold (see rules/sockets_stuck/README.md for when that holds).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/expected.h"

namespace qharden {

struct SockstatTcp {
  std::int64_t in_use = 0;  // per namespace
  // Host-wide even inside a namespace (the kernel keeps one orphan counter), so
  // nothing here relies on it.
  std::int64_t orphan = 0;
  // Per namespace, IPv4 and IPv6 together: TIME_WAIT sockets plus the orphaned
  // FIN_WAIT_2 sockets the kernel turned into timewait mini-sockets.
  std::int64_t time_wait = 0;
  std::int64_t allocated = 0;
};

// Parses the "TCP:" line; source names the file in error messages.
Expected<SockstatTcp> parse_sockstat(std::string_view text, std::string_view source);

// Reads /proc/self/net/sockstat (the caller's namespace, not pid 1's).
Expected<SockstatTcp> read_sockstat();

}  // namespace qharden
