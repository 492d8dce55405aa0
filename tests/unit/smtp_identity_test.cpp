// smtp.identity with canned DNS (the real unbound is in
// tests/integration/identity_dnsbl_test.sh): no query leaves the process.
#include <gtest/gtest.h>

#include <functional>

#include "canned_dns.h"
#include "config/config.h"
#include "engine/context.h"
#include "engine/registry.h"
#include "host/dns_probe.h"
#include "host/host.h"
#include "host/sending_addresses.h"

namespace qharden {
namespace {

std::string fixture(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

using testing::canned;
using testing::CannedDns;

DnsResult identity_dns(const DnsQuery& query) {
  const std::string& name = query.name;
  if (query.type == DnsRecordType::ptr) {
    if (name == "1.2.0.192.in-addr.arpa") return canned(DnsOutcome::answer, {"mail.example.test"});
    if (name == "2.2.0.192.in-addr.arpa") return canned(DnsOutcome::answer, {"noa.example.test"});
    if (name == "3.2.0.192.in-addr.arpa") return canned(DnsOutcome::nxdomain);
    if (name == "4.2.0.192.in-addr.arpa") return canned(DnsOutcome::servfail);
    if (name == "5.2.0.192.in-addr.arpa")
      return canned(DnsOutcome::answer, {"elsewhere.example.test"});
    if (name.starts_with("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"))
      return canned(DnsOutcome::answer, {"mail.example.test."});
    return canned(DnsOutcome::nxdomain);
  }
  if (name == "mail.example.test") {
    return query.type == DnsRecordType::a ? canned(DnsOutcome::answer, {"192.0.2.1"})
                                          : canned(DnsOutcome::answer, {"2001:db8::1"});
  }
  if (name == "elsewhere.example.test") return canned(DnsOutcome::answer, {"198.51.100.9"});
  return canned(DnsOutcome::nxdomain);
}

class SmtpIdentityRule : public ::testing::Test {
 protected:
  std::vector<Finding> check(const std::string& root, const std::string& overrides,
                             bool offline = false) {
    Expected<Config> config = load_config_from_text(overrides, "test.toml");
    EXPECT_TRUE(config) << config.error().message;
    config_ = *config;
    Expected<RootedHost> host = RootedHost::open(root);
    EXPECT_TRUE(host) << host.error().message;
    AuditContext context(*host, config_, offline);
    return rule_->check(context);
  }

  static const Finding* find(const std::vector<Finding>& findings, const std::string& subject) {
    for (const Finding& finding : findings)
      if (finding.subject == subject) return &finding;
    return nullptr;
  }

  Config config_;
  const Rule* rule_ = find_rule("smtp.identity");
};

constexpr const char* kAddresses =
    "[rules.\"smtp.identity\"]\naddresses = [\"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\", "
    "\"192.0.2.4\", \"192.0.2.5\", \"2001:DB8::1\"]\n";

TEST_F(SmtpIdentityRule, Info) {
  ASSERT_NE(rule_, nullptr);
  EXPECT_EQ(rule_->info().severity, Severity::warning);
  EXPECT_FALSE(rule_->info().can_fix);
  EXPECT_FALSE(rule_->info().explanation.empty());
}

TEST_F(SmtpIdentityRule, OneFindingPerAddress) {
  CannedDns dns(identity_dns);
  std::vector<Finding> findings = check(fixture("identity"), kAddresses);
  ASSERT_EQ(findings.size(), 6u);
  struct Case {
    const char* address;
    Status status;
    const char* message_part;
  };
  for (const Case& expected : {
           Case{"192.0.2.1", Status::pass, "confirmed by its A record"},
           Case{"192.0.2.2", Status::fail, "no A record of that name points back"},
           Case{"192.0.2.3", Status::fail, "has no PTR record"},
           Case{"192.0.2.4", Status::error, "servfail"},
           Case{"192.0.2.5", Status::fail, "not forward-confirmed"},
           Case{"2001:DB8::1", Status::pass, "confirmed by its AAAA record"},
       }) {
    const Finding* finding = find(findings, expected.address);
    ASSERT_NE(finding, nullptr) << expected.address;
    EXPECT_EQ(finding->status, expected.status) << expected.address << ": " << finding->message;
    EXPECT_EQ(finding->severity, Severity::warning);
    EXPECT_NE(finding->message.find(expected.message_part), std::string::npos)
        << expected.address << ": " << finding->message;
  }
  EXPECT_EQ(dns.rounds, 2) << "PTRs at once, then every forward lookup at once";
  const Finding* good = find(findings, "192.0.2.1");
  EXPECT_EQ(good->evidence["confirmed"], nlohmann::json({"mail.example.test"}));
  EXPECT_EQ(good->evidence["from"], "config");
  EXPECT_EQ(good->evidence["control"]["helohost"]["from"], "me");
  EXPECT_EQ(good->evidence["control"]["smtpgreeting"]["name"], "mail.example.test");
  EXPECT_EQ(good->evidence["resolver"], "127.0.0.53");
}

TEST_F(SmtpIdentityRule, HelohostThatDiffersFailsNamingTheFile) {
  CannedDns dns(identity_dns);
  std::vector<Finding> findings = check(fixture("identity-mismatch"),
                                        "[rules.\"smtp.identity\"]\naddresses = [\"192.0.2.1\"]\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].status, Status::fail) << findings[0].message;
  EXPECT_NE(findings[0].message.find("control/helohost says other.example.test"), std::string::npos)
      << findings[0].message;
  // smtpgreeting "Mail.Example.Test." is the same host name.
  EXPECT_EQ(findings[0].evidence["mismatched"], nlohmann::json({"helohost"}));
}

TEST_F(SmtpIdentityRule, MissingMeFails) {
  CannedDns dns(identity_dns);
  std::vector<Finding> findings =
      check(fixture("resolv-missing"), "[rules.\"smtp.identity\"]\naddresses = [\"192.0.2.1\"]\n");
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].status, Status::fail);
  EXPECT_NE(findings[0].message.find("control/me is missing"), std::string::npos)
      << findings[0].message;
}

TEST_F(SmtpIdentityRule, OfflineSkipsWithoutAQuery) {
  CannedDns dns(identity_dns);
  std::vector<Finding> findings = check(fixture("identity"), kAddresses, true);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].status, Status::skip);
  EXPECT_EQ(dns.rounds, 0);
}

