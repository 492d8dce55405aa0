#pragma once

#include <sys/types.h>

#include <string>

#include "engine/expected.h"

namespace qharden {

// One writer at a time: an exclusive flock on STATE_DIR/lock, shared by the CLI
// and the agent. Released when the object is destroyed (or the process dies,
// so a killed apply never leaves the lock held).
class StateLock {
 public:
  // Waits up to wait_seconds; the error says who is waiting for what.
  static Expected<StateLock> acquire(const std::string& state_directory, long wait_seconds);
  StateLock(StateLock&& other) noexcept : descriptor_(other.descriptor_) { other.descriptor_ = -1; }
  StateLock& operator=(StateLock&&) = delete;
  StateLock(const StateLock&) = delete;
  ~StateLock();

 private:
  explicit StateLock(int descriptor) : descriptor_(descriptor) {}
  int descriptor_ = -1;
};

// mkdir -p; folders it creates get exactly `mode`, whatever the umask. The
// journal's folders are 0755 so that the unprivileged agent can read which
// fixes were applied (manifests); backups of originals stay 0600.
Outcome make_directories(const std::string& path, mode_t mode = 0755);

}  // namespace qharden
