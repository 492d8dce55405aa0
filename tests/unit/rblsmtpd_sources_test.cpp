#include <gtest/gtest.h>

#include <cctype>

#include "config/config.h"
#include "engine/context.h"
#include "engine/registry.h"
#include "host/host.h"
#include "parsers/getopt.h"
#include "rblsmtpd_sources/zones.h"

namespace qharden {
namespace {

std::string fixture(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

std::string test_name(std::string name) {
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

ServiceCommand command(const std::string& subject, const std::string& line) {
  ServiceCommand result;
  result.subject = subject;
  result.argv = split_words(line);
  return result;
}

struct ZoneNameCase {
  const char* zone;
  bool valid;
};

class RblsmtpdZoneNames : public testing::TestWithParam<ZoneNameCase> {};

TEST_P(RblsmtpdZoneNames, ValidDnsNames) {
  EXPECT_EQ(!dns_zone_problem(GetParam().zone).has_value(), GetParam().valid) << GetParam().zone;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RblsmtpdZoneNames,
    testing::Values(ZoneNameCase{"zen.spamhaus.org", true}, ZoneNameCase{"zen.spamhaus.org.", true},
                    ZoneNameCase{"bl_1.example", true}, ZoneNameCase{"localbl", true},
                    ZoneNameCase{"", false}, ZoneNameCase{".", false},
                    ZoneNameCase{"bad zone.example", false}, ZoneNameCase{"a..example", false},
                    ZoneNameCase{"-a.example", false}, ZoneNameCase{"a-.example", false},
                    ZoneNameCase{"$RBL", false}, ZoneNameCase{"127.0.0.2", false},
                    ZoneNameCase{"a/b.example", false}),
    [](const testing::TestParamInfo<ZoneNameCase>& parameter) {
      return test_name(std::string("zone_") + parameter.param.zone) + "_" +
             std::to_string(parameter.index);
    });

TEST(RblsmtpdZoneNamesLength, LongNamesLeaveNoRoomForTheAddress) {
  std::string label(60, 'a');
  std::string zone = label + "." + label + "." + label + "." + label;  // 243 characters
  EXPECT_TRUE(dns_zone_problem(zone).has_value());
  EXPECT_TRUE(dns_zone_problem(std::string(64, 'a') + ".example").has_value());
}

TEST(RblsmtpdDefunctZones, BuiltinListMatchesZonesAndBelow) {
  Expected<std::vector<DefunctZone>> zones =
      load_defunct_zones(builtin_defunct_zones_text(), "builtin");
  ASSERT_TRUE(zones) << zones.error().message;
  EXPECT_GE(zones->size(), 6u);
  const DefunctZone* ahbl = find_defunct_zone(*zones, "dnsbl.ahbl.org");
  ASSERT_NE(ahbl, nullptr);
  EXPECT_EQ(ahbl->zone, "ahbl.org");
  EXPECT_EQ(ahbl->since, "2015-01-01");
  EXPECT_TRUE(ahbl->lists_everything);
  EXPECT_NE(find_defunct_zone(*zones, "ahbl.org"), nullptr);
  EXPECT_EQ(find_defunct_zone(*zones, "notahbl.org"), nullptr);
  EXPECT_EQ(find_defunct_zone(*zones, "zen.spamhaus.org"), nullptr);
  const DefunctZone* dsbl = find_defunct_zone(*zones, "list.dsbl.org");
  ASSERT_NE(dsbl, nullptr);
  EXPECT_FALSE(dsbl->lists_everything);
}

TEST(RblsmtpdDefunctZones, BadTomlIsAnErrorNotAnException) {
  Expected<std::vector<DefunctZone>> zones = load_defunct_zones("[[zone]\nzone = 1\n", "x.toml");
  ASSERT_FALSE(zones);
  EXPECT_EQ(zones.error().message.rfind("x.toml:1", 0), 0u) << zones.error().message;
  EXPECT_FALSE(load_defunct_zones("[[zone]]\nsince = \"1\"\n", "x.toml"));
}

struct CollectCase {
  const char* name;
  const char* line;
  const char* expected;  // "r:zone:c:b ..." per use; c/b = fail closed / permanent; d = default
  std::size_t option_errors;
};

class RblsmtpdCollect : public testing::TestWithParam<CollectCase> {};

TEST_P(RblsmtpdCollect, ReadsOptionsInOrder) {
  RblsmtpdZones zones = collect_rblsmtpd_zones({command("s", GetParam().line)});
  std::string rendered;
  for (const ZoneUse& use : zones.uses) {
    if (!rendered.empty()) rendered += " ";
    rendered += std::string(1, use.option) + ":" + use.zone;
    if (use.fail_closed) rendered += ":c";
    if (use.permanent_refusal) rendered += ":b";
    if (use.implicit_default) rendered += ":d";
  }
  EXPECT_EQ(rendered, GetParam().expected);
  EXPECT_EQ(zones.option_errors.size(), GetParam().option_errors);
}

INSTANTIATE_TEST_SUITE_P(
    Table, RblsmtpdCollect,
    testing::Values(CollectCase{"plesk",
                                "/var/qmail/bin/tcp-env /usr/sbin/rblsmtpd -r sbl-xbl.spamhaus.org "
                                "/var/qmail/bin/relaylock /var/qmail/bin/qmail-smtpd",
                                "r:sbl-xbl.spamhaus.org", 0},
                    CollectCase{"flags affect later zones",
                                "rblsmtpd -r A.example. -c -b -r b.example -C -a c.example q",
                                "r:a.example r:b.example:c:b a:c.example:b", 0},
                    CollectCase{"bundled flags", "rblsmtpd -cbr x.example q", "r:x.example:c:b", 0},
                    CollectCase{"no -r means the upstream default", "rblsmtpd -a ok.example -c q",
                                "a:ok.example r:rbl.maps.vix.com:c:d", 0},
                    CollectCase{"unknown option stops", "rblsmtpd -r a.example -x -r b.example q",
                                "r:a.example", 1},
                    CollectCase{"no program", "rblsmtpd -r a.example", "r:a.example", 1},
                    CollectCase{"no rblsmtpd", "tcpserver -R 0 25 qmail-smtpd", "", 0},
                    CollectCase{"two in a chain", "rblsmtpd -r a.example rblsmtpd -r b.example q",
                                "r:a.example r:b.example", 0}),
    [](const testing::TestParamInfo<CollectCase>& parameter) {
      return test_name(parameter.param.name);
    });

TEST(RblsmtpdCollectCommands, DisabledServicesAndRblsmtpdVariable) {
  ServiceCommand disabled = command("off", "rblsmtpd -r a.example q");
  disabled.enabled = false;
  ServiceCommand bypassed = command("env", "rblsmtpd -r b.example q");
  bypassed.environment["RBLSMTPD"] = "";
  RblsmtpdZones zones = collect_rblsmtpd_zones({disabled, bypassed});
  ASSERT_EQ(zones.uses.size(), 1u);
  EXPECT_EQ(zones.uses[0].zone, "b.example");
  EXPECT_TRUE(zones.uses[0].lookups_skipped);
  EXPECT_EQ(zones.rblsmtpd_command_lines, 1);
}

class RblsmtpdSourcesRule : public testing::Test {
 protected:
  std::vector<Finding> check(const std::string& root, bool offline) {
    Expected<RootedHost> host = RootedHost::open(root);
    EXPECT_TRUE(host) << host.error().message;
    AuditContext context(*host, config_, offline);
    return rule_->check(context);
  }

  static const Finding* find(const std::vector<Finding>& findings, const std::string& subject) {
    for (const Finding& finding : findings) {
      if (finding.subject == subject) return &finding;
    }
    return nullptr;
  }

  Config config_ = *load_builtin_config();
  const Rule* rule_ = find_rule("rblsmtpd.sources");
};

TEST_F(RblsmtpdSourcesRule, Info) {
  ASSERT_NE(rule_, nullptr);
  EXPECT_EQ(rule_->info().severity, Severity::critical);
  EXPECT_TRUE(rule_->info().can_fix);
  EXPECT_TRUE(rule_->info().fixes_only_when_named);
}

struct ZoneExpectation {
  const char* zone;
  Status status;
  Severity severity;
  const char* verdict;  // "" = null
  const char* message_part;
};

TEST_F(RblsmtpdSourcesRule, OneFindingPerZone) {
  std::vector<Finding> findings = check(fixture("rbl-defunct"), true);
  for (const ZoneExpectation& expected : {
           ZoneExpectation{"dnsbl.ahbl.org", Status::fail, Severity::critical, "defunct",
                           "refuses every client"},
           ZoneExpectation{"zen.spamhaus.org", Status::skip, Severity::critical, "",
                           "--offline: no DNS queries"},
           ZoneExpectation{"bad zone..example", Status::error, Severity::critical, "",
                           "' ' cannot appear"},
           ZoneExpectation{"list.dsbl.org", Status::fail, Severity::critical, "defunct",
                           "refuses it with 451"},
           ZoneExpectation{"rbl.maps.vix.com", Status::fail, Severity::warning, "defunct",
                           "without any -r"},
           ZoneExpectation{"sbl.spamhaus.org", Status::skip, Severity::critical, "",
                           "RBLSMTPD is set"},
       }) {
    const Finding* finding = find(findings, expected.zone);
    ASSERT_NE(finding, nullptr) << expected.zone;
    EXPECT_EQ(finding->status, expected.status) << expected.zone << ": " << finding->message;
    EXPECT_EQ(finding->severity, expected.severity) << expected.zone;
    if (std::string(expected.verdict).empty()) {
      EXPECT_TRUE(finding->evidence["verdict"].is_null()) << expected.zone;
    } else {
      EXPECT_EQ(finding->evidence["verdict"], expected.verdict) << expected.zone;
    }
    EXPECT_NE(finding->message.find(expected.message_part), std::string::npos)
        << expected.zone << ": " << finding->message;
    EXPECT_FALSE(finding->fixable) << "no plan yet";
  }
  const Finding* typo = find(findings, "/service/smtpd-typo/run");
  ASSERT_NE(typo, nullptr);
  EXPECT_EQ(typo->status, Status::error);
  EXPECT_EQ(findings.size(), 7u);
}

TEST_F(RblsmtpdSourcesRule, UsedByListsTheCommandLines) {
  std::vector<Finding> findings = check(fixture("rbl-defunct"), true);
  const Finding* zen = find(findings, "zen.spamhaus.org");
  ASSERT_NE(zen, nullptr);
  EXPECT_EQ(zen->evidence["used_by"],
            nlohmann::json({"/service/smtpd/run", "/service/submission/run"}));
  EXPECT_EQ(zen->evidence["not_queried_by"], nlohmann::json({"/service/submission/run"}));
  const Finding* ahbl = find(findings, "dnsbl.ahbl.org");
  ASSERT_NE(ahbl, nullptr);
  EXPECT_EQ(ahbl->evidence["used_by"], nlohmann::json({"/service/smtpd/run"}));
  EXPECT_NE(ahbl->message.find("2015-01-01"), std::string::npos);
}

TEST_F(RblsmtpdSourcesRule, LiveZonesSayTheProbeIsNotThereYet) {
  std::vector<Finding> findings = check(fixture("rbl-defunct"), false);
  const Finding* zen = find(findings, "zen.spamhaus.org");
  ASSERT_NE(zen, nullptr);
  EXPECT_EQ(zen->status, Status::skip);
  EXPECT_NE(zen->message.find("live DNSBL probe not implemented yet (issue 4)"), std::string::npos);
}

TEST_F(RblsmtpdSourcesRule, NoRblsmtpdIsOneSkip) {
  std::vector<Finding> findings = check(fixture("resolv-missing"), true);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].status, Status::skip);
  EXPECT_EQ(findings[0].subject, "rblsmtpd.sources");
}

}  // namespace
}  // namespace qharden
