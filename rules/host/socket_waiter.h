// How the probes (c-ares, the SMTP greeting) wait on their sockets.
//
// The CLI simply polls. The agent installs a waiter that adds the sockets to
// its one sd-event loop and turns that loop, so the watchdog, signals and
// timers are served while a DNS or greeting probe waits, and SIGTERM ends a
// probe at once instead of after its timeout. The agent is single-threaded,
// which is why one process-wide waiter is enough.
#pragma once

#include <poll.h>

#include <cstddef>

namespace qharden {

class SocketWaiter {
 public:
  virtual ~SocketWaiter() = default;
  // poll(2)'s contract: the number of descriptors with revents, 0 when
  // timeout_ms passed (negative: no limit), -1 with errno set on failure.
  // errno ECANCELED means the process is stopping: give up now.
  virtual int wait(pollfd* descriptors, std::size_t count, int timeout_ms) = 0;
};

// What a probe records for the work a cancelled wait cut short.
inline constexpr const char* kWaitCancelledReason = "cancelled: the process is stopping";

// The installed waiter, or one that calls poll(2).
SocketWaiter& socket_waiter();

// Installs waiter for this object's lifetime; the previous one comes back after.
class InstalledSocketWaiter {
 public:
  explicit InstalledSocketWaiter(SocketWaiter& waiter);
  ~InstalledSocketWaiter();
  InstalledSocketWaiter(const InstalledSocketWaiter&) = delete;
  InstalledSocketWaiter& operator=(const InstalledSocketWaiter&) = delete;

 private:
  SocketWaiter* previous_;
};

}  // namespace qharden
