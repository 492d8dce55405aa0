// `qharden audit --root TREE --offline --json` on the fixture hosts: the
// status of every service, run script and sysctl, and the exit code, as an
// outside test reads them.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "../unit/temporary_tree.h"
#include "run_qharden.h"

namespace qharden::testing {
namespace {

struct ExpectedFinding {
  const char* rule;
  const char* subject;
  const char* status;
};

struct FixtureCase {
  const char* host;
  int exit_code;
  std::vector<ExpectedFinding> findings;
  std::vector<const char*> absent_subjects;  // must produce no finding at all
};

nlohmann::json find(const nlohmann::json& report, const std::string& rule,
                    const std::string& subject) {
  for (const nlohmann::json& finding : report["findings"]) {
    if (finding["rule"] == rule && finding["subject"] == subject) return finding;
  }
  return nullptr;
}

class FixtureAudit : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(FixtureAudit, StatusesAndExitCode) {
  const FixtureCase& test_case = GetParam();
  RunResult result =
      run_qharden({"audit", "--offline", "--json", "--root", fixture_host(test_case.host)});
  ASSERT_EQ(result.exit_code, test_case.exit_code)
      << result.standard_output << result.standard_error;
  nlohmann::json report = result.json();
  EXPECT_EQ(report["schema"], 1);
  EXPECT_EQ(report["offline"], true);
  EXPECT_EQ(report["exit_code"], test_case.exit_code);
  for (const ExpectedFinding& expected : test_case.findings) {
    nlohmann::json finding = find(report, expected.rule, expected.subject);
    ASSERT_FALSE(finding.is_null()) << "no finding " << expected.rule << " " << expected.subject;
    EXPECT_EQ(finding["status"], expected.status)
        << expected.rule << " " << expected.subject << ": " << finding["message"];
  }
  for (const nlohmann::json& finding : report["findings"]) {
    for (const char* absent : test_case.absent_subjects) {
      EXPECT_NE(finding["subject"], absent) << finding.dump();
    }
  }
  // Every finding carries the schema's fields.
  for (const nlohmann::json& finding : report["findings"]) {
    for (const char* field :
         {"rule", "subject", "status", "severity", "fixable", "message", "evidence"}) {
      EXPECT_TRUE(finding.contains(field)) << field << " in " << finding.dump();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Hosts, FixtureAudit,
    ::testing::Values(
        FixtureCase{"plesk",
                    2,
                    {{"tcp-env.flags", "/etc/xinetd.d/smtp_psa:smtp", "fail"},
                     {"tcp-env.flags", "/etc/xinetd.d/smtps_psa:smtps", "pass"},
                     {"tcp-env.flags", "/etc/xinetd.d/submission_psa:submission", "fail"},
                     {"tcp-env.flags", "/etc/xinetd.d/smtp_psa_old:smtp", "skip"},
                     {"sysctl.tcp-fin-timeout", "sysctl.d:net.ipv4.tcp_fin_timeout", "fail"},
                     {"sysctl.tcp-fin-timeout", "/proc/sys/net/ipv4/tcp_fin_timeout", "skip"},
                     {"rblsmtpd.sources", "sbl-xbl.spamhaus.org", "skip"}},
                    // .bak and ~ files are ignored by xinetd; ftp_psa runs no tcp-env.
                    {"/etc/xinetd.d/smtp_psa.bak:smtp", "/etc/xinetd.d/smtp_psa~:smtp",
                     "/etc/xinetd.d/ftp_psa:ftp"}},
        FixtureCase{"inetd",
                    2,
                    {{"tcp-env.flags", "/etc/inetd.conf:smtp", "fail"},
                     {"tcp-env.flags", "/etc/inetd.conf:127.0.0.1:smtp", "pass"},
                     {"tcp-env.flags", "/etc/inetd.conf:submission", "fail"}},
                    {}},
        FixtureCase{"daemontools",
                    2,
                    {{"tcpserver.flags", "/service/smtpd/run", "pass"},
                     {"tcpserver.flags", "/service/qmail-smtpd-bad/run", "fail"},
                     {"tcpserver.flags", "/service/qmail-smtpd-undone/run", "fail"},
                     {"tcpserver.flags", "/etc/sv/qmail-smtpd/run", "fail"},
                     {"tcpserver.flags", "/service/broken/run", "error"}},
                    {}},
        FixtureCase{"xinetd-malformed",
                    1,
                    {{"tcp-env.flags", "/etc/xinetd.d/good:smtp", "pass"},
                     {"tcp-env.flags", "/etc/xinetd.d/a_truncated", "error"},
                     {"tcp-env.flags", "/etc/xinetd.d/binary", "error"},
                     {"tcp-env.flags", "/etc/xinetd.d/loop", "error"},
                     {"tcp-env.flags", "/etc/xinetd.d/longline:smtps", "pass"}},
                    {}},
        FixtureCase{"sysctl-debian-symlink",
                    0,
                    {{"sysctl.tcp-fin-timeout",
                      "/etc/sysctl.d/99-sysctl.conf:net.ipv4.tcp_fin_timeout", "pass"},
                     {"sysctl.tcp-keepalive",
                      "/etc/sysctl.d/99-sysctl.conf:net.ipv4.tcp_keepalive_time", "fail"}},
                    {}},
        FixtureCase{"rbl-defunct",
                    2,
                    {{"rblsmtpd.sources", "dnsbl.ahbl.org", "fail"},
                     {"rblsmtpd.sources", "bad zone..example", "error"}},
                    {}},
        // Socket-activated qmail-smtpd: judged from the drop-in's ExecStart=;
        // the masked submission socket and the Accept=no relay socket give none.
        FixtureCase{
            "systemd-socket",
            2,
            {{"tcp-env.flags", "/usr/lib/systemd/system/qmail-smtpd@.service", "fail"},
             {"listener.burst-limits", "/usr/lib/systemd/system/qmail-smtpd@.service", "fail"},
             {"tcp-env.flags", "/usr/lib/systemd/system/smtps@.service", "skip"},
             {"tcp-env.flags", "/usr/lib/systemd/system/odmr@.service", "skip"}},
            {"/usr/lib/systemd/system/submission@.service",
             "/usr/lib/systemd/system/relay.service"}}),
    [](const ::testing::TestParamInfo<FixtureCase>& parameter) {
      std::string name = parameter.param.host;
      for (char& character : name) {
        if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
      }
      return name;
    });

TEST(FixtureAuditFormats, PrometheusAndTextAgreeWithJson) {
  RunResult prometheus = run_qharden(
      {"audit", "--offline", "--format", "prometheus", "--root", fixture_host("plesk")});
  EXPECT_EQ(prometheus.exit_code, 2);
  EXPECT_NE(prometheus.standard_output.find(
                "qharden_finding{rule=\"tcp-env.flags\",subject=\"/etc/xinetd.d/smtp_psa:smtp\","
                "severity=\"critical\"} 1"),
            std::string::npos)
      << prometheus.standard_output;
  EXPECT_NE(prometheus.standard_output.find("qharden_audit_timestamp_seconds "), std::string::npos);
  RunResult text = run_qharden({"audit", "--offline", "--root", fixture_host("plesk")});
  EXPECT_EQ(text.exit_code, 2);
  // Not a TTY: no colour codes.
  EXPECT_EQ(text.standard_output.find('\033'), std::string::npos);
  EXPECT_NE(text.standard_output.find("FAIL  tcp-env.flags  /etc/xinetd.d/smtp_psa:smtp"),
            std::string::npos);
}

// A systemd unit is never edited: plan shows qharden's drop-in for the
// service, which resets ExecStart= and gives the line with tcp-env's options.
TEST(FixtureAuditSelection, SystemdFindingIsPlannedAsADropIn) {
  RunResult result = run_qharden(
      {"plan", "--offline", "--rule", "tcp-env.flags", "--root", fixture_host("systemd-socket")});
  const std::string& output = result.standard_output;
  EXPECT_NE(output.find("/etc/systemd/system/qmail-smtpd@.service.d/zz-qharden-tcp-env.flags.conf"),
            std::string::npos)
      << output << result.standard_error;
  EXPECT_NE(output.find("+ExecStart=\n+ExecStart=/var/qmail/bin/tcp-env -Rt0 "
                        "/var/qmail/bin/qmail-smtpd"),
            std::string::npos)
      << output;
  EXPECT_EQ(output.find("No changes planned."), std::string::npos) << output;
}

// A socket's limits are fixed with qharden's own drop-in, shown as a new
// file; under --root the plan says that no daemon-reload will be requested.
TEST(FixtureAuditSelection, SocketLimitsArePlannedAsADropIn) {
  RunResult result = run_qharden({"plan", "--offline", "--rule", "listener.burst-limits", "--root",
                                  fixture_host("systemd-socket")});
  const std::string& output = result.standard_output;
  EXPECT_EQ(result.exit_code, 0) << output << result.standard_error;
  EXPECT_NE(
      output.find("/etc/systemd/system/qmail-smtpd.socket.d/zz-qharden-listener.burst-limits.conf"),
      std::string::npos)
      << output;
  EXPECT_NE(output.find("+MaxConnections=256"), std::string::npos) << output;
  EXPECT_NE(output.find("+TriggerLimitBurst=1000"), std::string::npos) << output;
  EXPECT_NE(output.find("no daemon-reload is requested under --root"), std::string::npos) << output;
}

TEST(FixtureAuditSelection, RuleFilterLimitsFindings) {
  RunResult result = run_qharden(
      {"audit", "--offline", "--json", "--rule", "tcp-env.flags", "--root", fixture_host("inetd")});
  nlohmann::json report = result.json();
  for (const nlohmann::json& finding : report["findings"])
    EXPECT_EQ(finding["rule"], "tcp-env.flags");
  EXPECT_EQ(result.exit_code, 2);
}

}  // namespace
}  // namespace qharden::testing

namespace qharden::testing {
namespace {

// The metric contract (design.md, issue 13): a finding's series never changes
// with its status, counts are zero-filled, and labels carry nothing unbounded.
TEST(FixtureAuditFormats, PrometheusSeriesAreStableAcrossAFix) {
  TemporaryTree tree;
  tree.copy_from(fixture_host("plesk"));
  auto metrics = [&tree] {
    RunResult run =
        run_qharden({"audit", "--offline", "--format", "prometheus", "--root", tree.path()});
    return run.standard_output;
  };
  auto series_names = [](const std::string& text) {
    std::set<std::string> names;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] == '#') continue;
      names.insert(line.substr(0, line.rfind(' ')));
    }
    return names;
  };
  std::string before = metrics();
  std::string failing_series =
      "qharden_finding{rule=\"tcp-env.flags\",subject=\"/etc/xinetd.d/smtp_psa:smtp\","
      "severity=\"critical\"}";
  EXPECT_NE(before.find(failing_series + " 1\n"), std::string::npos) << before;
  for (const char* severity : {"critical", "warning", "info"}) {
    for (const char* status : {"pass", "fail", "error", "skip"}) {
      std::string series =
          std::string("qharden_findings{severity=\"") + severity + "\",status=\"" + status + "\"} ";
      EXPECT_NE(before.find(series), std::string::npos) << series << " missing:\n" << before;
    }
  }
  EXPECT_NE(before.find("qharden_build_info{version=\"" QHARDEN_VERSION "\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(before.find("qharden_info"), std::string::npos) << "one name per family";
  // Every qharden_finding line has exactly the three labels.
  std::istringstream lines(before);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("qharden_finding{", 0) != 0) continue;
    EXPECT_EQ(std::count(line.begin(), line.end(), '='), 3) << line;
  }

  RunResult applied =
      run_qharden({"apply", "--offline", "--rule", "tcp-env.flags", "--root", tree.path()});
  ASSERT_EQ(applied.exit_code, 0) << applied.standard_output << applied.standard_error;
  std::string after = metrics();
  EXPECT_NE(after.find(failing_series + " 0\n"), std::string::npos) << after;
  EXPECT_EQ(series_names(before), series_names(after)) << "a fix must not start new series";
}

}  // namespace
}  // namespace qharden::testing
