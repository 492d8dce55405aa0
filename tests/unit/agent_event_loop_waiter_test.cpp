// The agent's SocketWaiter on a real sd-event loop: a wait turns the loop (its
// other sources fire meanwhile), an exit requested during a wait cancels it,
// a wait from inside a handler falls back to poll(2), and a c-ares probe runs
// through it end to end against a local UDP socket that never answers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <list>
#include <string>

#include "daemon/event_loop_waiter.h"
#include "host/dns_probe.h"
#include "smtp_greeting/probe.h"

namespace qharden::agent {
namespace {

using namespace std::chrono_literals;

class EventLoopWaiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sd_event_new(&event_), 0);
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair_), 0);
  }
  void TearDown() override {
    for (int descriptor : pair_) ::close(descriptor);
    sd_event_unref(event_);
  }

  // Runs action from the loop after delay_ms: a timer source of the same loop.
  void after(int delay_ms, std::function<void()> action) {
    actions_.push_back(std::move(action));
    ASSERT_GE(sd_event_add_time_relative(event_, nullptr, CLOCK_MONOTONIC,
                                         static_cast<std::uint64_t>(delay_ms) * 1000, 1000,
                                         &EventLoopWaiterTest::on_timer, &actions_.back()),
              0);
  }
  static int on_timer(sd_event_source* /*source*/, std::uint64_t /*usec*/, void* userdata) {
    (*static_cast<std::function<void()>*>(userdata))();
    return 0;
  }

  sd_event* event_ = nullptr;
  int pair_[2] = {-1, -1};
  std::list<std::function<void()>> actions_;
};

TEST_F(EventLoopWaiterTest, ReadinessArrivesThroughTheLoopWhoseOtherSourcesKeepFiring) {
  EventLoopWaiter waiter(event_);
  bool timer_fired = false;
  after(20, [&] { timer_fired = true; });
  after(60, [&] { ASSERT_EQ(::write(pair_[1], "x", 1), 1); });
  pollfd descriptor{pair_[0], POLLIN, 0};
  auto start = std::chrono::steady_clock::now();
  int ready = waiter.wait(&descriptor, 1, 5000);
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ready, 1);
  EXPECT_TRUE(descriptor.revents & POLLIN);
  EXPECT_TRUE(timer_fired);
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 2s);
  EXPECT_EQ(waiter.loop_waits(), 1u);
  EXPECT_EQ(waiter.poll_waits(), 0u);
}

TEST_F(EventLoopWaiterTest, TimeoutReturnsZeroAndLeavesNoSourceBehind) {
  EventLoopWaiter waiter(event_);
  int ticks = 0;
  for (int delay : {10, 30, 50}) after(delay, [&] { ++ticks; });
  pollfd descriptor{pair_[0], POLLIN, 0};
  EXPECT_EQ(waiter.wait(&descriptor, 1, 100), 0);
  EXPECT_EQ(descriptor.revents, 0);
  EXPECT_EQ(ticks, 3);
  // The descriptor's source is gone: the same fd can be waited on again.
  ASSERT_EQ(::write(pair_[1], "x", 1), 1);
  EXPECT_EQ(waiter.wait(&descriptor, 1, 1000), 1);
  EXPECT_EQ(waiter.loop_waits(), 2u);
}

