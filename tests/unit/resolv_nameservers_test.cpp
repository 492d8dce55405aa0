#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "host/dns_probe.h"

#include "config/config.h"
#include "engine/context.h"
#include "engine/registry.h"
#include "host/host.h"
#include "resolv_nameservers/live.h"

namespace qharden {
namespace {

std::string fixture(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

std::vector<Finding> check(const std::string& root, bool offline) {
  Expected<RootedHost> host = RootedHost::open(root);
  EXPECT_TRUE(host) << host.error().message;
  Config config = *load_builtin_config();
  AuditContext context(*host, config, offline);
  const Rule* rule = find_rule("resolv.nameservers");
  EXPECT_NE(rule, nullptr);
  return rule->check(context);
}

// The file-level finding of one kind ("worst-case-stall", "managed", ...).
const Finding* file_finding(const std::vector<Finding>& findings, const std::string& kind) {
  for (const Finding& finding : findings) {
    if (finding.subject == "/etc/resolv.conf" && finding.evidence.value("check", "") == kind) {
      return &finding;
    }
  }
  return nullptr;
}

std::vector<std::string> probe_subjects(const std::vector<Finding>& findings) {
  std::vector<std::string> subjects;
  for (const Finding& finding : findings) {
    if (finding.subject != "/etc/resolv.conf") subjects.push_back(finding.subject);
  }
  return subjects;
}

struct FixtureCase {
  const char* name;
  const char* fixture;
  std::vector<std::string> probed;  // used nameservers, in order
  int glibc_seconds;                // -1: no stall finding
  int djbdns_seconds;
  Status stall_status;
  const char* managed_by;  // "" when not managed
  bool too_many;
  bool unparsable;
  bool no_nameserver;
};

class ResolvNameserversFixture : public testing::TestWithParam<FixtureCase> {};

TEST_P(ResolvNameserversFixture, StaticFindings) {
  const FixtureCase& test_case = GetParam();
  std::vector<Finding> findings = check(fixture(test_case.fixture), true);
  EXPECT_EQ(probe_subjects(findings), test_case.probed);
  const Finding* stall = file_finding(findings, "worst-case-stall");
  if (test_case.glibc_seconds < 0) {
    EXPECT_EQ(stall, nullptr);
  } else {
    ASSERT_NE(stall, nullptr);
    EXPECT_EQ(stall->evidence["glibc_worst_case_s"], test_case.glibc_seconds);
    EXPECT_EQ(stall->evidence["djbdns_worst_case_s"], test_case.djbdns_seconds);
    EXPECT_EQ(stall->status, test_case.stall_status) << stall->message;
    EXPECT_EQ(stall->severity, Severity::info);
  }
  const Finding* managed = file_finding(findings, "managed");
  if (std::string(test_case.managed_by).empty()) {
    EXPECT_EQ(managed, nullptr);
  } else {
    ASSERT_NE(managed, nullptr);
    EXPECT_EQ(managed->evidence["managed_by"], test_case.managed_by);
    EXPECT_EQ(managed->status, Status::pass);
    EXPECT_NE(managed->message.find("change "), std::string::npos);
  }
  EXPECT_EQ(file_finding(findings, "too-many-nameservers") != nullptr, test_case.too_many);
  EXPECT_EQ(file_finding(findings, "unparsable") != nullptr, test_case.unparsable);
  EXPECT_EQ(file_finding(findings, "no-nameserver") != nullptr, test_case.no_nameserver);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ResolvNameserversFixture,
    testing::Values(FixtureCase{"too_many",
                                "resolv-too-many",
                                {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"},
                                28,
                                236,
                                Status::fail,
                                "",
                                true,
                                false,
                                false},
                    FixtureCase{"resolvconf_symlink",
                                "resolv-managed-run",
                                {"198.51.100.7"},
                                2,
                                59,
                                Status::pass,
                                "resolvconf",
                                false,
                                false,
                                false},
                    FixtureCase{"systemd_stub",
                                "resolv-systemd-stub",
                                {"127.0.0.53"},
                                10,
                                59,
                                Status::fail,
                                "systemd-resolved",
                                false,
                                false,
                                false},
                    FixtureCase{"network_manager",
                                "resolv-network-manager",
                                {"192.0.2.1"},
                                10,
                                59,
                                Status::fail,
                                "NetworkManager",
                                false,
                                false,
                                false},
                    FixtureCase{"no_nameserver",
                                "resolv-no-nameserver",
                                {"127.0.0.1"},
                                10,
                                59,
                                Status::fail,
                                "",
                                false,
                                false,
                                true},
                    FixtureCase{"unparsable",
                                "resolv-unparsable",
                                {"192.0.2.10", "192.0.2.13"},
                                30,
                                118,
                                Status::fail,
                                "",
                                false,
                                true,
                                false},
                    FixtureCase{"ipv6_scope",
                                "resolv-ipv6-scope",
                                {"fe80::1%eth0", "2001:db8::53", "192.0.2.53"},
                                5,
                                59,
                                Status::pass,
                                "",
                                false,
                                false,
                                false},
                    FixtureCase{"missing",
                                "resolv-missing",
                                {"127.0.0.1"},
                                -1,
                                0,
                                Status::skip,
                                "",
                                false,
                                false,
                                false}),
    [](const testing::TestParamInfo<FixtureCase>& parameter) { return parameter.param.name; });

TEST(ResolvNameservers, TooManyIsAWarningNamingTheIgnoredServers) {
  std::vector<Finding> findings = check(fixture("resolv-too-many"), true);
  const Finding* too_many = file_finding(findings, "too-many-nameservers");
  ASSERT_NE(too_many, nullptr);
  EXPECT_EQ(too_many->status, Status::fail);
  EXPECT_EQ(too_many->severity, Severity::warning);
  EXPECT_EQ(too_many->evidence["ignored_by_glibc"], nlohmann::json({"192.0.2.4"}));
  EXPECT_NE(too_many->message.find("192.0.2.4"), std::string::npos);
}

TEST(ResolvNameservers, StallEvidenceHasTheFormulaInputs) {
  std::vector<Finding> findings = check(fixture("resolv-too-many"), true);
  const Finding* stall = file_finding(findings, "worst-case-stall");
  ASSERT_NE(stall, nullptr);
  EXPECT_EQ(stall->evidence["nameservers"], 3);
  EXPECT_EQ(stall->evidence["timeout_s"], 5);
  EXPECT_EQ(stall->evidence["attempts"], 2);
  EXPECT_EQ(stall->evidence["glibc_worst_case_per_connection_s"], 56);
  EXPECT_EQ(stall->evidence["policy_glibc_worst_case_s"], 6);
  EXPECT_NE(stall->message.find("28 s"), std::string::npos) << stall->message;
}

TEST(ResolvNameservers, UnparsableLinesAreAnErrorNamingFileAndLine) {
  std::vector<Finding> findings = check(fixture("resolv-unparsable"), true);
  const Finding* unparsable = file_finding(findings, "unparsable");
  ASSERT_NE(unparsable, nullptr);
  EXPECT_EQ(unparsable->status, Status::error);
  EXPECT_EQ(unparsable->message.rfind("/etc/resolv.conf:3: ", 0), 0u) << unparsable->message;
  std::vector<int> lines;
  for (const auto& problem : unparsable->evidence["problems"]) lines.push_back(problem["line"]);
  EXPECT_EQ(lines, (std::vector<int>{3, 4, 5, 6}));
}

TEST(ResolvNameservers, SystemdStubSaysWhereToChange) {
  std::vector<Finding> findings = check(fixture("resolv-systemd-stub"), true);
  const Finding* managed = file_finding(findings, "managed");
  ASSERT_NE(managed, nullptr);
  EXPECT_NE(managed->message.find("/etc/systemd/resolved.conf"), std::string::npos);
  EXPECT_NE(
      managed->evidence["how"].get<std::string>().find("/run/systemd/resolve/stub-resolv.conf"),
      std::string::npos);
}

TEST(ResolvNameservers, OfflineProbesAreHonestSkips) {
  std::vector<Finding> findings = check(fixture("resolv-too-many"), true);
  for (const Finding& finding : findings) {
    if (finding.subject == "/etc/resolv.conf") continue;
    EXPECT_EQ(finding.status, Status::skip);
    EXPECT_EQ(finding.message, "--offline: no DNS queries");
    EXPECT_TRUE(finding.evidence["latency_ms"].is_null());
    EXPECT_TRUE(finding.evidence["error"].is_null());
  }
}

// Canned answers per server address: no query leaves the process. The real
// servers are in tests/integration/resolv_nameservers_test.sh.
class CannedDns {
 public:
  explicit CannedDns(std::map<std::string, DnsOutcome> outcomes) {
    replace_dns_probe_for_tests(
        [this, outcomes](const std::vector<DnsServer>& servers,
                         const std::vector<DnsQuery>& queries,
                         const DnsProbeOptions& options) -> Expected<std::vector<DnsResult>> {
          std::vector<DnsResult> results;
          for (const DnsQuery& query : queries) {
            asked.push_back(servers[query.server].describe() + " " +
                            std::string(dns_record_type_name(query.type)) + " " + query.name);
            auto outcome = outcomes.find(servers[query.server].describe());
            DnsOutcome result = outcome == outcomes.end() ? DnsOutcome::answer : outcome->second;
            double latency =
                result == DnsOutcome::timeout ? static_cast<double>(options.timeout.count()) : 3.0;
            results.push_back(DnsResult{result, latency, {}, ""});
          }
          return results;
        });
  }
  ~CannedDns() { replace_dns_probe_for_tests(nullptr); }
  std::vector<std::string> asked;
};

const Finding* subject(const std::vector<Finding>& findings, const std::string& name) {
  for (const Finding& finding : findings) {
    if (finding.subject == name) return &finding;
  }
  return nullptr;
}

TEST(ResolvNameservers, LiveProbesClassifyEachServer) {
  CannedDns dns({{"192.0.2.2", DnsOutcome::timeout},
                 {"192.0.2.3", DnsOutcome::refused},
                 {"192.0.2.4", DnsOutcome::servfail}});
  std::vector<Finding> findings = check(fixture("resolv-too-many"), false);
  const Finding* first = subject(findings, "192.0.2.1");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->status, Status::pass) << first->message;
  EXPECT_TRUE(first->evidence["error"].is_null());
  const Finding* silent = subject(findings, "192.0.2.2");
  ASSERT_NE(silent, nullptr);
  EXPECT_EQ(silent->status, Status::fail);
  EXPECT_EQ(silent->severity, Severity::warning);
  EXPECT_EQ(silent->evidence["error"], "timeout");
  EXPECT_EQ(silent->evidence["latency_ms"], 1500);
  // Default timeout:5 attempts:2, 3 servers: the second waits max(1, (5 << 1) / 3) = 3 s a try.
  EXPECT_NE(silent->message.find("glibc (tcp-env) waits 6 s on it per lookup"), std::string::npos)
      << silent->message;
  EXPECT_NE(silent->message.find("djbdns"), std::string::npos);
  EXPECT_EQ(subject(findings, "192.0.2.3")->evidence["error"], "refused");
  const Finding* fourth = subject(findings, "192.0.2.4");
  EXPECT_EQ(fourth->evidence["error"], "servfail");
  EXPECT_EQ(fourth->evidence["used_by"], nlohmann::json({"djbdns (tcpserver, rblsmtpd)"}));
  EXPECT_NE(std::find(dns.asked.begin(), dns.asked.end(), "192.0.2.1 A localhost."),
            dns.asked.end());
  EXPECT_NE(std::find(dns.asked.begin(), dns.asked.end(), "192.0.2.1 PTR 1.0.0.127.in-addr.arpa"),
            dns.asked.end());
}

TEST(ResolvNameservers, DeadFirstServerIsCritical) {
  CannedDns dns({{"192.0.2.1", DnsOutcome::timeout}});
  std::vector<Finding> findings = check(fixture("resolv-too-many"), false);
  const Finding* first = subject(findings, "192.0.2.1");
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->severity, Severity::critical);
  EXPECT_NE(first->message.find("every connection pays"), std::string::npos);
  EXPECT_NE(first->message.find("waits 10 s on it per lookup"), std::string::npos)
      << first->message;
  EXPECT_NE(first->message.find("20 s per connection"), std::string::npos) << first->message;
}

TEST(ResolvNameservers, NoNameserverMeansGlibcAsks127001) {
  CannedDns dns({});
  std::vector<Finding> findings = check(fixture("resolv-no-nameserver"), false);
  const Finding* local = subject(findings, "127.0.0.1");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->status, Status::pass);
  EXPECT_EQ(dns.asked.front(), "127.0.0.1 A localhost.");
}

TEST(ResolvNameservers, ScopeIdServerIsProbedWithItsScope) {
  CannedDns dns({{"fe80::1%eth0", DnsOutcome::other}});
  std::vector<Finding> findings = check(fixture("resolv-ipv6-scope"), false);
  const Finding* scoped = subject(findings, "fe80::1%eth0");
  ASSERT_NE(scoped, nullptr);
  EXPECT_EQ(scoped->status, Status::error);
  EXPECT_NE(std::find(dns.asked.begin(), dns.asked.end(), "fe80::1%eth0 A localhost."),
            dns.asked.end());
}

TEST(ResolvNameservers, PlanPutsHealthyFirstAndCommentsOutTheDead) {
  CannedDns dns({{"192.0.2.1", DnsOutcome::timeout}});
  Expected<RootedHost> host = RootedHost::open(fixture("resolv-too-many"));
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  AuditContext context(*host, config, false);
  const Rule* rule = find_rule("resolv.nameservers");
  std::vector<Finding> failing;
  for (const Finding& finding : rule->check(context)) {
    if (finding.status == Status::fail && finding.fixable) failing.push_back(finding);
  }
  Expected<std::vector<PlannedChange>> changes = rule->plan(context, failing);
  ASSERT_TRUE(changes) << changes.error().message;
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ(std::get<FileReplacement>((*changes)[0].action).after,
            "# four resolvers: glibc only ever asks the first three\nsearch example.org\n"
            "nameserver 192.0.2.2\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n"
            "# qharden: timeout on the probes: nameserver 192.0.2.1\n"
            "options timeout:1 attempts:2\n");
}

// The findings name ::1 as the parser writes it; a line that spells it out
// in full (or in upper case) is still the dead one, and is commented out.
TEST(ResolvNameservers, ADeadServerWrittenInAnotherFormIsCommentedOut) {
  for (const char* written : {"0:0:0:0:0:0:0:1", "0000::0001", "::1"}) {
    SCOPED_TRACE(written);
    std::string text = std::string("nameserver ") + written + "\nnameserver 192.0.2.2\n";
    Expected<std::string> rewritten = rewrite_resolv_conf(text, {{"::1", "timeout"}}, "");
    ASSERT_TRUE(rewritten) << rewritten.error().message;
    EXPECT_EQ(*rewritten, std::string("nameserver 192.0.2.2\n# qharden: timeout: nameserver ") +
                              written + "\n");
  }
}

TEST(ResolvNameservers, PlanNeverLeavesZeroNameservers) {
  CannedDns dns({{"192.0.2.1", DnsOutcome::timeout},
                 {"192.0.2.2", DnsOutcome::timeout},
                 {"192.0.2.3", DnsOutcome::timeout},
                 {"192.0.2.4", DnsOutcome::timeout}});
  Expected<RootedHost> host = RootedHost::open(fixture("resolv-too-many"));
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  AuditContext context(*host, config, false);
  const Rule* rule = find_rule("resolv.nameservers");
  std::vector<Finding> failing;
  for (const Finding& finding : rule->check(context)) {
    if (finding.status == Status::fail && finding.fixable) failing.push_back(finding);
  }
  Expected<std::vector<PlannedChange>> changes = rule->plan(context, failing);
  ASSERT_FALSE(changes);
  EXPECT_NE(changes.error().message.find("127.0.0.1"), std::string::npos);
}

TEST(ResolvNameservers, PlanRefusesAManagedFile) {
  CannedDns dns({{"127.0.0.53", DnsOutcome::timeout}});
  Expected<RootedHost> host = RootedHost::open(fixture("resolv-systemd-stub"));
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  AuditContext context(*host, config, false);
  const Rule* rule = find_rule("resolv.nameservers");
  std::vector<Finding> failing;
  for (const Finding& finding : rule->check(context)) {
    if (finding.status == Status::fail) failing.push_back(finding);
  }
  Expected<std::vector<PlannedChange>> changes = rule->plan(context, failing);
  ASSERT_FALSE(changes);
  EXPECT_NE(changes.error().message.find("/etc/systemd/resolved.conf"), std::string::npos)
      << changes.error().message;
}

TEST(ResolvNameservers, FourthServerIsUsedByDjbdnsOnly) {
  std::vector<Finding> findings = check(fixture("resolv-too-many"), true);
  for (const Finding& finding : findings) {
    if (finding.subject == "192.0.2.4") {
      EXPECT_EQ(finding.evidence["used_by"], nlohmann::json({"djbdns (tcpserver, rblsmtpd)"}));
    }
    if (finding.subject == "192.0.2.1") {
      EXPECT_EQ(finding.evidence["used_by"].size(), 2u);
    }
  }
}

TEST(ResolvNameservers, DnscacheipOfRunScriptsIsUsedToo) {
  std::vector<Finding> findings = check(fixture("daemontools"), true);
  bool found = false;
  for (const Finding& finding : findings) {
    if (finding.subject != "10.0.0.53") continue;
    found = true;
    EXPECT_EQ(finding.evidence["used_by"],
              nlohmann::json({"DNSCACHEIP of /service/qmail-submission/run"}));
  }
  EXPECT_TRUE(found);
}

TEST(ResolvNameservers, MissingFileIsASkip) {
  std::vector<Finding> findings = check(fixture("resolv-missing"), true);
  ASSERT_FALSE(findings.empty());
  EXPECT_EQ(findings[0].subject, "/etc/resolv.conf");
  EXPECT_EQ(findings[0].status, Status::skip);
  EXPECT_NE(findings[0].message.find("127.0.0.1"), std::string::npos);
}

}  // namespace
}  // namespace qharden
