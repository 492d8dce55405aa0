// probe_dns against real unbound servers. Skipped unless
// tests/integration/dns_probe_test.sh runs this binary inside its network
// namespace with QHARDEN_DNS_LIVE=1, where these servers listen:
//   127.0.0.10  unbound: ok.test (RFC 5782), all.test (lists everything),
//               empty.test (no test points), blocked.test (127.255.255.254),
//               silent.test (forwarded to a dropping address)
//   127.0.0.11  unbound refusing every client
//   127.0.0.12  unbound answering SERVFAIL to everything
//   127.0.0.13  dropped by iptables (silent)
//   127.0.0.14  nothing listens (ICMP port unreachable)
//   127.0.0.15:5300  unbound like 127.0.0.10, on a high port
//   [::1]:5301       the same over IPv6
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>

#include "host/cares_compat.h"
#include "host/dns_probe.h"

namespace qharden {
namespace {

using namespace std::chrono_literals;

class DnsProbeLive : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* live = std::getenv("QHARDEN_DNS_LIVE");
    if (live == nullptr || std::string(live) != "1") {
      GTEST_SKIP() << "needs the servers of tests/integration/dns_probe_test.sh";
    }
  }

  static std::vector<DnsServer> servers() {
    std::vector<DnsServer> list;
    for (const char* text : {"127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14",
                             "127.0.0.15:5300", "[::1]:5301"}) {
      list.push_back(*parse_dns_server(text));
    }
    return list;
  }

  static std::vector<DnsResult> run(const std::vector<DnsQuery>& queries, DnsProbeOptions options) {
    Expected<std::vector<DnsResult>> results = probe_dns(servers(), queries, options);
    EXPECT_TRUE(results) << (results ? "" : results.error().message);
    return results ? *results : std::vector<DnsResult>(queries.size());
  }
};

enum : std::size_t { kHealthy, kRefusing, kServfail, kSilent, kUnreachable, kHighPort, kIpv6 };

