// dnsbl.self with canned DNS (the real unbound is in
// tests/integration/identity_dnsbl_test.sh): no query leaves the process.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "canned_dns.h"
#include "config/config.h"
#include "dnsbl_self/classify.h"
#include "engine/context.h"
#include "engine/registry.h"
#include "host/dns_probe.h"
#include "host/host.h"

namespace qharden {
namespace {

std::string fixture(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

using testing::canned;
using testing::CannedDns;

// Zones named after what they do; addresses 192.0.2.1 and 192.0.2.2.
DnsResult listings(const DnsQuery& query) {
  const std::string& name = query.name;
  auto zone_is = [&](const std::string& zone) { return name.ends_with("." + zone); };
  if (zone_is("blocked.test")) return canned(DnsOutcome::answer, {"127.255.255.254"});
  if (zone_is("silent.test") && !name.starts_with("2.0.0.127") && !name.starts_with("1.0.0.127"))
    return canned(DnsOutcome::timeout);
  if (name.starts_with("2.0.0.127.")) {
    return zone_is("dead.test") ? canned(DnsOutcome::nxdomain)
                                : canned(DnsOutcome::answer, {"127.0.0.2"});
  }
  if (name.starts_with("1.0.0.127.")) {
    return zone_is("everything.test") ? canned(DnsOutcome::answer, {"127.0.0.2"})
                                      : canned(DnsOutcome::nxdomain);
  }
  if (name == "1.2.0.192.listed.test") return canned(DnsOutcome::answer, {"127.0.0.4"});
  if (name == "2.2.0.192.bl.spamcop.net") return canned(DnsOutcome::answer, {"127.0.0.2"});
  if (name == "2.2.0.192.zen.spamhaus.org")
    return canned(DnsOutcome::answer, {"127.0.0.10", "127.0.0.4"});
  if (name == "1.2.0.192.partial.test") return canned(DnsOutcome::answer, {"127.0.0.2"});
  if (name == "2.2.0.192.partial.test") return canned(DnsOutcome::servfail);
  return canned(DnsOutcome::nxdomain);
}

class DnsblSelfRule : public ::testing::Test {
 protected:
  std::vector<Finding> check(const std::string& overrides, bool offline = false) {
    Expected<Config> config = load_config_from_text(overrides, "test.toml");
    EXPECT_TRUE(config) << config.error().message;
    config_ = *config;
    Expected<RootedHost> host = RootedHost::open(fixture("identity"));
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
  const Rule* rule_ = find_rule("dnsbl.self");
};

constexpr const char* kZones =
    "[rules.\"dnsbl.self\"]\naddresses = [\"192.0.2.1\", \"192.0.2.2\", \"2001:db8::1\"]\n"
    "resolvers = [\"127.0.0.53\"]\nzones = [\"ok.test\", \"listed.test\", \"blocked.test\", "
    "\"dead.test\", \"everything.test\", \"silent.test\", \"bl.spamcop.net\", "
    "\"zen.spamhaus.org\", \"partial.test\"]\n";

TEST_F(DnsblSelfRule, Info) {
  ASSERT_NE(rule_, nullptr);
  EXPECT_EQ(rule_->info().severity, Severity::critical);
  EXPECT_FALSE(rule_->info().can_fix);
}

TEST_F(DnsblSelfRule, OneFindingPerZoneAllQueriesInOneRound) {
  CannedDns dns(listings);
  std::vector<Finding> findings = check(kZones);
  ASSERT_EQ(findings.size(), 9u);
  EXPECT_EQ(dns.rounds, 1) << "test points and every address go out together";
  struct Case {
    const char* zone;
    Status status;
    const char* verdict;
    const char* message_part;
  };
  for (const Case& expected : {
           Case{"ok.test", Status::pass, "ok", "lists none"},
           Case{"listed.test", Status::fail, "listed",
                "192.0.2.1 (127.0.0.4: listed, code "
                "meaning unknown)"},
           Case{"blocked.test", Status::error, "resolver-blocked", "127.255.255.254"},
           Case{"dead.test", Status::error, "test-point-missing", "2.0.0.127.dead.test"},
           Case{"everything.test", Status::error, "lists-everything", "1.0.0.127"},
           Case{"silent.test", Status::error, "error", "192.0.2.1: timeout"},
           Case{"bl.spamcop.net", Status::fail, "listed", "reported by SpamCop users"},
           Case{"zen.spamhaus.org", Status::fail, "listed", "Spamhaus PBL (ISP)"},
           Case{"partial.test", Status::fail, "listed", "no answer for 192.0.2.2: servfail"},
       }) {
    const Finding* finding = find(findings, expected.zone);
    ASSERT_NE(finding, nullptr) << expected.zone;
    EXPECT_EQ(finding->status, expected.status) << expected.zone << ": " << finding->message;
    EXPECT_EQ(finding->evidence["verdict"], expected.verdict) << expected.zone;
    EXPECT_NE(finding->message.find(expected.message_part), std::string::npos)
        << expected.zone << ": " << finding->message;
  }
  EXPECT_EQ(find(findings, "bl.spamcop.net")->severity, Severity::critical);
  const Finding* zen = find(findings, "zen.spamhaus.org");
  EXPECT_NE(zen->message.find("Spamhaus XBL"), std::string::npos) << zen->message;
  EXPECT_FALSE(zen->evidence["terms"].get<std::string>().empty());
  // IPv6 only where the zone answers for it (Spamhaus), in the nibble form.
  EXPECT_TRUE(dns.was_asked(
      "127.0.0.53 "
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org"));
  EXPECT_EQ(find(findings, "ok.test")->evidence["ipv6_not_queried"],
            nlohmann::json({"2001:db8::1"}));
  const Finding* listed = find(findings, "listed.test");
  EXPECT_EQ(listed->evidence["addresses"][0]["verdict"], "listed");
  EXPECT_EQ(listed->evidence["addresses"][1]["verdict"], "not-listed");
}

TEST_F(DnsblSelfRule, DefaultZonesHaveTermsAndLeaveSpamhausOut) {
  CannedDns dns(listings);
  std::vector<Finding> findings =
      check("[rules.\"dnsbl.self\"]\naddresses = [\"192.0.2.1\"]\nresolvers = [\"127.0.0.53\"]\n");
  std::vector<std::string> zones;
  for (const Finding& finding : findings) zones.push_back(finding.subject);
  EXPECT_EQ(zones,
            (std::vector<std::string>{"psbl.surriel.com", "bl.mailspike.net", "bl.spamcop.net"}));
  for (const std::string& query : dns.asked)
    EXPECT_EQ(query.find("spamhaus"), std::string::npos) << query;
  for (const Finding& finding : findings)
    EXPECT_NE(finding.evidence["terms"].get<std::string>().find("http"), std::string::npos);
}

TEST_F(DnsblSelfRule, ZoneThatRefusesPublicResolversIsAnErrorThroughOne) {
  // Google-style: NXDOMAIN for every address, the test point too (as if clean).
  CannedDns dns([](const DnsQuery& query) {
    return query.name.starts_with("2.0.0.127.") ? canned(DnsOutcome::answer, {"127.0.0.2"})
                                                : canned(DnsOutcome::nxdomain);
  });
  std::vector<Finding> findings = check(
      "[rules.\"dnsbl.self\"]\naddresses = [\"192.0.2.1\"]\nresolvers = [\"8.8.8.8\"]\n"
      "zones = [\"zen.spamhaus.org\", \"psbl.surriel.com\"]\n");
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].status, Status::error) << findings[0].message;
  EXPECT_EQ(findings[0].evidence["verdict"], "resolver-blocked");
  EXPECT_NE(findings[0].message.find("public resolver 8.8.8.8"), std::string::npos)
      << findings[0].message;
  EXPECT_EQ(findings[1].status, Status::pass) << "PSBL answers public resolvers";
}

TEST_F(DnsblSelfRule, OfflineSkips) {
  CannedDns dns(listings);
  std::vector<Finding> findings = check(kZones, true);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].status, Status::skip);
  EXPECT_EQ(dns.rounds, 0);
}

TEST(DnsblClassify, ResolverBlockedIsNeverAListing) {
  DnsblZoneData data;
  data.codes["127.0.0.2"] = "spam";
  TestPointResults points{canned(DnsOutcome::answer, {"127.0.0.2"}), canned(DnsOutcome::nxdomain)};
  ZoneJudgement judged =
      judge_zone("z.test", &data, points,
                 {{"192.0.2.1", canned(DnsOutcome::answer, {"127.0.0.2"})},
                  {"192.0.2.2", canned(DnsOutcome::answer, {"127.255.255.255"})}});
  EXPECT_EQ(judged.status, Status::error);
  EXPECT_EQ(judged.verdict, "resolver-blocked");
  EXPECT_EQ(judged.addresses[1].verdict, "resolver-blocked");
}

TEST(DnsblClassify, ZoneDataLoadsAndRejectsBadSeverity) {
  Expected<std::vector<DnsblZoneData>> zones =
      load_dnsbl_zone_data(builtin_dnsbl_zones_text(), "builtin");
  ASSERT_TRUE(zones) << zones.error().message;
  const DnsblZoneData* zen = find_dnsbl_zone_data(*zones, "ZEN.spamhaus.org.");
  ASSERT_NE(zen, nullptr);
  EXPECT_TRUE(zen->blocks_public_resolvers);
  EXPECT_FALSE(zen->is_default);
  EXPECT_EQ(zen->codes.at("127.0.0.4").rfind("Spamhaus XBL", 0), 0u);
  Expected<std::vector<DnsblZoneData>> bad =
      load_dnsbl_zone_data("[[zone]]\nzone = \"a.test\"\nseverity = \"huge\"\n", "x.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message.rfind("x.toml:1", 0), 0u) << bad.error().message;
  EXPECT_FALSE(load_dnsbl_zone_data("[[zone]\n", "x.toml"));
}

TEST(DnsblClassify, NamesForBothFamilies) {
  EXPECT_EQ(*dnsbl_name_for_address("192.0.2.1", "bl.test"), "1.2.0.192.bl.test");
  EXPECT_EQ(*dnsbl_name_for_address("2001:db8::1", "bl.test."),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test");
  EXPECT_TRUE(
      is_resolver_error_text("Error: open resolver; https://www.spamhaus.org/returnc/pub/"));
  EXPECT_FALSE(is_resolver_error_text("127.0.0.2 is listed"));
}

}  // namespace
}  // namespace qharden
