#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>

#include "host/dns_probe.h"

#include <cctype>

#include "config/config.h"
#include "engine/context.h"
#include "engine/registry.h"
#include "host/host.h"
#include "parsers/getopt.h"
#include "rblsmtpd_sources/zones.h"
#include "temporary_tree.h"

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

class RblsmtpdZoneNames : public ::testing::TestWithParam<ZoneNameCase> {};

TEST_P(RblsmtpdZoneNames, ValidDnsNames) {
  EXPECT_EQ(!dns_zone_problem(GetParam().zone).has_value(), GetParam().valid) << GetParam().zone;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RblsmtpdZoneNames,
    ::testing::Values(ZoneNameCase{"zen.spamhaus.org", true},
                      ZoneNameCase{"zen.spamhaus.org.", true}, ZoneNameCase{"bl_1.example", true},
                      ZoneNameCase{"localbl", true}, ZoneNameCase{"", false},
                      ZoneNameCase{".", false}, ZoneNameCase{"bad zone.example", false},
                      ZoneNameCase{"a..example", false}, ZoneNameCase{"-a.example", false},
                      ZoneNameCase{"a-.example", false}, ZoneNameCase{"$RBL", false},
                      ZoneNameCase{"127.0.0.2", false}, ZoneNameCase{"a/b.example", false}),
    [](const ::testing::TestParamInfo<ZoneNameCase>& parameter) {
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

class RblsmtpdCollect : public ::testing::TestWithParam<CollectCase> {};

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
    ::testing::Values(
        CollectCase{"plesk",
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
    [](const ::testing::TestParamInfo<CollectCase>& parameter) {
      return test_name(parameter.param.name);
    });

TEST(RblsmtpdCollectCommands, DisabledServicesAndRblsmtpdVariable) {
  ServiceCommand disabled = command("off", "rblsmtpd -r a.example q");
  disabled.enabled = false;
  ServiceCommand bypassed = command("env", "rblsmtpd -r b.example q");
  bypassed.details->environment["RBLSMTPD"] = "";
  RblsmtpdZones zones = collect_rblsmtpd_zones({disabled, bypassed});
  ASSERT_EQ(zones.uses.size(), 1u);
  EXPECT_EQ(zones.uses[0].zone, "b.example");
  EXPECT_TRUE(zones.uses[0].lookups_skipped);
  EXPECT_EQ(zones.rblsmtpd_command_lines, 1);
}

class RblsmtpdSourcesRule : public ::testing::Test {
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

  // The plan for every fixable failure the audit finds, as `apply` makes it.
  Expected<std::vector<PlannedChange>> plan_fixable(AuditContext& context) {
    std::vector<Finding> failing;
    for (Finding& finding : rule_->check(context)) {
      if (finding.status == Status::fail && finding.fixable) failing.push_back(finding);
    }
    return rule_->plan(context, failing);
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
    EXPECT_EQ(finding->fixable, expected.status == Status::fail) << expected.zone;
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

// Live verdicts with canned DNS answers (the real servers are in
// tests/integration/rblsmtpd_sources_test.sh): no query leaves the process.
class CannedDns {
 public:
  explicit CannedDns(std::function<DnsResult(const DnsServer&, const DnsQuery&)> answer) {
    replace_dns_probe_for_tests(
        [this, answer](const std::vector<DnsServer>& servers, const std::vector<DnsQuery>& queries,
                       const DnsProbeOptions&) -> Expected<std::vector<DnsResult>> {
          std::vector<DnsResult> results;
          for (const DnsQuery& query : queries) {
            asked.push_back(servers[query.server].describe() + " " +
                            std::string(dns_record_type_name(query.type)) + " " + query.name);
            results.push_back(answer(servers[query.server], query));
          }
          return results;
        });
  }
  ~CannedDns() { replace_dns_probe_for_tests(nullptr); }
  std::vector<std::string> asked;
};

DnsResult canned(DnsOutcome outcome, std::vector<std::string> answers = {}, double latency_ms = 5) {
  return DnsResult{outcome, latency_ms, std::move(answers), ""};
}

TEST_F(RblsmtpdSourcesRule, LiveVerdictFromTheTestPoints) {
  CannedDns dns([](const DnsServer&, const DnsQuery& query) {
    if (query.name.rfind("2.0.0.127.", 0) == 0) {
      return query.type == DnsRecordType::txt ? canned(DnsOutcome::answer, {"listed"})
                                              : canned(DnsOutcome::answer, {"127.0.0.2"});
    }
    return canned(DnsOutcome::nxdomain);
  });
  std::vector<Finding> findings = check(fixture("rbl-defunct"), false);
  const Finding* zen = find(findings, "zen.spamhaus.org");
  ASSERT_NE(zen, nullptr);
  EXPECT_EQ(zen->status, Status::pass) << zen->message;
  EXPECT_EQ(zen->evidence["verdict"], "ok");
  for (const std::string& query : dns.asked) {
    EXPECT_EQ(query.find("bad zone"), std::string::npos) << "an invalid zone is never queried";
    EXPECT_EQ(query.find("ahbl"), std::string::npos) << "a defunct zone needs no query";
  }
  EXPECT_NE(
      std::find(dns.asked.begin(), dns.asked.end(), "127.0.0.1 TXT 2.0.0.127.zen.spamhaus.org"),
      dns.asked.end());
  EXPECT_NE(std::find(dns.asked.begin(), dns.asked.end(), "127.0.0.1 A 1.0.0.127.zen.spamhaus.org"),
            dns.asked.end());
}

struct LiveCase {
  const char* name;
  DnsResult listed_text;
  DnsResult listed_address;
  DnsResult unlisted;
  const char* verdict;
  Status status;
  const char* message_part;
  bool unlisted_without_text = false;  // 1.0.0.127 answers A only
};

class RblsmtpdLiveVerdicts : public ::testing::TestWithParam<LiveCase> {};

TEST_P(RblsmtpdLiveVerdicts, Verdict) {
  const LiveCase& test_case = GetParam();
  CannedDns dns([&](const DnsServer&, const DnsQuery& query) {
    if (query.name.rfind("1.0.0.127.", 0) == 0) {
      bool no_text = test_case.unlisted_without_text && query.type == DnsRecordType::txt;
      return no_text ? canned(DnsOutcome::nodata) : test_case.unlisted;
    }
    return query.type == DnsRecordType::txt ? test_case.listed_text : test_case.listed_address;
  });
  Expected<RootedHost> host = RootedHost::open(fixture("rbl-defunct"));
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  AuditContext context(*host, config, false);
  std::vector<Finding> findings = find_rule("rblsmtpd.sources")->check(context);
  const Finding* zen = nullptr;
  for (const Finding& finding : findings) {
    if (finding.subject == "zen.spamhaus.org") zen = &finding;
  }
  ASSERT_NE(zen, nullptr);
  EXPECT_EQ(zen->evidence["verdict"], test_case.verdict) << zen->message;
  EXPECT_EQ(zen->status, test_case.status);
  EXPECT_NE(zen->message.find(test_case.message_part), std::string::npos) << zen->message;
  // no-txt is the one live verdict of lower severity than the rule's.
  EXPECT_EQ(zen->severity,
            std::string(test_case.verdict) == "no-txt" || std::string(test_case.verdict) == "slow"
                ? Severity::warning
                : Severity::critical);
}

const DnsResult kText = canned(DnsOutcome::answer, {"listed"});
const DnsResult kAddress = canned(DnsOutcome::answer, {"127.0.0.2"});
const DnsResult kNone = canned(DnsOutcome::nxdomain);

INSTANTIATE_TEST_SUITE_P(
    Verdicts, RblsmtpdLiveVerdicts,
    ::testing::Values(
        LiveCase{"ok", kText, kAddress, kNone, "ok", Status::pass, "answers its test points"},
        LiveCase{"timeout", canned(DnsOutcome::timeout, {}, 2000), kAddress, kNone, "timeout",
                 Status::fail,
                 "waits for its lookup (up to 59 s per silent nameserver with djbdns's "
                 "library) before the greeting, then under -c it refuses it with 451"},
        LiveCase{"servfail", kText, canned(DnsOutcome::servfail), kNone, "servfail", Status::fail,
                 "servfail"},
        LiveCase{"refused", canned(DnsOutcome::refused), kAddress, kNone, "refused", Status::fail,
                 "refused"},
        LiveCase{"missing", kNone, kNone, kNone, "test-point-missing", Status::fail,
                 "no TXT and no A"},
        LiveCase{"no_txt", canned(DnsOutcome::nodata), kAddress, kNone, "no-txt", Status::fail,
                 "rblsmtpd -r reads TXT only"},
        LiveCase{"no_txt_nxdomain", canned(DnsOutcome::nxdomain), kAddress, kNone, "no-txt",
                 Status::fail, "never blocks anyone"},
        LiveCase{"open_resolver_text",
                 canned(DnsOutcome::answer, {"Error: open resolver; "
                                             "https://www.spamhaus.org/returnc/pub/192.0.2.53"}),
                 canned(DnsOutcome::answer, {"127.255.255.254"}),
                 canned(DnsOutcome::answer, {"127.255.255.254"}), "resolver-blocked", Status::fail,
                 "every client gets a 451"},
        LiveCase{"open_resolver_text_only",
                 canned(DnsOutcome::answer, {"Error: open resolver; see"}), kAddress, kNone,
                 "resolver-blocked", Status::fail, "Error: open resolver"},
        LiveCase{"blocked_253", kText, canned(DnsOutcome::answer, {"127.255.255.253"}), kNone,
                 "resolver-blocked", Status::fail, "127.255.255.253"},
        LiveCase{"everything", kText, kAddress, kText, "lists-everything", Status::fail,
                 "every client gets a 451"},
        LiveCase{"everything_by_address", kText, kAddress, kAddress, "lists-everything",
                 Status::fail, "refuses no one", true},
        LiveCase{"blocked", kText, canned(DnsOutcome::answer, {"127.255.255.254"}), kNone,
                 "resolver-blocked", Status::fail, "127.255.255.254"},
        LiveCase{"slow", canned(DnsOutcome::answer, {"listed"}, 900), kAddress, kNone, "slow",
                 Status::fail, "max_latency_ms 500"}),
    [](const ::testing::TestParamInfo<LiveCase>& param) { return std::string(param.param.name); });

TEST(RblsmtpdDefunctZones, EveryEntryNamesItsSourceAndTheNewDeadZonesAreThere) {
  Expected<std::vector<DefunctZone>> zones =
      load_defunct_zones(builtin_defunct_zones_text(), "builtin");
  ASSERT_TRUE(zones) << zones.error().message;
  for (const DefunctZone& zone : *zones) {
    EXPECT_FALSE(zone.source.empty()) << zone.zone;
    EXPECT_FALSE(zone.since.empty()) << zone.zone;
  }
  const DefunctZone* sorbs = find_defunct_zone(*zones, "dnsbl.sorbs.net");
  ASSERT_NE(sorbs, nullptr);
  EXPECT_EQ(sorbs->since, "2024-06-05");
  EXPECT_NE(find_defunct_zone(*zones, "spam.dnsbl.sorbs.net"), nullptr);
  EXPECT_NE(find_defunct_zone(*zones, "db.wpbl.info"), nullptr);
  EXPECT_NE(find_defunct_zone(*zones, "rbl.spamhaus.org"), nullptr);
  EXPECT_EQ(find_defunct_zone(*zones, "zen.spamhaus.org"), nullptr);
  EXPECT_EQ(find_defunct_zone(*zones, "sbl-xbl.spamhaus.org"), nullptr);
}

TEST_F(RblsmtpdSourcesRule, DefunctEvidenceCarriesTheSource) {
  std::vector<Finding> findings = check(fixture("rbl-defunct"), true);
  const Finding* ahbl = find(findings, "dnsbl.ahbl.org");
  ASSERT_NE(ahbl, nullptr);
  EXPECT_TRUE(ahbl->evidence["defunct"]["source"].is_string());
  EXPECT_FALSE(ahbl->evidence["defunct"]["source"].get<std::string>().empty());
}

// Spamhaus through 8.8.8.8 (DNSCACHEIP) fails from the files alone; the same
// kind of zone through 127.0.0.1 and a zone without the flag do not.
TEST_F(RblsmtpdSourcesRule, PublicResolverFailsOffline) {
  std::vector<Finding> findings = check(fixture("rbl-public-resolver"), true);
  const Finding* zen = find(findings, "zen.spamhaus.org");
  ASSERT_NE(zen, nullptr);
  EXPECT_EQ(zen->status, Status::fail) << zen->message;
  EXPECT_EQ(zen->severity, Severity::critical);
  EXPECT_EQ(zen->evidence["verdict"], "resolver-blocked");
  EXPECT_EQ(zen->evidence["public_resolvers"], nlohmann::json({"8.8.8.8"}));
  EXPECT_NE(zen->message.find("every client gets a 451"), std::string::npos) << zen->message;
  const Finding* psbl = find(findings, "psbl.surriel.com");
  ASSERT_NE(psbl, nullptr);
  EXPECT_EQ(psbl->status, Status::skip) << psbl->message;
  const Finding* local = find(findings, "sbl-xbl.spamhaus.org");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->status, Status::skip) << local->message;
}

TEST_F(RblsmtpdSourcesRule, PublicResolverListIsConfigurable) {
  Expected<Config> config = load_config_from_text(
      "[rules.\"rblsmtpd.sources\"]\npublic_resolvers = [\"127.0.0.1\"]\n", "test.toml");
  ASSERT_TRUE(config) << config.error().message;
  config_ = *config;
  std::vector<Finding> findings = check(fixture("rbl-public-resolver"), true);
  EXPECT_EQ(find(findings, "zen.spamhaus.org")->status, Status::skip);
  EXPECT_EQ(find(findings, "sbl-xbl.spamhaus.org")->status, Status::fail);
  EXPECT_FALSE(load_config_from_text(
      "[rules.\"rblsmtpd.sources\"]\npublic_resolvers = [\"one.one\"]\n", "test.toml"));
}

TEST_F(RblsmtpdSourcesRule, PlanDropsDeadZonesAndLoneRblsmtpd) {
  Expected<RootedHost> host = RootedHost::open(fixture("rbl-defunct"));
  ASSERT_TRUE(host);
  AuditContext context(*host, config_, true);
  Expected<std::vector<PlannedChange>> changes = plan_fixable(context);
  ASSERT_TRUE(changes) << changes.error().message;
  std::map<std::string, std::string> after;
  for (const PlannedChange& change : *changes) {
    const auto& replacement = std::get<FileReplacement>(change.action);
    after[replacement.host_path] = replacement.after;
  }
  EXPECT_EQ(after["/service/smtpd/run"],
            "#!/bin/sh\nexec tcpserver -vR 0 25 \\\n  rblsmtpd -c -r zen.spamhaus.org -r 'bad "
            "zone..example' "
            "\\\n  qmail-smtpd\n");
  EXPECT_EQ(after["/service/smtpd-plain/run"],
            "#!/bin/sh\n# rblsmtpd without -r: upstream 0.88 falls back to rbl.maps.vix.com\n"
            "exec tcpserver -R 0 26 qmail-smtpd\n");
  EXPECT_EQ(after.count("/service/submission/run"), 0u);
}

// "rblsmtpd $BLACKLIST qmail-smtpd" (the zones in a control file): getopt
// stops at the variable, which holds the -r options at run time. No implicit
// rbl.maps.vix.com is assumed for it, and a fix of another service's implicit
// zone leaves this line alone: dropping rblsmtpd there would leave tcpserver
// running "-r" for every connection.
TEST_F(RblsmtpdSourcesRule, OptionsFromAVariableAreNeitherDefaultedNorCut) {
  auto run_script = [](const std::string& line) {
    ServiceCommand result = command("run", line);
    result.source = LaunchSource::run_script;
    return result;
  };
  RblsmtpdZones zones =
      collect_rblsmtpd_zones({run_script("rblsmtpd $BLACKLIST $SMTPD /usr/bin/true")});
  EXPECT_TRUE(zones.uses.empty());
  ASSERT_EQ(zones.options_unknown.size(), 1u) << "said, not skipped in silence";
  EXPECT_NE(zones.options_unknown[0].message.find("$BLACKLIST"), std::string::npos);
  // Not a variable holding options: a program path, the last word, or a
  // service xinetd starts (it expands no shell variable). The default stays.
  for (const ServiceCommand& other :
       {run_script("rblsmtpd -b \"$QMAIL/bin/qmail-smtpd\""), run_script("rblsmtpd $SMTPD"),
        command("xinetd", "rblsmtpd $BLACKLIST qmail-smtpd")}) {
    RblsmtpdZones defaulted = collect_rblsmtpd_zones({other});
    ASSERT_EQ(defaulted.uses.size(), 1u) << other.argv.back();
    EXPECT_TRUE(defaulted.uses[0].implicit_default);
  }

  testing::TemporaryTree tree;
  tree.write("/service/plain/run", "#!/bin/sh\nexec tcpserver -R 0 26 rblsmtpd qmail-smtpd\n",
             0755);
  const std::string variable_run =
      "#!/bin/sh\nBLACKLIST=`cat /var/qmail/control/blacklists`\n"
      "exec tcpserver -R 0 25 rblsmtpd $BLACKLIST qmail-smtpd\n";
  tree.write("/service/smtpd/run", variable_run, 0755);
  Expected<RootedHost> host = RootedHost::open(tree.root());
  ASSERT_TRUE(host);
  AuditContext context(*host, config_, true);
  Expected<std::vector<PlannedChange>> changes = plan_fixable(context);
  ASSERT_TRUE(changes) << changes.error().message;
  for (const PlannedChange& change : *changes) {
    EXPECT_NE(std::get<FileReplacement>(change.action).host_path, "/service/smtpd/run")
        << std::get<FileReplacement>(change.action).after;
  }
  bool said = false;
  for (const Finding& finding : rule_->check(context)) {
    if (finding.status == Status::skip && finding.message.find("$BLACKLIST") != std::string::npos)
      said = true;
  }
  EXPECT_TRUE(said) << "the variable's zones are not checked, and the audit says so";
}

// djbdns asks the next resolver only after a timeout or an error: Spamhaus
// behind a working local resolver with a public fallback is not blocked; the
// public resolver first is.
TEST_F(RblsmtpdSourcesRule, OnlyTheFirstResolverDecidesAPublicResolverBlock) {
  for (bool public_first : {false, true}) {
    SCOPED_TRACE(public_first ? "8.8.8.8 first" : "127.0.0.1 first");
    testing::TemporaryTree tree;
    tree.write("/etc/resolv.conf", public_first ? "nameserver 8.8.8.8\nnameserver 127.0.0.1\n"
                                                : "nameserver 127.0.0.1\nnameserver 8.8.8.8\n");
    tree.write("/service/smtpd/run",
               "#!/bin/sh\nexec tcpserver -R 0 25 rblsmtpd -r zen.spamhaus.org qmail-smtpd\n",
               0755);
    std::vector<Finding> findings = check(tree.root(), true);
    const Finding* zen = find(findings, "zen.spamhaus.org");
    ASSERT_NE(zen, nullptr);
    EXPECT_EQ(zen->status, public_first ? Status::fail : Status::skip) << zen->message;
  }
}

TEST_F(RblsmtpdSourcesRule, NoRblsmtpdIsOneSkip) {
  std::vector<Finding> findings = check(fixture("resolv-missing"), true);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].status, Status::skip);
  EXPECT_EQ(findings[0].subject, "rblsmtpd.sources");
}

}  // namespace
}  // namespace qharden
