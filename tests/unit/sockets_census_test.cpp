// sockets.stuck without a kernel: tallies of made-up sock_diag dumps, the
// findings built from them, and the /proc owner scan over a fake /proc.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <initializer_list>

#include "config/config.h"
#include "host/process_sockets.h"
#include "host/sock_diag.h"
#include "sockets_stuck/census.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

using testing::TemporaryTree;

DiagSocket make_socket(TcpState state, std::uint16_t local, std::uint16_t remote,
                       std::uint32_t inode = 0, std::uint8_t family = 2) {
  DiagSocket socket;
  socket.state = static_cast<std::uint8_t>(state);
  socket.family = family;
  socket.local_port = local;
  socket.remote_port = remote;
  socket.inode = inode;
  return socket;
}

RuleInfo test_info() {
  RuleInfo info;
  info.id = "sockets.stuck";
  info.severity = Severity::warning;
  return info;
}

const Finding& finding_for(const std::vector<Finding>& findings, const std::string& subject) {
  for (const Finding& finding : findings) {
    if (finding.subject == subject) return finding;
  }
  static Finding missing;
  ADD_FAILURE() << "no finding for " << subject;
  return missing;
}

TEST(SocketsCensus, ByPortUsesTheListeningSideAndIgnoresEphemeralPorts) {
  std::vector<DiagSocket> dump = {
      make_socket(TcpState::listen, 25, 0),
      make_socket(TcpState::listen, 25, 0, 0, 10),
      make_socket(TcpState::close_wait, 25, 50001, 11),
      make_socket(TcpState::close_wait, 25, 50002, 12, 10),
      // An outgoing connection: its local port is ephemeral, the service is remote.
      make_socket(TcpState::time_wait, 43210, 443),
      make_socket(TcpState::time_wait, 43211, 443),
      make_socket(TcpState::established, 25, 50003, 13),
  };
  std::vector<StateTally> tallies = tally_sockets(dump);
  ASSERT_EQ(tallies.size(), 6u);
  EXPECT_EQ(tallies[0].count, 2);  // CLOSE_WAIT, IPv4 and IPv6 together
  EXPECT_EQ(tallies[0].by_port.at(25), 2);
  EXPECT_EQ(tallies[0].inodes.size(), 2u);
  EXPECT_EQ(tallies[5].count, 2);  // TIME_WAIT
  EXPECT_EQ(tallies[5].by_port.size(), 1u);
  EXPECT_EQ(tallies[5].by_port.at(443), 2);
  EXPECT_TRUE(tallies[5].inodes.empty());
}

DiagSocket with_address(DiagSocket socket, std::initializer_list<std::uint8_t> address) {
  std::copy(address.begin(), address.end(), socket.local_address.begin());
  return socket;
}

// An outgoing connection's ephemeral port can carry the number another family
// or another address listens on; it must still be counted against the remote
// service. Each row is one FIN_WAIT_2 socket next to the same listeners.
TEST(SocketsCensus, EphemeralPortThatMatchesAListenerElsewhereCountsTheRemoteService) {
  const std::vector<DiagSocket> listeners = {
      with_address(make_socket(TcpState::listen, 42000, 0), {127, 0, 0, 1}),
      make_socket(TcpState::listen, 42100, 0, 0, 10),  // [::]:42100
      with_address(make_socket(TcpState::listen, 33060, 0), {127, 0, 0, 1}),
      make_socket(TcpState::listen, 2525, 0),  // 0.0.0.0:2525
  };
  struct Row {
    const char* name;
    DiagSocket socket;
    std::uint16_t expected_port;
  };
  const std::vector<Row> rows = {
      {"IPv4 client on the number an IPv6 service listens on",
       with_address(make_socket(TcpState::fin_wait_2, 42100, 42000), {127, 0, 0, 1}), 42000},
      {"IPv6 client on the number an IPv4 service listens on",
       make_socket(TcpState::fin_wait_2, 42000, 42100, 0, 10), 42100},
      {"IPv4 client from another address on a listened number",
       with_address(make_socket(TcpState::fin_wait_2, 33060, 443), {192, 0, 2, 7}), 443},
      {"accepted by the IPv4 listener's own address",
       with_address(make_socket(TcpState::fin_wait_2, 42000, 51000), {127, 0, 0, 1}), 42000},
      {"accepted by the IPv4 wildcard listener",
       with_address(make_socket(TcpState::fin_wait_2, 2525, 51001), {192, 0, 2, 7}), 2525},
      {"IPv4 client mapped into the IPv6 wildcard listener",
       with_address(make_socket(TcpState::fin_wait_2, 42100, 51002, 0, 10),
                    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}),
       42100},
  };
  for (const Row& row : rows) {
    std::vector<DiagSocket> dump = listeners;
    dump.push_back(row.socket);
    std::vector<StateTally> tallies = tally_sockets(dump);
    ASSERT_EQ(tallies.size(), 6u) << row.name;
    const StateTally& fin_wait_2 = tallies[2];
    ASSERT_EQ(fin_wait_2.by_port.size(), 1u) << row.name;
    EXPECT_EQ(fin_wait_2.by_port.begin()->first, row.expected_port) << row.name;
  }
}

