#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/context.h"
#include "engine/rule.h"
#include "host/host.h"

namespace qharden {

std::unique_ptr<Rule> make_sysctl_tcp_fin_timeout_rule();
std::unique_ptr<Rule> make_sysctl_tcp_keepalive_rule();

namespace {

std::string fixture_path(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

RootedHost open_root(const std::string& root) {
  Expected<RootedHost> host = RootedHost::open(root);
  if (!host) ADD_FAILURE() << host.error().message;
  return std::move(host).value();
}

std::unique_ptr<Rule> make_rule(const std::string& which) {
  return which == "fin" ? make_sysctl_tcp_fin_timeout_rule() : make_sysctl_tcp_keepalive_rule();
}

Config builtin_config() {
  Expected<Config> config = load_builtin_config();
  if (!config) ADD_FAILURE() << config.error().message;
  return std::move(config).value();
}

std::string test_name(std::string name) {
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

// "SUBJECT|STATUS|VALUE": what an operator (and an outside test) matches on.
std::vector<std::string> summarize(const std::vector<Finding>& findings) {
  std::vector<std::string> lines;
  for (const Finding& finding : findings) {
    lines.push_back(finding.subject + "|" + std::string(to_string(finding.status)) + "|" +
                    finding.evidence.value("value", nlohmann::json()).dump());
  }
  return lines;
}

std::vector<Finding> run_check(const std::string& root, const std::string& which, bool offline) {
  RootedHost host = open_root(root);
  Config config = builtin_config();
  AuditContext context(host, config, offline);
  return make_rule(which)->check(context);
}

struct FindingCase {
  const char* fixture;
  const char* rule;  // "fin" or "keepalive"
  std::vector<std::string> findings;
};

// gtest shows this instead of the parameter's bytes.
void PrintTo(const FindingCase& test_case, std::ostream* out) {
  *out << std::string(test_case.fixture) + " " + test_case.rule;
}

class SysctlRuleFindings : public testing::TestWithParam<FindingCase> {};

TEST_P(SysctlRuleFindings, OfflineOnFixtureTree) {
  const FindingCase& test_case = GetParam();
  EXPECT_EQ(summarize(run_check(fixture_path(test_case.fixture), test_case.rule, true)),
            test_case.findings);
}

constexpr const char* kFinRuntimeSkip = "/proc/sys/net/ipv4/tcp_fin_timeout|skip|null";
constexpr const char* kTimeRuntimeSkip = "/proc/sys/net/ipv4/tcp_keepalive_time|skip|null";
constexpr const char* kIntvlRuntimeSkip = "/proc/sys/net/ipv4/tcp_keepalive_intvl|skip|null";
constexpr const char* kProbesRuntimeSkip = "/proc/sys/net/ipv4/tcp_keepalive_probes|skip|null";

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SysctlRuleFindings,
    testing::Values(
        FindingCase{
            "sysctl-systemd-etc-wins",
            "fin",
            {kFinRuntimeSkip, "/etc/sysctl.d/50-mail.conf:net.ipv4.tcp_fin_timeout|pass|25"}},
        FindingCase{
            "sysctl-systemd-etc-wins",
            "keepalive",
            {kTimeRuntimeSkip,
             "/usr/lib/sysctl.d/10-vendor.conf:net.ipv4.tcp_keepalive_time|pass|600",
             kIntvlRuntimeSkip, "sysctl.d:net.ipv4.tcp_keepalive_intvl|pass|75", kProbesRuntimeSkip,
             "/run/sysctl.d/60-runtime.conf:net.ipv4.tcp_keepalive_probes|pass|5"}},
        FindingCase{
            "sysctl-masked", "fin", {kFinRuntimeSkip, "sysctl.d:net.ipv4.tcp_fin_timeout|fail|60"}},
        FindingCase{"sysctl-masked",
                    "keepalive",
                    {kTimeRuntimeSkip, "sysctl.d:net.ipv4.tcp_keepalive_time|fail|7200",
                     kIntvlRuntimeSkip, "sysctl.d:net.ipv4.tcp_keepalive_intvl|pass|75",
                     kProbesRuntimeSkip, "sysctl.d:net.ipv4.tcp_keepalive_probes|pass|9"}},
        FindingCase{
            "sysctl-debian-symlink",
            "fin",
            {kFinRuntimeSkip, "/etc/sysctl.d/99-sysctl.conf:net.ipv4.tcp_fin_timeout|pass|15"}},
        FindingCase{
            "sysctl-debian-symlink",
            "keepalive",
            {kTimeRuntimeSkip, "/etc/sysctl.d/99-sysctl.conf:net.ipv4.tcp_keepalive_time|fail|7200",
             kIntvlRuntimeSkip,
             "/usr/lib/sysctl.d/50-default.conf:net.ipv4.tcp_keepalive_intvl|pass|60",
             kProbesRuntimeSkip, "sysctl.d:net.ipv4.tcp_keepalive_probes|pass|9"}},
        FindingCase{"sysctl-procps",
                    "fin",
                    {kFinRuntimeSkip, "/etc/sysctl.conf:net.ipv4.tcp_fin_timeout|fail|45"}},
        FindingCase{
            "sysctl-procps",
            "keepalive",
            {kTimeRuntimeSkip, "/etc/sysctl.d/60-mail.conf:net.ipv4.tcp_keepalive_time|fail|7200",
             kIntvlRuntimeSkip, "/lib/sysctl.d/10-lib.conf:net.ipv4.tcp_keepalive_intvl|pass|30",
             kProbesRuntimeSkip, "sysctl.d:net.ipv4.tcp_keepalive_probes|pass|9"}},
        FindingCase{
            "sysctl-lexical",
            "fin",
            {kFinRuntimeSkip, "/usr/lib/sysctl.d/40-d.conf:net.ipv4.tcp_fin_timeout|pass|28"}},
        FindingCase{"sysctl-lexical",
                    "keepalive",
                    {kTimeRuntimeSkip,
                     "/etc/sysctl.d/90-qharden-tcp-keepalive.conf:net.ipv4.tcp_keepalive_time|fail|"
                     "1200",
                     kIntvlRuntimeSkip, "sysctl.d:net.ipv4.tcp_keepalive_intvl|pass|75",
                     kProbesRuntimeSkip, "sysctl.d:net.ipv4.tcp_keepalive_probes|pass|9"}},
        FindingCase{
            "sysctl-slash-keys",
            "fin",
            {kFinRuntimeSkip, "/etc/sysctl.d/10-slash.conf:net.ipv4.tcp_fin_timeout|pass|20"}},
        FindingCase{"sysctl-malformed",
                    "fin",
                    {kFinRuntimeSkip, "sysctl.d:net.ipv4.tcp_fin_timeout|fail|60"}},
        FindingCase{
            "sysctl-malformed",
            "keepalive",
            {kTimeRuntimeSkip,
             "/etc/sysctl.d/10-bad.conf:net.ipv4.tcp_keepalive_time|error|\"fast\"",
             kIntvlRuntimeSkip, "/etc/sysctl.d/20-binary.conf:net.ipv4.tcp_keepalive_intvl|pass|30",
             kProbesRuntimeSkip,
             "/etc/sysctl.d/20-binary.conf:net.ipv4.tcp_keepalive_probes|error|\"4 # "
             "four\""}},
        // DIR/proc/sys is a file tree, so --offline still reads it.
        FindingCase{"sysctl-proc",
                    "fin",
                    {"/proc/sys/net/ipv4/tcp_fin_timeout|fail|60",
                     "/etc/sysctl.d/60-mail.conf:net.ipv4.tcp_fin_timeout|pass|30"}},
        FindingCase{"sysctl-proc",
                    "keepalive",
                    {"/proc/sys/net/ipv4/tcp_keepalive_time|fail|7200",
                     "sysctl.d:net.ipv4.tcp_keepalive_time|fail|7200",
                     "/proc/sys/net/ipv4/tcp_keepalive_intvl|pass|75",
                     "sysctl.d:net.ipv4.tcp_keepalive_intvl|pass|75",
                     "/proc/sys/net/ipv4/tcp_keepalive_probes|error|\"nine\"",
                     "sysctl.d:net.ipv4.tcp_keepalive_probes|pass|9"}}),
    [](const testing::TestParamInfo<FindingCase>& parameter) {
      return test_name(std::string(parameter.param.fixture) + "_" + parameter.param.rule);
    });

TEST(SysctlRuleEvidence, BootFindingCarriesTheContractFields) {
  std::vector<Finding> findings = run_check(fixture_path("sysctl-procps"), "fin", true);
  ASSERT_EQ(findings.size(), 2u);
  const Finding& boot = findings[1];
  EXPECT_EQ(boot.rule, "sysctl.tcp-fin-timeout");
  EXPECT_EQ(boot.severity, Severity::warning);
  EXPECT_TRUE(boot.fixable);
  EXPECT_EQ(boot.evidence["key"], "net.ipv4.tcp_fin_timeout");
  EXPECT_EQ(boot.evidence["value"], 45);
  EXPECT_EQ(boot.evidence["max"], 30);
  EXPECT_EQ(boot.evidence["source"], "/etc/sysctl.conf");
  EXPECT_EQ(boot.evidence["line"], 2);
  EXPECT_EQ(boot.evidence["precedence"], "procps");
  EXPECT_EQ(boot.evidence["overridden"],
            nlohmann::json({"/etc/sysctl.d/60-mail.conf", "/etc/sysctl.d/99-sysctl.conf"}));
  EXPECT_NE(boot.message.find("FIN_WAIT_2 for 45 s"), std::string::npos) << boot.message;
  EXPECT_EQ(findings[0].message, "--offline: live runtime value not read");
  EXPECT_FALSE(findings[0].fixable);
}

TEST(SysctlRuleEvidence, KeepaliveIsInfoAndDefaultsNameTheKernel) {
  std::vector<Finding> findings = run_check(fixture_path("sysctl-masked"), "keepalive", true);
  ASSERT_EQ(findings.size(), 6u);
  const Finding& time = findings[1];
  EXPECT_EQ(time.severity, Severity::info);
  EXPECT_EQ(time.evidence["source"], "kernel default");
  EXPECT_EQ(time.evidence["line"], nullptr);
  EXPECT_EQ(time.evidence["shadowed"], nlohmann::json({"/usr/lib/sysctl.d/50-vendor.conf"}));
  EXPECT_EQ(time.evidence["unread_lines"], nlohmann::json({"/etc/sysctl.conf:2"}));
  EXPECT_NE(time.message.find("600-900 s"), std::string::npos) << time.message;
  EXPECT_NE(time.message.find("links to /dev/null and masks it"), std::string::npos);
  EXPECT_NE(time.message.find("never reads /etc/sysctl.conf"), std::string::npos);
}

TEST(SysctlRuleEvidence, NonNumericValueNamesFileAndLine) {
  std::vector<Finding> findings = run_check(fixture_path("sysctl-malformed"), "keepalive", true);
  ASSERT_EQ(findings.size(), 6u);
  EXPECT_EQ(findings[1].status, Status::error);
  EXPECT_EQ(findings[1].message.rfind("/etc/sysctl.d/10-bad.conf:2 sets", 0), 0u)
      << findings[1].message;
  EXPECT_FALSE(findings[1].fixable);
  std::vector<Finding> fin = run_check(fixture_path("sysctl-malformed"), "fin", true);
  EXPECT_EQ(fin[1].evidence["ignored_lines"], nlohmann::json({"/etc/sysctl.d/10-bad.conf:1"}));
}

TEST(SysctlRuleLive, RuntimeValueComesFromTheLiveNamespaceWithoutProcInTheTree) {
  std::vector<Finding> findings = run_check(fixture_path("sysctl-masked"), "fin", false);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].subject, "/proc/sys/net/ipv4/tcp_fin_timeout");
  EXPECT_EQ(findings[0].evidence["source"], "/proc/sys/net/ipv4/tcp_fin_timeout");
  std::ifstream live("/proc/sys/net/ipv4/tcp_fin_timeout");
  long value = -1;
  if (!(live >> value)) {
    EXPECT_EQ(findings[0].status, Status::error);
    return;
  }
  EXPECT_EQ(findings[0].evidence["value"], value);
  EXPECT_EQ(findings[0].status, value <= 30 ? Status::pass : Status::fail);
}

}  // namespace
}  // namespace qharden
