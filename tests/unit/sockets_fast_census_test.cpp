// sockets.stuck's fast path: TIME_WAIT from /proc/net/sockstat and a dump
// without TIME_WAIT, fed with made-up sockstat counts and dumps, and the
// sockstat parser on the kernel's text and on broken text.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "host/sock_diag.h"
#include "host/sockstat.h"
#include "sockets_stuck/census.h"

namespace qharden {
namespace {

DiagSocket make_socket(TcpState state, std::uint16_t local, std::uint16_t remote,
                       std::uint8_t timer = 0, std::uint32_t inode = 0) {
  DiagSocket socket;
  socket.state = static_cast<std::uint8_t>(state);
  socket.family = 2;
  socket.local_port = local;
  socket.remote_port = remote;
  socket.timer = timer;
  socket.inode = inode;
  return socket;
}

// A fake kernel: a fixed dump filtered by the mask asked for, and a list of
// sockstat `tw` values returned one per read.
struct FakeKernel {
  std::vector<DiagSocket> sockets;
  std::vector<std::int64_t> time_wait_reads;
  std::vector<std::uint32_t> masks_asked;
  std::vector<std::size_t> expected_counts;
  std::int64_t in_use = 0;
  std::size_t reads = 0;
  bool sockstat_broken = false;

  SocketDumper dumper() {
    return [this](std::uint32_t mask,
                  std::size_t expected_count) -> Expected<std::vector<DiagSocket>> {
      masks_asked.push_back(mask);
      expected_counts.push_back(expected_count);
      std::vector<DiagSocket> shown;
      for (const DiagSocket& socket : sockets) {
        if ((mask & (std::uint32_t{1} << socket.state)) != 0) shown.push_back(socket);
      }
      return shown;
    };
  }
  SockstatReader reader() {
    return [this]() -> Expected<SockstatTcp> {
      if (sockstat_broken) return fail_with("/proc/self/net/sockstat: Permission denied");
      SockstatTcp counts;
      counts.in_use = in_use;
      counts.time_wait = time_wait_reads[std::min(reads, time_wait_reads.size() - 1)];
      ++reads;
      return counts;
    };
  }
};

// 40 TIME_WAIT, 30 orphaned FIN_WAIT_2 mini-sockets (in sockstat's tw), 5 full
// FIN_WAIT_2 orphans (not in tw: longer fin_timeout), 3 CLOSE_WAIT on port 25.
FakeKernel busy_namespace() {
  FakeKernel kernel;
  kernel.sockets.push_back(make_socket(TcpState::listen, 25, 0));
  for (int index = 0; index < 40; ++index) {
    kernel.sockets.push_back(make_socket(TcpState::time_wait, 40000 + index, 443, kTimewaitTimer));
  }
  for (int index = 0; index < 30; ++index) {
    kernel.sockets.push_back(make_socket(TcpState::fin_wait_2, 41000 + index, 25, kTimewaitTimer));
  }
  for (int index = 0; index < 5; ++index) {
    kernel.sockets.push_back(make_socket(TcpState::fin_wait_2, 42000 + index, 25, 2));
  }
  for (int index = 0; index < 3; ++index) {
    kernel.sockets.push_back(make_socket(TcpState::close_wait, 25, 43000 + index, 0, 700 + index));
  }
  kernel.time_wait_reads = {70};
  kernel.in_use = 9;  // the listener, 5 full FIN_WAIT_2, 3 CLOSE_WAIT
  return kernel;
}

Config::SocketsStuck thresholds(std::int64_t time_wait_max, std::int64_t close_wait_max) {
  Config::SocketsStuck config = load_builtin_config()->sockets_stuck;
  config.time_wait_max = time_wait_max;
  config.close_wait_max = close_wait_max;
  config.fin_wait_2_max = 1000;
  return config;
}

TEST(SocketsFastCensus, UnderThresholdTimeWaitComesFromSockstatMinusMiniSockets) {
  FakeKernel kernel = busy_namespace();
  Expected<Census> census = take_census(thresholds(1000, 1000), kernel.dumper(), kernel.reader());
  ASSERT_TRUE(census) << census.error().message;
  EXPECT_EQ(census->method, "sockstat+filtered");
  ASSERT_EQ(kernel.masks_asked.size(), 1u);
  EXPECT_EQ(kernel.masks_asked[0] & state_bit(TcpState::time_wait), 0u);
  EXPECT_NE(kernel.masks_asked[0] & state_bit(TcpState::fin_wait_2), 0u);
  EXPECT_EQ(census->tallies[5].count, 40);  // TIME_WAIT: tw 70 - 30 mini-sockets
  EXPECT_EQ(census->tallies[2].count, 35);  // FIN_WAIT_2: mini-sockets and full orphans
  EXPECT_EQ(census->tallies[0].count, 3);
  EXPECT_EQ(census->fin_wait_2_timewait, 30);
  EXPECT_EQ(census->sockstat_time_wait, 70);
  for (const StateTally& tally : census->tallies) EXPECT_TRUE(tally.by_port.empty());
  // No room is made for inuse, which counts ESTABLISHED too.
  EXPECT_EQ(kernel.expected_counts, std::vector<std::size_t>{0});
}

TEST(SocketsFastCensus, ThePortBreakdownIsTakenOnlyForStatesOverThreshold) {
  FakeKernel kernel = busy_namespace();
  Expected<Census> census = take_census(thresholds(1000, 2), kernel.dumper(), kernel.reader());
  ASSERT_TRUE(census) << census.error().message;
  EXPECT_EQ(census->method, "sockstat+filtered");
  EXPECT_EQ(census->tallies[0].by_port.at(25), 3);  // CLOSE_WAIT, over 2
  EXPECT_TRUE(census->tallies[2].by_port.empty());  // FIN_WAIT_2, under 1000
}

TEST(SocketsFastCensus, TimeWaitOverThresholdTakesOneFullDumpWithItsPorts) {
  FakeKernel kernel = busy_namespace();
  Expected<Census> census = take_census(thresholds(30, 1000), kernel.dumper(), kernel.reader());
  ASSERT_TRUE(census) << census.error().message;
  EXPECT_EQ(census->method, "full");
  EXPECT_NE(census->full_reason.find("over the TIME_WAIT threshold"), std::string::npos);
  ASSERT_EQ(kernel.masks_asked.size(), 1u);
  EXPECT_EQ(kernel.masks_asked[0], census_state_mask());
  EXPECT_EQ(census->tallies[5].count, 40);
  EXPECT_EQ(census->tallies[5].by_port.at(443), 40);
  EXPECT_EQ(kernel.expected_counts, std::vector<std::size_t>{79}) << "room for tw and inuse";
}

// inuse counts ESTABLISHED too, which no census dumps: it adds at most tw
// again to the room made for a full dump.
TEST(SocketsFastCensus, RoomForAFullDumpIsAtMostTwiceTw) {
  FakeKernel kernel = busy_namespace();
  kernel.in_use = 1000000;
  Expected<Census> census = take_census(thresholds(30, 1000), kernel.dumper(), kernel.reader());
  ASSERT_TRUE(census) << census.error().message;
  EXPECT_EQ(kernel.expected_counts, std::vector<std::size_t>{140});
}

TEST(SocketsFastCensus, SockstatCountsThatDisagreeWithTheDumpFallBackToAFullDump) {
  struct Row {
    const char* name;
    std::vector<std::int64_t> reads;
    bool broken;
    const char* reason;
  };
  const Row rows[] = {
      {"tw shrank below the mini-sockets during the dump", {70, 10}, false, "moved"},
      {"tw grew over the threshold during the dump", {70, 5000}, false, "moved"},
      {"sockstat unreadable", {70}, true, "Permission denied"},
  };
  for (const Row& row : rows) {
    FakeKernel kernel = busy_namespace();
    kernel.time_wait_reads = row.reads;
    kernel.sockstat_broken = row.broken;
    Expected<Census> census = take_census(thresholds(1000, 1000), kernel.dumper(), kernel.reader());
    ASSERT_TRUE(census) << row.name << ": " << census.error().message;
    EXPECT_EQ(census->method, "full") << row.name;
    EXPECT_NE(census->full_reason.find(row.reason), std::string::npos)
        << row.name << ": " << census->full_reason;
    EXPECT_EQ(kernel.masks_asked.back(), census_state_mask()) << row.name;
    EXPECT_EQ(census->tallies[5].count, 40) << row.name;  // exact either way
  }
}

TEST(SocketsFastCensus, TheFindingsSayHowTheCountsWereTaken) {
  FakeKernel kernel = busy_namespace();
  Config::SocketsStuck config = thresholds(1000, 1000);
  std::vector<Finding> findings =
      census_findings(RuleInfo{}, config, take_census(config, kernel.dumper(), kernel.reader()),
                      [](const std::unordered_map<std::uint32_t, int>&) -> Expected<OwnerScan> {
                        return OwnerScan{};
                      });
  ASSERT_EQ(findings.size(), 6u);
  EXPECT_EQ(findings[5].subject, "TIME_WAIT");
  EXPECT_EQ(findings[5].evidence["count"], 40);
  EXPECT_EQ(findings[5].evidence["census"]["method"], "sockstat+filtered");
  EXPECT_EQ(findings[5].evidence["census"]["sockstat_tw"], 70);
  EXPECT_EQ(findings[5].evidence["census"]["fin_wait_2_timewait"], 30);
}

TEST(Sockstat, ParsesTheKernelsTcpLine) {
  Expected<SockstatTcp> counts = parse_sockstat(
      "sockets: used 330\nTCP: inuse 31 orphan 30 tw 95 alloc 44 mem 3\nUDP: inuse 1 mem 0\n",
      "sockstat");
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(counts->in_use, 31);
  EXPECT_EQ(counts->orphan, 30);
  EXPECT_EQ(counts->time_wait, 95);
  EXPECT_EQ(counts->allocated, 44);
}

TEST(Sockstat, BrokenTextIsAnErrorNamingTheFileAndLine) {
  struct Row {
    const char* text;
    const char* expected;
  };
  const Row rows[] = {
      {"", "sockstat: no \"TCP:\" line"},
      {"sockets: used 3\nUDP: inuse 1\n", "no \"TCP:\" line"},
      {"sockets: used 3\nTCP: inuse 1 orphan 0 tw x alloc 2\n",
       "sockstat:2: \"tw\" is followed by"},
      {"TCP: inuse 1 orphan 0 tw\n", "\"tw\" is followed by \"\""},
      {"TCP: inuse 1 orphan 0 tw -4\n", "not a count"},
      {"TCP: inuse 1 orphan 0 alloc 2\n", "sockstat:1: the TCP line has no \"tw\" count"},
  };
  for (const Row& row : rows) {
    Expected<SockstatTcp> counts = parse_sockstat(row.text, "sockstat");
    ASSERT_FALSE(counts) << row.text;
    EXPECT_NE(counts.error().message.find(row.expected), std::string::npos)
        << counts.error().message;
  }
}

TEST(Sockstat, TheLiveFileOfThisNamespaceIsReadableUnprivileged) {
  Expected<SockstatTcp> counts = read_sockstat();
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_GE(counts->time_wait, 0);
}

}  // namespace
}  // namespace qharden