TEST_F(DnsProbeLive, TellsEveryOutcomeApart) {
  std::vector<DnsQuery> queries = {
      {kHealthy, "localhost.", DnsRecordType::a},
      {kHealthy, "1.0.0.127.in-addr.arpa", DnsRecordType::ptr},
      {kHealthy, "2.0.0.127.ok.test", DnsRecordType::txt},
      {kHealthy, "2.0.0.127.ok.test", DnsRecordType::a},
      {kHealthy, "1.0.0.127.ok.test", DnsRecordType::a},
      {kHealthy, "localhost.", DnsRecordType::txt},
      {kHealthy, "1.0.0.127.all.test", DnsRecordType::txt},
      {kHealthy, "2.0.0.127.blocked.test", DnsRecordType::a},
      {kHealthy, "2.0.0.127.empty.test", DnsRecordType::txt},
      {kHealthy, "2.0.0.127.silent.test", DnsRecordType::txt},
      {kRefusing, "localhost.", DnsRecordType::a},
      {kServfail, "localhost.", DnsRecordType::a},
      {kSilent, "localhost.", DnsRecordType::a},
      {kUnreachable, "localhost.", DnsRecordType::a},
      {kHighPort, "2.0.0.127.ok.test", DnsRecordType::a},
      // A second query on the same socket: the first one's ICMP error shows
      // up as this send's error, and both must still read as unreachable.
      {kUnreachable, "1.0.0.127.in-addr.arpa", DnsRecordType::ptr},
      {kIpv6, "2.0.0.127.ok.test", DnsRecordType::txt},
  };
  DnsProbeOptions options;
  options.timeout = 700ms;
  auto start = std::chrono::steady_clock::now();
  std::vector<DnsResult> results = run(queries, options);
  double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  auto outcome = [&](std::size_t index) {
    return std::string(dns_outcome_name(results[index].outcome));
  };
  EXPECT_EQ(outcome(0), "answer");
  EXPECT_EQ(results[0].answers, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(outcome(1), "answer");
  EXPECT_EQ(results[1].answers, std::vector<std::string>{"localhost"});
  EXPECT_EQ(outcome(2), "answer");
  EXPECT_EQ(results[2].answers,
            std::vector<std::string>{"127.0.0.2 is listed in ok.test (test point)"});
  EXPECT_EQ(results[3].answers, std::vector<std::string>{"127.0.0.2"});
  EXPECT_EQ(outcome(4), "nxdomain");
  EXPECT_EQ(outcome(5), "nodata");
  EXPECT_EQ(outcome(6), "answer");
  EXPECT_EQ(results[7].answers, std::vector<std::string>{"127.255.255.254"});
  EXPECT_EQ(outcome(8), "nxdomain");
  EXPECT_EQ(outcome(9), "timeout");
  EXPECT_EQ(outcome(10), "refused");
  EXPECT_EQ(outcome(11), "servfail");
  EXPECT_EQ(outcome(12), "timeout");
  EXPECT_EQ(outcome(13), "unreachable");
  EXPECT_EQ(outcome(14), "answer");
  EXPECT_EQ(outcome(15), "unreachable");
  EXPECT_EQ(outcome(16), "answer");
  EXPECT_GE(results[12].latency_ms, 650);
  // Compared with the timeouts of the same run, not with wall times.
  EXPECT_LT(results[0].latency_ms, results[12].latency_ms / 2);
  EXPECT_LT(results[13].latency_ms, results[12].latency_ms / 2)
      << "an ICMP port-unreachable ends the query at once";
  // Everything ran at once: three timeouts one after the other take 2.1 s.
  EXPECT_LT(wall_ms, 700 * 2);
}

// c-ares 1.18 waits 300 + 600 ms; 1.22+ draws the second wait between 300 and
// 600 ms (host/cares_compat.h). Either way the second try happened and waited
// at least the timeout.
TEST_F(DnsProbeLive, SecondTryWaitsAtLeastAsLong) {
  DnsProbeOptions options;
  options.timeout = 300ms;
  options.tries = 2;
  std::vector<DnsResult> results = run({{kSilent, "localhost.", DnsRecordType::a}}, options);
  EXPECT_EQ(results[0].outcome, DnsOutcome::timeout);
  EXPECT_GE(results[0].latency_ms, kTwoTriesShortestWaitInTimeouts * 300 * 0.95);
  // No third try: that would add another doubled wait (2.1 s in all on 1.18).
  EXPECT_LT(results[0].latency_ms, 300 + 600 + 1200);
}

TEST_F(DnsProbeLive, InFlightCapQueuesTheRest) {
  std::vector<DnsQuery> queries;
  for (int index = 0; index < 8; ++index) {
    // Appended, not `"q" + ... + ".test"`: GCC 12 at -O3 reports a false
    // -Wrestrict inside std::string's operator+ for that form.
    std::string name = "q";
    name += std::to_string(index);
    name += ".test";
    queries.push_back({kSilent, name, DnsRecordType::a});
  }
  DnsProbeOptions options;
  options.timeout = 300ms;
  options.maximum_in_flight_per_server = 4;
  auto start = std::chrono::steady_clock::now();
  std::vector<DnsResult> results = run(queries, options);
  double capped_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  options.maximum_in_flight_per_server = 32;
  start = std::chrono::steady_clock::now();
  run(queries, options);
  double uncapped_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  for (const DnsResult& result : results) EXPECT_EQ(result.outcome, DnsOutcome::timeout);
  EXPECT_GE(capped_ms, 2 * 300 - 20);
  // Without the cap all eight wait one timeout together: less than the two rounds.
  EXPECT_LT(uncapped_ms, capped_ms * 0.75);
}

TEST_F(DnsProbeLive, ManyQueriesToOneServerAllAnswered) {
  std::vector<DnsQuery> queries;
  for (int index = 0; index < 2000; ++index) {
    queries.push_back(
        {kHealthy,
         std::to_string(index % 250) + "." + std::to_string(index / 250) + ".0.127.all.test",
         DnsRecordType::a});
  }
  std::vector<DnsResult> results = run(queries, DnsProbeOptions{});
  int answered = 0;
  std::map<std::string, int> others;
  for (const DnsResult& result : results) {
    answered += result.outcome == DnsOutcome::answer;
    if (result.outcome != DnsOutcome::answer)
      others[std::string(dns_outcome_name(result.outcome)) + " " + result.detail]++;
  }
  std::string seen;
  for (const auto& [outcome, count] : others) seen += outcome + ": " + std::to_string(count) + "; ";
  EXPECT_EQ(answered, 2000) << seen;
}

// AAAA, for smtp.identity's forward check of IPv6 sending addresses: unbound
// answers localhost. with ::1 from its built-in zone, and an A-only name with
// NODATA.
TEST_F(DnsProbeLive, AaaaRecords) {
  std::vector<DnsResult> results = run({{kHealthy, "localhost.", DnsRecordType::aaaa},
                                        {kHealthy, "2.0.0.127.ok.test", DnsRecordType::aaaa},
                                        {kIpv6, "localhost.", DnsRecordType::aaaa}},
                                       DnsProbeOptions{});
  EXPECT_EQ(results[0].outcome, DnsOutcome::answer) << results[0].detail;
  EXPECT_EQ(results[0].answers, std::vector<std::string>{"::1"});
  EXPECT_EQ(results[1].outcome, DnsOutcome::nodata);
  EXPECT_EQ(results[2].answers, std::vector<std::string>{"::1"});
}

}  // namespace
}  // namespace qharden
