// The agent's SocketWaiter: a probe's sockets become IO sources of the
// agent's one sd-event loop, and the wait turns that loop, so c-ares and the
// bus are driven from the same loop and the watchdog keeps being fed.
//
// sd-event does not nest: sd_event_run() from inside a handler fails with
// EBUSY. The manager therefore runs audits as jobs after sd_event_run()
// returns (manager.cpp); a wait that still comes from inside a handler polls.
#pragma once

#include <systemd/sd-event.h>

#include "host/socket_waiter.h"

namespace qharden::agent {

// sd_event_exit() was called: the agent is stopping.
bool exit_requested(sd_event* event);

class EventLoopWaiter final : public SocketWaiter {
 public:
  explicit EventLoopWaiter(sd_event* event) : event_(event) {}
  int wait(pollfd* descriptors, std::size_t count, int timeout_ms) override;

  // Waits served by turning the loop, and those that fell back to poll(2);
  // the agent test reads them from the log at exit.
  unsigned long loop_waits() const { return loop_waits_; }
  unsigned long poll_waits() const { return poll_waits_; }

 private:
  sd_event* event_;
  unsigned long loop_waits_ = 0;
  unsigned long poll_waits_ = 0;
};

}  // namespace qharden::agent
