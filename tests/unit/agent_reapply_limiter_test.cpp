// The agent's re-apply rate limit: N re-applies per window, then a stop that
// only an explicit resume lifts.
#include <gtest/gtest.h>

#include "../../agent/daemon/reapply_limiter.h"

namespace qharden::agent {
namespace {

using Verdict = ReapplyLimiter::Verdict;
using std::chrono::seconds;

TEST(AgentReapplyLimiter, AllowsTheLimitThenStopsOnceAndStaysStopped) {
  ReapplyLimiter limiter(3, seconds(600));
  auto start = ReapplyLimiter::Clock::time_point{} + seconds(1000);
  EXPECT_EQ(limiter.request("tcp-env.flags", start), Verdict::allowed);
  EXPECT_EQ(limiter.request("tcp-env.flags", start + seconds(1)), Verdict::allowed);
  EXPECT_EQ(limiter.request("tcp-env.flags", start + seconds(2)), Verdict::allowed);
  EXPECT_EQ(limiter.request("tcp-env.flags", start + seconds(3)), Verdict::stopped_now);
  EXPECT_TRUE(limiter.stopped("tcp-env.flags"));
  // Even after the window, a stopped rule stays stopped: the other writer is
  // still there until an operator says otherwise.
  EXPECT_EQ(limiter.request("tcp-env.flags", start + seconds(5000)), Verdict::stopped_before);
}

TEST(AgentReapplyLimiter, AttemptsOlderThanTheWindowDoNotCount) {
  ReapplyLimiter limiter(2, seconds(600));
  auto start = ReapplyLimiter::Clock::time_point{} + seconds(1000);
  EXPECT_EQ(limiter.request("sysctl.tcp-fin-timeout", start), Verdict::allowed);
  EXPECT_EQ(limiter.request("sysctl.tcp-fin-timeout", start + seconds(300)), Verdict::allowed);
  EXPECT_EQ(limiter.request("sysctl.tcp-fin-timeout", start + seconds(600)), Verdict::allowed);
  EXPECT_EQ(limiter.request("sysctl.tcp-fin-timeout", start + seconds(601)), Verdict::stopped_now);
}

TEST(AgentReapplyLimiter, RulesAreLimitedSeparatelyAndResumeClearsTheStop) {
  ReapplyLimiter limiter(1, seconds(60));
  auto now = ReapplyLimiter::Clock::time_point{} + seconds(10);
  EXPECT_EQ(limiter.request("tcp-env.flags", now), Verdict::allowed);
  EXPECT_EQ(limiter.request("tcp-env.flags", now), Verdict::stopped_now);
  EXPECT_EQ(limiter.request("tcpserver.flags", now), Verdict::allowed);
  limiter.resume("tcp-env.flags");
  EXPECT_FALSE(limiter.stopped("tcp-env.flags"));
  EXPECT_EQ(limiter.request("tcp-env.flags", now), Verdict::allowed);
}

TEST(AgentReapplyLimiter, ALimitOfZeroNeverReapplies) {
  ReapplyLimiter limiter(0, seconds(60));
  EXPECT_EQ(limiter.request("tcp-env.flags", ReapplyLimiter::Clock::time_point{}),
            Verdict::stopped_now);
}

}  // namespace
}  // namespace qharden::agent
