#include <gtest/gtest.h>

#include <memory>

#include "config/config.h"
#include "engine/context.h"
#include "engine/rule.h"
#include "host/host.h"
#include "inventory/inventory.h"
#include "listener_burst_limits/limits.h"
#include "listener_burst_limits/plan.h"
#include "parsers/xinetd.h"
#include "parsers/xinetd_limits.h"
#include "temporary_tree.h"

namespace qharden {

std::unique_ptr<Rule> make_listener_burst_limits_rule();

namespace {

struct Audit {
  std::vector<Finding> findings;
  Expected<std::vector<PlannedChange>> changes = std::vector<PlannedChange>{};
};

Audit audit_root(const std::string& root, const std::string& config_text = "") {
  Expected<RootedHost> host = RootedHost::open(root);
  Expected<Config> config = load_config_from_text(config_text, "test.toml");
  Audit audit;
  if (!host || !config) {
    ADD_FAILURE() << "cannot open " << root;
    return audit;
  }
  AuditContext context(*host, *config, true);
  std::unique_ptr<Rule> rule = make_listener_burst_limits_rule();
  audit.findings = rule->check(context);
  std::vector<Finding> failing;
  for (const Finding& finding : audit.findings) {
    if (finding.status == Status::fail) failing.push_back(finding);
  }
  audit.changes = rule->plan(context, failing);
  return audit;
}

// One limit as the evidence must show it: its value ("unlimited" or a
// number), where it came from, and whether it meets its bound.
struct LimitExpectation {
  const char* name;
  nlohmann::json value;
  const char* from;
  bool ok;
};

struct FindingCase {
  const char* fixture;
  const char* subject;
  Status status;
  const char* kind;
  bool fixable;
  std::vector<LimitExpectation> limits;
};

class BurstLimitsTable : public ::testing::TestWithParam<FindingCase> {};

TEST_P(BurstLimitsTable, EffectiveLimitsAndVerdict) {
  const FindingCase& expected = GetParam();
  Audit audit = audit_root(testing::fixture_root(expected.fixture));
  const Finding* found = nullptr;
  for (const Finding& finding : audit.findings) {
    if (finding.subject == expected.subject) found = &finding;
  }
  ASSERT_NE(found, nullptr) << expected.subject;
  EXPECT_EQ(found->rule, "listener.burst-limits");
  EXPECT_EQ(found->severity, Severity::warning);
  EXPECT_EQ(to_string(found->status), to_string(expected.status)) << found->message;
  EXPECT_EQ(found->fixable, expected.fixable) << found->message;
  EXPECT_EQ(found->evidence.value("kind", ""), expected.kind);
  EXPECT_EQ(found->evidence.value("fixable", !expected.fixable), expected.fixable);
  for (const LimitExpectation& limit : expected.limits) {
    const nlohmann::json& shown = found->evidence["limits"][limit.name];
    EXPECT_EQ(shown["value"], limit.value) << expected.subject << " " << limit.name;
    EXPECT_EQ(shown["from"], limit.from) << expected.subject << " " << limit.name;
    EXPECT_EQ(shown["ok"], limit.ok) << expected.subject << " " << limit.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, BurstLimitsTable,
    ::testing::Values(
        // Plesk: defaults cps 50 10 and per_source 10 reach smtp_psa; its own
        // instances = UNLIMITED wins over the defaults' 50.
        FindingCase{"burst-limits-plesk",
                    "/etc/xinetd.d/smtp_psa:smtp",
                    Status::fail,
                    "xinetd",
                    true,
                    {{"cps", 50, "defaults", false},
                     {"cps_wait", 10, "defaults", true},
                     {"instances", "unlimited", "service", true},
                     {"per_source", 10, "defaults", false}}},
        // `cps = 300` has one value (ignored); `cps = 200 5` is the first valid one.
        FindingCase{"burst-limits-plesk",
                    "/etc/xinetd.d/smtps_psa:smtps",
                    Status::pass,
                    "xinetd",
                    false,
                    {{"cps", 200, "service", true},
                     {"cps_wait", 5, "service", true},
                     {"instances", 500, "service", true},
                     {"per_source", "unlimited", "service", true}}},
        FindingCase{"burst-limits-plesk",
                    "/etc/xinetd.d/submission_psa:submission",
                    Status::fail,
                    "xinetd",
                    true,
                    {{"cps", 25, "service", false},
                     {"cps_wait", 30, "service", false},
                     {"instances", 50, "defaults", false},
                     {"per_source", 5, "service", false}}},
        // xinetd compares UNLIMITED without case (EQ), so `unlimited` is live.
        FindingCase{"burst-limits-plesk",
                    "/etc/xinetd.d/smtp_lower:smtp",
                    Status::fail,
                    "xinetd",
                    true,
                    {{"cps", 50, "defaults", false},
                     {"cps_wait", 10, "defaults", true},
                     {"instances", "unlimited", "service", true},
                     {"per_source", 10, "defaults", false}}},
        // Debian: an empty defaults section leaves xinetd's built-ins.
        FindingCase{"burst-limits-debian",
                    "/etc/xinetd.d/smtp:smtp",
                    Status::fail,
                    "xinetd",
                    true,
                    {{"cps", 50, "built-in", false},
                     {"cps_wait", 10, "built-in", true},
                     {"instances", "unlimited", "built-in", true},
                     {"per_source", "unlimited", "built-in", true}}},
        FindingCase{"burst-limits-debian",
                    "/etc/inetd.conf:smtp",
                    Status::fail,
                    "inetd",
                    true,
                    {{"per_minute", 5, "service", false}}},
        FindingCase{"burst-limits-debian",
                    "/etc/inetd.conf:submission",
                    Status::pass,
                    "inetd",
                    false,
                    {{"per_minute", 2000, "service", true}}},
        // nowait.0: openbsd-inetd says "illegal max field" and uses 256.
        FindingCase{"burst-limits-debian",
                    "/etc/inetd.conf:smtps",
                    Status::fail,
                    "inetd",
                    true,
                    {{"per_minute", 256, "built-in", false}}},
        // Port 2526 is not configured, but the line runs qmail-smtpd.
        FindingCase{"burst-limits-debian",
                    "/etc/inetd.conf:2526",
                    Status::fail,
                    "inetd",
                    true,
                    {{"per_minute", 256, "built-in", false}}},
        FindingCase{"burst-limits-tcpserver",
                    "/service/qmail-smtpd/run",
                    Status::fail,
                    "tcpserver",
                    false,
                    {{"concurrency", 5, "service", false}}},
        // MAXSMTPD=`cat /var/qmail/control/concurrencyincoming` holding 10.
        FindingCase{"burst-limits-tcpserver",
                    "/service/qmail-lwq/run",
                    Status::fail,
                    "tcpserver",
                    false,
                    {{"concurrency", 10, "service", false}}},
        FindingCase{"burst-limits-tcpserver",
                    "/service/qmail-submission/run",
                    Status::pass,
                    "tcpserver",
                    false,
                    {{"concurrency", 100, "service", true}}}),
    [](const ::testing::TestParamInfo<FindingCase>& parameter) {
      std::string name = std::to_string(parameter.index) + "_";
      for (char character : std::string(parameter.param.subject)) {
        name += std::isalnum(static_cast<unsigned char>(character)) ? character : '_';
      }
      return name;
    });

TEST(BurstLimits, ServicesOffThePortsAndWithoutQmailGetNoFinding) {
  Audit audit = audit_root(testing::fixture_root("burst-limits-plesk"));
  for (const Finding& finding : audit.findings) {
    EXPECT_EQ(finding.subject.find("pop3"), std::string::npos) << finding.subject;
  }
  Audit debian = audit_root(testing::fixture_root("burst-limits-debian"));
  for (const Finding& finding : debian.findings) {
    EXPECT_EQ(finding.subject.find("ident"), std::string::npos) << finding.subject;
  }
}

TEST(BurstLimits, ConfiguredBoundsDecide) {
  Audit audit = audit_root(testing::fixture_root("burst-limits-debian"),
                           "[rules.\"listener.burst-limits\"]\nxinetd_cps_min = 50\n"
                           "inetd_per_minute_min = 5\n");
  for (const Finding& finding : audit.findings) {
    if (finding.subject == "/etc/xinetd.d/smtp:smtp" || finding.subject == "/etc/inetd.conf:smtp") {
      EXPECT_EQ(finding.status, Status::pass) << finding.subject << ": " << finding.message;
    }
  }
}

TEST(BurstLimits, DefaultsReachServicesReadBeforeThemAndAValueThatDoesNotParseIsAProblem) {
  std::string text =
      "service smtp\n{\n\tserver = /q\n}\ndefaults\n{\n\tper_source = 7\n\tcps = 9 x\n}\n";
  XinetdFile parsed = parse_xinetd_text("/etc/xinetd.conf", text);
  std::vector<XinetdSection> sections;
  for (XinetdItem& item : parsed.items) {
    if (auto* section = std::get_if<XinetdSection>(&item)) sections.push_back(*section);
  }
  XinetdLimits limits = resolve_xinetd_limits(sections);
  ASSERT_EQ(limits.services.size(), 1u);
  const std::vector<BurstLimitSetting>& settings = limits.services[0].settings;
  ASSERT_EQ(settings.size(), 3u);
  EXPECT_EQ(settings[2].name, "per_source");
  EXPECT_EQ(settings[2].from, "defaults");
  EXPECT_EQ(settings[2].words, std::vector<std::string>{"7"});
  EXPECT_EQ(settings[2].line, 7);
  EXPECT_EQ(settings[0].from, "built-in");
  ASSERT_EQ(limits.problems.size(), 1u);
  EXPECT_EQ(limits.problems[0].line, 8);
  EXPECT_NE(limits.problems[0].message.find("xinetd exits"), std::string::npos);
}

TEST(BurstLimits, InetdMaxFieldAsOpenbsdInetdReadsIt) {
  EXPECT_EQ(inetd_per_minute("nowait"), 256);
  EXPECT_EQ(inetd_per_minute("nowait.5"), 5);
  EXPECT_EQ(inetd_per_minute("wait.1000"), 1000);
  EXPECT_EQ(inetd_per_minute("nowait.0"), 256);
  EXPECT_EQ(inetd_per_minute("nowait.5x"), 256);
}

const FileReplacement& replacement(const PlannedChange& change) {
  return std::get<FileReplacement>(change.action);
}

struct Replacement {
  const char* before;  // bytes that the fix replaces (their first occurrence after the last) ...
  const char* after;   // ... with these; every other byte stays
};

struct PlanCase {
  const char* fixture;
  const char* file;
  std::vector<Replacement> replacements;
};

class BurstLimitsPlanTable : public ::testing::TestWithParam<PlanCase> {};

TEST_P(BurstLimitsPlanTable, ByteMinimalEditThenPassesAndSecondPlanIsEmpty) {
  const PlanCase& expected = GetParam();
  testing::TemporaryTree tree;
  tree.copy_from(testing::fixture_root(expected.fixture));
  Audit audit = audit_root(tree.root());
  ASSERT_TRUE(audit.changes) << audit.changes.error().message;
  const PlannedChange* change = nullptr;
  for (const PlannedChange& each : *audit.changes) {
    if (each.subject == expected.file) change = &each;
  }
  ASSERT_NE(change, nullptr) << expected.file;
  const FileReplacement& file = replacement(*change);
  EXPECT_EQ(file.host_path, expected.file);
  std::string want = file.before;
  std::size_t from = 0;
  for (const Replacement& each : expected.replacements) {
    std::size_t at = want.find(each.before, from);
    ASSERT_NE(at, std::string::npos) << each.before;
    want.replace(at, std::string(each.before).size(), each.after);
    from = at + std::string(each.after).size();
  }
  EXPECT_EQ(file.after, want);
  for (const PlannedChange& each : *audit.changes) {
    tree.write(each.subject, replacement(each).after);
  }
  Audit again = audit_root(tree.root());
  for (const Finding& finding : again.findings) {
    EXPECT_NE(finding.status, Status::fail) << finding.subject << ": " << finding.message;
  }
  ASSERT_TRUE(again.changes);
  EXPECT_TRUE(again.changes->empty());
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, BurstLimitsPlanTable,
    ::testing::Values(
        // Values from defaults: new lines before the service's `}`, defaults untouched.
        PlanCase{"burst-limits-plesk",
                 "/etc/xinetd.d/smtp_psa",
                 {{"true\n}\n", "true\n\tcps = 100 10\n\tper_source = 20\n}\n"}}},
        // Own values: only their words change (the blanks between cps' words too);
        // instances comes from defaults, so it gets a line of its own.
        PlanCase{"burst-limits-plesk",
                 "/etc/xinetd.d/submission_psa",
                 {{"= 25   30\n", "= 100 10\n"},
                  {"= 5\n", "= 20\n"},
                  {"qmail-smtpd\n}", "qmail-smtpd\n\tinstances = 100\n}"}}},
        PlanCase{"burst-limits-debian",
                 "/etc/xinetd.d/smtp",
                 {{"qmail-smtpd\n}", "qmail-smtpd\n\tcps = 100 10\n}"}}},
        // nowait.5, nowait.0 (read as 256) and a bare nowait; ident is not SMTP.
        PlanCase{"burst-limits-debian",
                 "/etc/inetd.conf",
                 {{"tcp\tnowait.5\tqmaild", "tcp\tnowait.1000\tqmaild"},
                  {"tcp\tnowait.0\tqmaild", "tcp\tnowait.1000\tqmaild"},
                  {"tcp\tnowait\tqmaild", "tcp\tnowait.1000\tqmaild"}}}));

TEST(BurstLimits, PlanNeverTouchesDefaultsNorRunScripts) {
  Audit audit = audit_root(testing::fixture_root("burst-limits-plesk"));
  ASSERT_TRUE(audit.changes);
  for (const PlannedChange& change : *audit.changes) {
    EXPECT_NE(change.subject, "/etc/xinetd.conf");
  }
  Audit scripts = audit_root(testing::fixture_root("burst-limits-tcpserver"));
  ASSERT_TRUE(scripts.changes);
  EXPECT_TRUE(scripts.changes->empty());
}

TEST(BurstLimits, PlanRefusesAFileThatChangedUnderneath) {
  testing::TemporaryTree tree;
  tree.copy_from(testing::fixture_root("burst-limits-debian"));
  Expected<RootedHost> host = RootedHost::open(tree.root());
  Expected<Config> config = load_builtin_config();
  ASSERT_TRUE(host && config);
  AuditContext context(*host, *config, true);
  std::unique_ptr<Rule> rule = make_listener_burst_limits_rule();
  std::vector<Finding> failing;
  for (const Finding& finding : rule->check(context)) {
    if (finding.status == Status::fail) failing.push_back(finding);
  }
  tree.write("/etc/xinetd.d/smtp", "# moved\n" + tree.read("/etc/xinetd.d/smtp"));
  Expected<std::vector<PlannedChange>> changes = rule->plan(context, failing);
  ASSERT_FALSE(changes);
  EXPECT_NE(changes.error().message.find("changed since it was audited"), std::string::npos);
}

// Services that inherit their limits share one copy of them (issue 15: audit
// memory); a service with its own value keeps its own, and changing a shared
// copy changes only the service changed.
TEST(BurstLimits, InventorySharesInheritedLimitsAndCopiesOnWrite) {
  testing::TemporaryTree tree;
  tree.write("/etc/xinetd.conf", "defaults\n{\n\tinstances = 50\n}\nincludedir /etc/xinetd.d\n");
  std::string services;
  for (const char* id : {"one", "two", "own", "three"}) {
    services += std::string("service smtp\n{\n\tid = ") + id +
                "\n\tsocket_type = stream\n\twait = no\n\tuser = root\n" +
                (std::string(id) == "own" ? "\tcps = 200 5\n" : "") +
                "\tserver = /var/qmail/bin/tcp-env\n}\n";
  }
  tree.write("/etc/xinetd.d/smtp_psa", services);
  Expected<RootedHost> host = RootedHost::open(tree.root());
  Expected<Config> config = load_config_from_text("", "test.toml");
  ASSERT_TRUE(host && config);
  ServiceInventory inventory = collect_service_inventory(*host, *config);
  ASSERT_EQ(inventory.commands.size(), 4u);
  const BurstLimitSettings& one = inventory.commands[0].burst_limits;
  const BurstLimitSettings& own = inventory.commands[2].burst_limits;
  EXPECT_TRUE(one.shares_with(inventory.commands[1].burst_limits));
  EXPECT_TRUE(one.shares_with(inventory.commands[3].burst_limits))
      << "across a service with its own";
  EXPECT_FALSE(one.shares_with(own));
  ASSERT_EQ(own.size(), 3u);
  EXPECT_EQ(own[0].words, (std::vector<std::string>{"200", "5"}));
  EXPECT_EQ(one[0].from, "built-in");
  EXPECT_EQ(one[1].from, "defaults");

  BurstLimitSettings changed = one;
  changed.push_back(BurstLimitSetting{"extra", {"1"}, "service", "/x", 1, {}});
  EXPECT_EQ(changed.size(), 4u);
  EXPECT_EQ(one.size(), 3u) << "the shared copy is not changed";
  EXPECT_FALSE(changed.shares_with(one));
}

}  // namespace
}  // namespace qharden
