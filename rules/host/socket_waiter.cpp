#include "host/socket_waiter.h"

namespace qharden {
namespace {

class PollWaiter final : public SocketWaiter {
 public:
  int wait(pollfd* descriptors, std::size_t count, int timeout_ms) override {
    return ::poll(descriptors, count, timeout_ms);
  }
};

PollWaiter poll_waiter;
SocketWaiter* installed_waiter = nullptr;

}  // namespace

SocketWaiter& socket_waiter() {
  return installed_waiter != nullptr ? *installed_waiter : poll_waiter;
}

InstalledSocketWaiter::InstalledSocketWaiter(SocketWaiter& waiter) : previous_(installed_waiter) {
  installed_waiter = &waiter;
}

InstalledSocketWaiter::~InstalledSocketWaiter() {
  installed_waiter = previous_;
}

}  // namespace qharden
