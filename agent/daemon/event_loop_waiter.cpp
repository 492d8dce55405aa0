#include "daemon/event_loop_waiter.h"

#include <cerrno>
#include <cstdint>
#include <vector>

namespace qharden::agent {
namespace {

struct WaitState {
  pollfd* descriptors = nullptr;
  int ready = 0;
  bool timed_out = false;
};

struct Watched {
  WaitState* state = nullptr;
  std::size_t index = 0;
};

// epoll's EPOLLIN/OUT/ERR/HUP have poll's values, so revents carry over as is.
int on_ready(sd_event_source* /*source*/, int /*fd*/, std::uint32_t revents, void* userdata) {
  auto* watched = static_cast<Watched*>(userdata);
  pollfd& descriptor = watched->state->descriptors[watched->index];
  if (descriptor.revents == 0) watched->state->ready++;
  descriptor.revents = static_cast<short>(descriptor.revents | static_cast<short>(revents));
  return 0;
}

int on_timeout(sd_event_source* /*source*/, std::uint64_t /*usec*/, void* userdata) {
  static_cast<WaitState*>(userdata)->timed_out = true;
  return 0;
}

class Sources {
 public:
  ~Sources() {
    for (sd_event_source* source : sources_) sd_event_source_disable_unref(source);
  }
  std::vector<sd_event_source*>& list() { return sources_; }

 private:
  std::vector<sd_event_source*> sources_;
};

}  // namespace

bool exit_requested(sd_event* event) {
  int code = 0;
  return sd_event_get_exit_code(event, &code) >= 0;
}

int EventLoopWaiter::wait(pollfd* descriptors, std::size_t count, int timeout_ms) {
  if (exit_requested(event_)) {
    errno = ECANCELED;
    return -1;
  }
  // Inside a handler the loop cannot be turned; a zero timeout needs no turn.
  if (timeout_ms == 0 || sd_event_get_state(event_) != SD_EVENT_INITIAL) {
    ++poll_waits_;
    return ::poll(descriptors, count, timeout_ms);
  }
  WaitState state;
  state.descriptors = descriptors;
  std::vector<Watched> watched(count);
  Sources sources;
  for (std::size_t index = 0; index < count; ++index) {
    descriptors[index].revents = 0;
    watched[index] = Watched{&state, index};
    if (descriptors[index].events == 0) continue;
    sd_event_source* source = nullptr;
    int result = sd_event_add_io(event_, &source, descriptors[index].fd,
                                 static_cast<std::uint32_t>(descriptors[index].events), on_ready,
                                 &watched[index]);
    if (result < 0) {
      // A descriptor epoll refuses (or one already in the loop): poll it all.
      ++poll_waits_;
      return ::poll(descriptors, count, timeout_ms);
    }
    sources.list().push_back(source);
  }
  if (timeout_ms > 0) {
    sd_event_source* timer = nullptr;
    // 1 ms accuracy: sd-event's default of 250 ms would stretch every
    // c-ares retry (tech notes).
    int result = sd_event_add_time_relative(event_, &timer, CLOCK_MONOTONIC,
                                            static_cast<std::uint64_t>(timeout_ms) * 1000, 1000,
                                            on_timeout, &state);
    if (result < 0) {
      errno = -result;
      return -1;
    }
    sources.list().push_back(timer);
  }
  ++loop_waits_;
  while (state.ready == 0 && !state.timed_out) {
    int result = sd_event_run(event_, UINT64_MAX);
    if (exit_requested(event_) || sd_event_get_state(event_) == SD_EVENT_FINISHED) {
      errno = ECANCELED;
      return -1;
    }
    if (result < 0) {
      errno = -result;
      return -1;
    }
  }
  return state.ready;
}

}  // namespace qharden::agent
