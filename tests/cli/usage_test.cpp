#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>

#include "run_qharden.h"

namespace qharden::testing {
namespace {

TEST(CliUsage, RulesListsEveryDesignRuleWithSeverityAndFix) {
  RunResult result = run_qharden({"rules"});
  ASSERT_EQ(result.exit_code, 0) << result.standard_error;
  struct Expected {
    const char* id;
    const char* severity;
    const char* fix;
  };
  for (const Expected& rule :
       {Expected{"resolv.nameservers", "critical", "yes"},
        Expected{"tcp-env.flags", "critical", "yes"},
        Expected{"tcpserver.flags", "critical", "yes"},
        Expected{"firewall.ident-reject", "warning", "yes"},
        Expected{"rblsmtpd.sources", "critical", "when named"},
        Expected{"sysctl.tcp-fin-timeout", "warning", "yes"},
        Expected{"sysctl.tcp-keepalive", "info", "yes"}, Expected{"sockets.stuck", "warning", "no"},
        Expected{"smtp.greeting", "critical", "no"},
        Expected{"smtp.open-relay", "critical", "when named"},
        Expected{"listener.burst-limits", "warning", "yes"},
        Expected{"smtp.identity", "warning", "no"}, Expected{"dnsbl.self", "critical", "no"}}) {
    std::string line;
    std::size_t at = result.standard_output.find(std::string(rule.id) + " ");
    ASSERT_NE(at, std::string::npos) << rule.id;
    line = result.standard_output.substr(at, result.standard_output.find('\n', at) - at);
    EXPECT_NE(line.find(rule.severity), std::string::npos) << line;
    EXPECT_NE(line.find(rule.fix), std::string::npos) << line;
  }
}

TEST(CliUsage, BadUsageExitsThree) {
  EXPECT_EQ(run_qharden({"audit", "--format", "xml"}).exit_code, 3);
  EXPECT_EQ(run_qharden({"no-such-command"}).exit_code, 3);
  RunResult unknown_rule = run_qharden({"audit", "--offline", "--rule", "tcp-env.flag"});
  EXPECT_EQ(unknown_rule.exit_code, 3);
  EXPECT_NE(unknown_rule.standard_error.find("tcp-env.flag"), std::string::npos);
  RunResult missing_root = run_qharden({"audit", "--root", "/nonexistent/qharden-root"});
  EXPECT_EQ(missing_root.exit_code, 3);
  EXPECT_NE(missing_root.standard_error.find("/nonexistent/qharden-root"), std::string::npos);
}

TEST(CliUsage, VersionAndHelpExitZero) {
  RunResult version = run_qharden({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.standard_output.find(QHARDEN_VERSION), std::string::npos);
  EXPECT_EQ(run_qharden({"--help"}).exit_code, 0);
  RunResult explain = run_qharden({"explain", "tcp-env.flags"});
  EXPECT_EQ(explain.exit_code, 0);
  EXPECT_EQ(run_qharden({"explain", "nope"}).exit_code, 3);
}

TEST(CliUsage, BadConfigFileExitsThreeNamingFileLineColumn) {
  char path[] = "/tmp/qharden-bad-config-XXXXXX";
  int descriptor = ::mkstemp(path);
  std::string text = "[paths]\nlock_wait_s = true\n";
  ASSERT_EQ(::write(descriptor, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(descriptor);
  RunResult result = run_qharden({"audit", "--offline", "--config", path});
  ::unlink(path);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_NE(result.standard_error.find(std::string(path) + ":2:15"), std::string::npos)
      << result.standard_error;
}

// A folder given as the config was read as an empty file, so the built-in
// defaults were used unasked; and a rollback id that could never name a change
// is bad usage, as it is over D-Bus.
TEST(CliUsage, AFolderAsConfigAndAMalformedChangeIdAreBadUsage) {
  RunResult audit = run_qharden({"audit", "--offline", "--config", "/tmp"});
  EXPECT_EQ(audit.exit_code, 3);
  EXPECT_NE(audit.standard_error.find("--config /tmp: is a folder, not a config file"),
            std::string::npos)
      << audit.standard_error;
  RunResult check = run_qharden({"config", "check", "/tmp"});
  EXPECT_EQ(check.exit_code, 3);
  EXPECT_NE(check.standard_error.find("/tmp: is a folder, not a config file"), std::string::npos)
      << check.standard_error;
  // /dev/null is an empty config: the built-in defaults, on purpose; /dev/zero
  // would be read until memory runs out.
  EXPECT_EQ(run_qharden({"config", "check", "/dev/null"}).exit_code, 0);
  RunResult device = run_qharden({"config", "check", "/dev/zero"});
  EXPECT_EQ(device.exit_code, 3);
  EXPECT_NE(device.standard_error.find("/dev/zero: is a device, not a config file"),
            std::string::npos)
      << device.standard_error;
  char root[] = "/tmp/qharden-rollback-root-XXXXXX";
  ASSERT_NE(::mkdtemp(root), nullptr);
  RunResult rollback = run_qharden({"rollback", "../../etc", "--root", root});
  ::rmdir(root);
  EXPECT_EQ(rollback.exit_code, 3);
  EXPECT_NE(rollback.standard_error.find("../../etc: not a change id"), std::string::npos)
      << rollback.standard_error;
}

}  // namespace
}  // namespace qharden::testing