TEST_F(SmtpIdentityRule, RouteDiscoveryAndNoRoute) {
  CannedDns dns(identity_dns);
  replace_route_source_for_tests([](const std::string& probe) -> std::string {
    return probe == "1.1.1.1" ? "192.0.2.1" : "";
  });
  std::vector<Finding> findings = check(fixture("identity"), "");
  replace_route_source_for_tests(nullptr);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].subject, "192.0.2.1");
  EXPECT_EQ(findings[0].evidence["from"], "route");
  EXPECT_EQ(findings[0].evidence["route_probe"], "1.1.1.1");

  replace_route_source_for_tests([](const std::string&) -> std::string { return ""; });
  findings = check(fixture("identity"), "");
  replace_route_source_for_tests(nullptr);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].status, Status::error);
  EXPECT_NE(findings[0].message.find("no sending address"), std::string::npos);
}

TEST(SendingAddresses, ConfiguredWinAndRepeatsGo) {
  SendingAddresses found =
      discover_sending_addresses({"192.0.2.1", "192.0.2.1", "2001:db8::2"}, {"1.1.1.1"});
  ASSERT_EQ(found.addresses.size(), 2u);
  EXPECT_TRUE(found.addresses[1].ipv6);
  EXPECT_EQ(found.addresses[0].from, "config");
}

TEST(SendingAddresses, KernelRouteOfLoopbackIsNotASendingAddress) {
  // 127.0.0.1 routes through lo from 127.0.0.1 in any namespace: refused.
  SendingAddresses found = discover_sending_addresses({}, {"127.0.0.1", "not-an-address"});
  EXPECT_TRUE(found.addresses.empty());
  ASSERT_EQ(found.notes.size(), 2u);
  EXPECT_NE(found.notes[0].find("not a public sending address"), std::string::npos);
  EXPECT_NE(found.notes[1].find("no IP address"), std::string::npos);
}

}  // namespace
}  // namespace qharden