TEST(SocketsCensus, OneFindingPerWatchedStateWithZeroCountsAndNoScanUnderThresholds) {
  Config config = *load_builtin_config();
  int scans = 0;
  OwnerScanner scanner = [&](const std::unordered_map<std::uint32_t, int>&) -> Expected<OwnerScan> {
    ++scans;
    return OwnerScan{};
  };
  std::vector<DiagSocket> dump = {make_socket(TcpState::close_wait, 25, 1000, 7)};
  std::vector<Finding> findings = census_findings(
      test_info(), config.sockets_stuck, census_of_dump(config.sockets_stuck, dump), scanner);
  ASSERT_EQ(findings.size(), 6u);
  std::vector<std::string> subjects;
  for (const Finding& finding : findings) subjects.push_back(finding.subject);
  EXPECT_EQ(subjects, (std::vector<std::string>{"CLOSE_WAIT", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING",
                                                "LAST_ACK", "TIME_WAIT"}));
  for (const Finding& finding : findings) {
    EXPECT_EQ(finding.status, Status::pass) << finding.subject;
    EXPECT_TRUE(finding.evidence["by_process"].empty());
  }
  EXPECT_EQ(finding_for(findings, "CLOSE_WAIT").evidence["count"], 1);
  EXPECT_EQ(finding_for(findings, "FIN_WAIT_1").evidence["count"], 0);
  EXPECT_EQ(finding_for(findings, "CLOSE_WAIT").evidence["threshold"],
            config.sockets_stuck.close_wait_max);
  EXPECT_EQ(scans, 0);
}

TEST(SocketsCensus, OverThresholdFailsNamesTheOwnersAndScansOnlyOwnedStates) {
  Config config = *load_builtin_config();
  config.sockets_stuck.close_wait_max = 1;
  config.sockets_stuck.time_wait_max = 0;
  std::unordered_map<std::uint32_t, int> scanned;
  OwnerScanner scanner =
      [&](const std::unordered_map<std::uint32_t, int>& groups) -> Expected<OwnerScan> {
    scanned = groups;
    OwnerScan scan;
    scan.holdings.push_back({4242, "qmail-smtpd", 0, 2});
    scan.holdings.push_back({77, "other", 0, 1});
    return scan;
  };
  std::vector<DiagSocket> dump = {
      make_socket(TcpState::listen, 25, 0), make_socket(TcpState::close_wait, 25, 1000, 7),
      make_socket(TcpState::close_wait, 25, 1001, 8),
      make_socket(TcpState::close_wait, 25, 1002, 9), make_socket(TcpState::time_wait, 25, 1003)};
  std::vector<Finding> findings = census_findings(
      test_info(), config.sockets_stuck, census_of_dump(config.sockets_stuck, dump), scanner);
  const Finding& close_wait = finding_for(findings, "CLOSE_WAIT");
  EXPECT_EQ(close_wait.status, Status::fail);
  EXPECT_EQ(close_wait.severity, Severity::warning);
  EXPECT_EQ(close_wait.evidence["count"], 3);
  ASSERT_EQ(close_wait.evidence["by_process"].size(), 2u);
  EXPECT_EQ(close_wait.evidence["by_process"][0]["pid"], 4242);
  EXPECT_EQ(close_wait.evidence["by_process"][0]["comm"], "qmail-smtpd");
  EXPECT_EQ(close_wait.evidence["by_process"][0]["count"], 2);
  EXPECT_NE(close_wait.message.find("never closed its end"), std::string::npos)
      << close_wait.message;
  EXPECT_NE(close_wait.message.find("qmail-smtpd (pid 4242"), std::string::npos)
      << close_wait.message;
  EXPECT_EQ(scanned.size(), 3u);  // the TIME_WAIT socket has no inode to look for
  const Finding& time_wait = finding_for(findings, "TIME_WAIT");
  EXPECT_EQ(time_wait.status, Status::fail);
  EXPECT_TRUE(time_wait.evidence["by_process"].empty());
  EXPECT_EQ(time_wait.evidence["by_port"]["25"], 1);
  EXPECT_NE(time_wait.message.find("normal"), std::string::npos);
}