TEST_F(EventLoopWaiterTest, ExitRequestedDuringTheWaitCancelsIt) {
  EventLoopWaiter waiter(event_);
  after(30, [&] { sd_event_exit(event_, 0); });
  pollfd descriptor{pair_[0], POLLIN, 0};
  auto start = std::chrono::steady_clock::now();
  errno = 0;
  EXPECT_EQ(waiter.wait(&descriptor, 1, 10000), -1);
  EXPECT_EQ(errno, ECANCELED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  // Once stopping, a new wait is cancelled at once.
  errno = 0;
  EXPECT_EQ(waiter.wait(&descriptor, 1, 10000), -1);
  EXPECT_EQ(errno, ECANCELED);
}

TEST_F(EventLoopWaiterTest, AWaitFromInsideAHandlerPollsInstead) {
  EventLoopWaiter waiter(event_);
  int nested_result = -2;
  after(10, [&] {
    ASSERT_EQ(::write(pair_[1], "x", 1), 1);
    pollfd descriptor{pair_[0], POLLIN, 0};
    nested_result = waiter.wait(&descriptor, 1, 1000);
  });
  ASSERT_GE(sd_event_run(event_, 5'000'000), 0);
  EXPECT_EQ(nested_result, 1);
  EXPECT_EQ(waiter.poll_waits(), 1u);
  EXPECT_EQ(waiter.loop_waits(), 0u);
}

// A UDP socket on 127.0.0.1 that reads nothing: queries to it time out.
class SilentServer {
 public:
  SilentServer() {
    descriptor_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(descriptor_, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        ::getsockname(descriptor_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      port_ = ntohs(address.sin_port);
    }
  }
  ~SilentServer() { ::close(descriptor_); }
  DnsServer server() const { return *parse_dns_server("127.0.0.1:" + std::to_string(port_)); }
  bool ready() const { return port_ != 0; }

 private:
  int descriptor_ = -1;
  std::uint16_t port_ = 0;
};

TEST_F(EventLoopWaiterTest, CaresProbeWaitsThroughTheInstalledWaiter) {
  SilentServer silent;
  ASSERT_TRUE(silent.ready());
  EventLoopWaiter waiter(event_);
  InstalledSocketWaiter installed(waiter);
  int ticks = 0;
  for (int delay : {50, 100, 150}) after(delay, [&] { ++ticks; });
  DnsProbeOptions options;
  options.timeout = 300ms;
  Expected<std::vector<DnsResult>> results =
      probe_dns({silent.server()}, {{0, "example.test", DnsRecordType::a}}, options);
  ASSERT_TRUE(results.has_value());
  ASSERT_EQ(results->size(), 1u);
  EXPECT_EQ((*results)[0].outcome, DnsOutcome::timeout);
  EXPECT_EQ(ticks, 3);  // the loop turned while c-ares waited
  EXPECT_GE(waiter.loop_waits(), 1u);
}

TEST_F(EventLoopWaiterTest, CaresProbeEndsAtOnceWhenTheLoopIsAskedToExit) {
  SilentServer silent;
  ASSERT_TRUE(silent.ready());
  EventLoopWaiter waiter(event_);
  InstalledSocketWaiter installed(waiter);
  after(50, [&] { sd_event_exit(event_, 0); });
  DnsProbeOptions options;
  options.timeout = 5000ms;
  options.tries = 3;
  auto start = std::chrono::steady_clock::now();
  Expected<std::vector<DnsResult>> results = probe_dns(
      {silent.server()},
      {{0, "example.test", DnsRecordType::a}, {0, "example.test", DnsRecordType::txt}}, options);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ASSERT_TRUE(results.has_value());
  for (const DnsResult& result : *results) {
    EXPECT_EQ(result.outcome, DnsOutcome::other);
    EXPECT_EQ(result.detail, "cancelled: the process is stopping");
  }
}

// A listener that never greets: the probe waits through the loop and gives up
// at once, with the reason, when the loop is asked to exit.
TEST_F(EventLoopWaiterTest, GreetingProbeEndsAtOnceWhenTheLoopIsAskedToExit) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  GreetingTarget target;
  target.label = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  std::copy_n(reinterpret_cast<const char*>(&address), sizeof(address),
              reinterpret_cast<char*>(&target.address));
  target.address_length = sizeof(address);

  EventLoopWaiter waiter(event_);
  InstalledSocketWaiter installed(waiter);
  after(100, [&] { sd_event_exit(event_, 0); });
  auto start = std::chrono::steady_clock::now();
  std::vector<GreetingResult> results = probe_greetings({target}, 10000);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, GreetingOutcome::gave_up);
  EXPECT_EQ(results[0].error, "cancelled: the process is stopping");
  EXPECT_GE(waiter.loop_waits(), 1u);
  ::close(listener);
}

}  // namespace
}  // namespace qharden::agent