TEST(SocketsCensus, ARefusedNetlinkSocketIsAnErrorFindingPerState) {
  // NETLINK protocol 31 does not exist: the kernel refuses the socket.
  Expected<std::vector<DiagSocket>> dump = dump_tcp_sockets(census_state_mask(), 0, 31);
  ASSERT_FALSE(dump);
  Config config = *load_builtin_config();
  std::vector<Finding> findings =
      census_findings(test_info(), config.sockets_stuck, census_of_dump(config.sockets_stuck, dump),
                      [](const std::unordered_map<std::uint32_t, int>&) -> Expected<OwnerScan> {
                        return OwnerScan{};
                      });
  ASSERT_EQ(findings.size(), 6u);
  for (const Finding& finding : findings) {
    EXPECT_EQ(finding.status, Status::error);
    EXPECT_NE(finding.message.find("socket(AF_NETLINK)"), std::string::npos) << finding.message;
  }
}

TEST(SocketsCensus, TheLiveDumpWorksUnprivilegedAndSeesItsOwnListener) {
  int listener = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  struct stat details {};
  ASSERT_EQ(::fstat(listener, &details), 0);
  Expected<std::vector<DiagSocket>> dump = dump_tcp_sockets(census_state_mask());
  ::close(listener);
  ASSERT_TRUE(dump) << dump.error().message;
  bool seen = false;
  for (const DiagSocket& socket : *dump) {
    EXPECT_NE(census_state_mask() & (1u << socket.state), 0u) << int(socket.state);
    seen = seen || (socket.local_port == ntohs(address.sin6_port) &&
                    socket.state == static_cast<std::uint8_t>(TcpState::listen) &&
                    socket.family == AF_INET6 && socket.inode == details.st_ino);
  }
  EXPECT_TRUE(seen) << "the IPv6 listener on port " << ntohs(address.sin6_port);
}

// The open-relay probe and the greeting's client families depend on it: a
// v6only wildcard takes no IPv4 client.
TEST(SocketsCensus, TheListenDumpTellsV6onlyListenersApart) {
  struct Case {
    const char* name;
    int v6only;
  };
  for (const Case& test_case : {Case{"dual-stack [::]", 0}, Case{"v6only [::]", 1}}) {
    int listener = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener, 0);
    ASSERT_EQ(::setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &test_case.v6only,
                           sizeof test_case.v6only),
              0);
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_any;
    socklen_t length = sizeof address;
    ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listener, 1), 0);
    ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
    Expected<std::vector<DiagSocket>> dump = dump_tcp_sockets(state_bit(TcpState::listen));
    ::close(listener);
    ASSERT_TRUE(dump) << dump.error().message;
    int seen = 0;
    for (const DiagSocket& socket : *dump) {
      if (socket.local_port != ntohs(address.sin6_port) || socket.family != AF_INET6) continue;
      ++seen;
      EXPECT_EQ(socket.v6only, test_case.v6only == 1) << test_case.name;
    }
    EXPECT_EQ(seen, 1) << test_case.name;
  }
}

TEST(SocketsOwnerScan, CountsSocketLinksPerProcessAndSkipsVanishedProcesses) {
  TemporaryTree proc;
  proc.write("/100/comm", "smtpd\n");
  proc.symlink("socket:[500]", "/100/fd/3");
  proc.symlink("socket:[501]", "/100/fd/4");
  proc.symlink("socket:[999]", "/100/fd/5");  // not asked for
  proc.symlink("/dev/null", "/100/fd/0");
  proc.write("/200/comm", "holder\n");
  proc.symlink("socket:[502]", "/200/fd/7");
  proc.symlink("pipe:[502]", "/200/fd/8");
  // A process that exited between listing /proc and opening its fd folder.
  std::filesystem::create_directories(proc.real("/300"));
  proc.write("/self-is-not-a-pid/comm", "x\n");
  std::unordered_map<std::uint32_t, int> groups = {{500, 0}, {501, 0}, {502, 2}};
  Expected<OwnerScan> scan = scan_socket_owners(groups, proc.path());
  ASSERT_TRUE(scan) << scan.error().message;
  ASSERT_EQ(scan->holdings.size(), 2u);
  EXPECT_EQ(scan->holdings[0].pid, 100);
  EXPECT_EQ(scan->holdings[0].comm, "smtpd");
  EXPECT_EQ(scan->holdings[0].group, 0);
  EXPECT_EQ(scan->holdings[0].count, 2);
  EXPECT_EQ(scan->holdings[1].pid, 200);
  EXPECT_EQ(scan->holdings[1].group, 2);
  EXPECT_EQ(scan->holdings[1].count, 1);
  EXPECT_EQ(scan->processes, 3);
  EXPECT_EQ(scan->descriptors, 6);
}

TEST(SocketsOwnerScan, AMissingProcFolderIsAnError) {
  EXPECT_FALSE(scan_socket_owners({{1, 0}}, "/nonexistent-proc"));
}

}  // namespace
}  // namespace qharden
