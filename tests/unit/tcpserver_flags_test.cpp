#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "config/config.h"
#include "engine/context.h"
#include "engine/registry.h"
#include "host/host.h"
#include "parsers/getopt.h"
#include "tcpserver_flags/tcpserver_build.h"
#include "tcpserver_flags/tcpserver_options.h"

namespace qharden {
namespace {

std::string fixture(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

struct OptionsCase {
  const char* name;
  const char* words;  // after "tcpserver"
  bool ident_disabled;
  int timeout;
  bool error;
  bool from_variables;
  int last_option_word;  // -1: none
  bool r_undoes_capital_r = false;
};

class TcpserverOptionsTable : public testing::TestWithParam<OptionsCase> {};

TEST_P(TcpserverOptionsTable, ReadsLikeTcpserver) {
  const OptionsCase& test_case = GetParam();
  TcpserverOptions options = read_tcpserver_options(split_words(test_case.words));
  EXPECT_EQ(options.ident_disabled, test_case.ident_disabled);
  EXPECT_EQ(options.ident_timeout_seconds, test_case.timeout);
  EXPECT_EQ(options.error.has_value(), test_case.error);
  EXPECT_EQ(options.options_from_variables, test_case.from_variables);
  EXPECT_EQ(options.last_option_word ? static_cast<int>(*options.last_option_word) : -1,
            test_case.last_option_word);
  EXPECT_EQ(options.r_undoes_capital_r, test_case.r_undoes_capital_r);
}

INSTANTIATE_TEST_SUITE_P(
    Table, TcpserverOptionsTable,
    testing::Values(
        OptionsCase{"bundled", "-vRHl0 -x f.cdb 0 25 q", true, 26, false, false, 2},
        OptionsCase{"none", "0 25 q", false, 26, false, false, -1},
        OptionsCase{"later r undoes R", "-R -v -r 0 25 q", false, 26, false, false, 2, true},
        OptionsCase{"r without any R", "-r 0 25 q", false, 26, false, false, 0, false},
        OptionsCase{"R r R r", "-R -r -R -r 0 25 q", false, 26, false, false, 3, true},
        OptionsCase{"later R wins", "-r -R 0 25 q", true, 26, false, false, 1},
        OptionsCase{"bundled r after R", "-Rr 0 25 q", false, 26, false, false, 0, true},
        OptionsCase{"timeout separate", "-t 5 -v 0 25 q", false, 5, false, false, 2},
        OptionsCase{"timeout attached", "-vt0 0 25 q", false, 0, false, false, 0},
        OptionsCase{"double dash", "-R -- 0 25 q", true, 26, false, false, 0},
        OptionsCase{"R after operands is an argument", "0 25 q -R", false, 26, false, false, -1},
        OptionsCase{"unknown option", "-Z -R 0 25 q", true, 26, true, false, 1},
        OptionsCase{"options from a variable", "$TCPOPTS 0 25 q", false, 26, false, true, -1},
        OptionsCase{"argument from a variable", "-R -c $MAX 0 25 q", true, 26, false, true, 2},
        // Debian 12's ucspi-tcp 0.88-7 exits 100 at -4 ("illegal option");
        // only ucspi-tcp-ipv6 takes -4, -6 and -I (TcpserverBuildOptions below).
        OptionsCase{"ipv6 option of another build", "-6 -R 0 25 q", true, 26, true, false, 1}),
    [](const testing::TestParamInfo<OptionsCase>& parameter) {
      std::string name = parameter.param.name;
      for (char& character : name) {
        if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
      }
      return name;
    });

// The usage texts compiled into Debian 12's two tcpserver binaries.
constexpr std::string_view kPlainUsage =
    "tcpserver: usage: tcpserver [ -1UXpPhHrRoOdDqQv ] [ -c limit ] [ -x rules.cdb ] [ -B banner "
    "] [ -g gid ] [ -u uid ] [ -b backlog ] [ -l localname ] [ -t timeout ] host port program";
constexpr std::string_view kIpv6Usage =
    "tcpserver: usage: tcpserver [ -461UXpPhHrRoOdDqQv ] [ -c limit ] [ -x rules.cdb ] [ -B "
    "banner ] [ -g gid ] [ -u uid ] [ -b backlog ] [ -l localname ] [ -t timeout ] [ -I "
    "interface ] host port program";

std::string binary_with(std::string_view usage) {
  return std::string(
             "\x7f"
             "ELF\0\0junk\0",
             11) +
         std::string(usage) + std::string("\0more\0", 6);
}

TEST(TcpserverBuild, ToldApartByTheUsageInTheBinary) {
  EXPECT_EQ(tcpserver_build_of_binary(binary_with(kPlainUsage)), TcpserverBuild::plain);
  EXPECT_EQ(tcpserver_build_of_binary(binary_with(kIpv6Usage)), TcpserverBuild::ipv6);
  EXPECT_EQ(tcpserver_build_of_binary("#!/bin/sh\nexec /usr/bin/tcpserver \"$@\"\n"),
            TcpserverBuild::unknown);
  EXPECT_EQ(tcpserver_build_of_binary(""), TcpserverBuild::unknown);
}

struct BuildOptionsCase {
  const char* name;
  const char* words;
  TcpserverBuild build;
  bool ident_disabled;
  bool error;
  bool only_ipv6_build_takes_them;
};

class TcpserverBuildOptions : public testing::TestWithParam<BuildOptionsCase> {};

TEST_P(TcpserverBuildOptions, OnlyTheIpv6BuildTakesItsOptions) {
  const BuildOptionsCase& test_case = GetParam();
  TcpserverOptions options = read_tcpserver_options(split_words(test_case.words), test_case.build);
  EXPECT_EQ(options.ident_disabled, test_case.ident_disabled);
  EXPECT_EQ(options.error.has_value(), test_case.error);
  EXPECT_EQ(options.only_ipv6_build_takes_them, test_case.only_ipv6_build_takes_them);
}

INSTANTIATE_TEST_SUITE_P(
    Table, TcpserverBuildOptions,
    testing::Values(
        BuildOptionsCase{"six_on_ipv6", "-6 -R 0 25 q", TcpserverBuild::ipv6, true, false, false},
        BuildOptionsCase{"interface_on_ipv6", "-I eth0 -vR 0 25 q", TcpserverBuild::ipv6, true,
                         false, false},
        BuildOptionsCase{"bundled_on_ipv6", "-4vRI lo 0 25 q", TcpserverBuild::ipv6, true, false,
                         false},
        BuildOptionsCase{"six_on_plain", "-6 -R 0 25 q", TcpserverBuild::plain, true, true, true},
        BuildOptionsCase{"six_on_unknown", "-6 -R 0 25 q", TcpserverBuild::unknown, true, true,
                         true},
        BuildOptionsCase{"unknown_letter_on_plain", "-Z -R 0 25 q", TcpserverBuild::plain, true,
                         true, false},
        BuildOptionsCase{"unknown_letter_on_ipv6", "-Z 0 25 q", TcpserverBuild::ipv6, false, true,
                         false}),
    [](const testing::TestParamInfo<BuildOptionsCase>& parameter) {
      return std::string(parameter.param.name);
    });

class TcpserverFlagsRule : public testing::Test {
 protected:
  std::vector<Finding> check(const std::string& root) {
    Expected<RootedHost> host = RootedHost::open(root);
    EXPECT_TRUE(host) << host.error().message;
    host_ = std::make_unique<RootedHost>(std::move(*host));
    context_ = std::make_unique<AuditContext>(*host_, config_, true);
    return rule_->check(*context_);
  }

  static const Finding* find(const std::vector<Finding>& findings, const std::string& subject) {
    for (const Finding& finding : findings) {
      if (finding.subject == subject) return &finding;
    }
    return nullptr;
  }

  Config config_ = *load_builtin_config();
  const Rule* rule_ = find_rule("tcpserver.flags");
  std::unique_ptr<RootedHost> host_;
  std::unique_ptr<AuditContext> context_;
};

TEST_F(TcpserverFlagsRule, JudgesEveryRunScriptThatStartsTcpserver) {
  ASSERT_NE(rule_, nullptr);
  EXPECT_EQ(rule_->info().severity, Severity::critical);
  EXPECT_TRUE(rule_->info().can_fix);
  std::vector<Finding> findings = check(fixture("daemontools"));
  struct Expectation {
    const char* subject;
    Status status;
  };
  for (const Expectation& expected : {Expectation{"/service/smtpd/run", Status::pass},
                                      Expectation{"/service/qmail-submission/run", Status::pass},
                                      Expectation{"/service/qmail-smtpd-bad/run", Status::fail},
                                      Expectation{"/service/qmail-smtpd-undone/run", Status::fail},
                                      Expectation{"/etc/sv/qmail-smtpd/run", Status::fail},
                                      Expectation{"/service/broken/run", Status::error}}) {
    const Finding* finding = find(findings, expected.subject);
    ASSERT_NE(finding, nullptr) << expected.subject;
    EXPECT_EQ(finding->status, expected.status) << expected.subject << ": " << finding->message;
    EXPECT_EQ(finding->rule, "tcpserver.flags");
  }
  EXPECT_EQ(find(findings, "/service/qmail-send/run"), nullptr);
  EXPECT_EQ(find(findings, "/var/qmail/supervise/smtpd/run"), nullptr);
  EXPECT_EQ(findings.size(), 6u);
}

TEST_F(TcpserverFlagsRule, FailureCarriesEvidenceAndExplainsTheWait) {
  std::vector<Finding> findings = check(fixture("daemontools"));
  const Finding* bad = find(findings, "/service/qmail-smtpd-bad/run");
  ASSERT_NE(bad, nullptr);
  EXPECT_EQ(bad->severity, Severity::critical);
  EXPECT_TRUE(bad->fixable);
  EXPECT_NE(bad->message.find("26 s"), std::string::npos) << bad->message;
  EXPECT_NE(bad->message.find("ident"), std::string::npos);
  EXPECT_EQ(bad->evidence["file"], "/service/qmail-smtpd-bad/run");
  EXPECT_EQ(bad->evidence["line"], 5);
  EXPECT_EQ(bad->evidence["tcpserver_options"],
            nlohmann::json({"-v", "-U", "-x", "/etc/tcp.smtp.cdb"}));
  const Finding* undone = find(findings, "/service/qmail-smtpd-undone/run");
  ASSERT_NE(undone, nullptr);
  EXPECT_EQ(undone->message.rfind("a later -r undoes tcpserver's -R: ", 0), 0u) << undone->message;
  EXPECT_EQ(bad->message.rfind("tcpserver runs without -R: ", 0), 0u) << bad->message;
  const Finding* good = find(findings, "/service/smtpd/run");
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->evidence["tcpserver_options"],
            nlohmann::json({"-vRHl0", "-x", "/etc/tcp.smtp.cdb", "-c", "$MAXSMTPD", "-u",
                            "$QMAILDUID", "-g", "$NOFILESGID"}));
}

// An explicit -r with no -R before it undoes nothing: the message must not say it does.
TEST_F(TcpserverFlagsRule, DashRAloneIsNotCalledAnUndoneCapitalR) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("qharden-tcpserver-r-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "service/smtpd");
  std::ofstream(root / "service/smtpd/run") << "#!/bin/sh\nexec tcpserver -r -v 0 25 qmail-smtpd\n";
  std::vector<Finding> findings = check(root.string());
  const Finding* finding = find(findings, "/service/smtpd/run");
  ASSERT_NE(finding, nullptr);
  EXPECT_EQ(finding->status, Status::fail);
  EXPECT_EQ(finding->message.rfind("tcpserver runs with -r and without -R: ", 0), 0u)
      << finding->message;
  fs::remove_all(root);
}

// ucspi-tcp-ipv6's -6 is judged like any option where that build is the
// tcpserver the script starts, and is the error it is anywhere else.
struct HostBinary {
  const char* path;
  std::string_view bytes;
  bool executable = true;
};

struct BuildHostCase {
  const char* name;
  const char* script_line;
  std::vector<HostBinary> binaries;
  Status status;
  const char* build;
  const char* binary;
  const char* message_part;
};

class TcpserverBuildHost : public TcpserverFlagsRule,
                           public testing::WithParamInterface<BuildHostCase> {};

constexpr std::string_view kWrapperScript = "#!/bin/sh\nexec /opt/ucspi/tcpserver \"$@\"\n";

TEST_P(TcpserverBuildHost, JudgesTheBinaryTheScriptStarts) {
  namespace fs = std::filesystem;
  const BuildHostCase& test_case = GetParam();
  fs::path root = fs::temp_directory_path() /
                  ("qharden-tcpserver-build-" + std::to_string(::getpid()) + test_case.name);
  fs::remove_all(root);
  fs::create_directories(root / "service/smtpd");
  std::ofstream(root / "service/smtpd/run") << "#!/bin/sh\n" << test_case.script_line << "\n";
  for (const HostBinary& binary : test_case.binaries) {
    fs::path path = root / (binary.path + 1);
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << binary.bytes;
    fs::permissions(path, binary.executable ? fs::perms(0755) : fs::perms(0644));
  }
  std::vector<Finding> findings = check(root.string());
  const Finding* finding = find(findings, "/service/smtpd/run");
  ASSERT_NE(finding, nullptr);
  EXPECT_EQ(finding->status, test_case.status) << finding->message;
  EXPECT_EQ(finding->evidence["tcpserver_build"], test_case.build);
  EXPECT_EQ(finding->evidence["tcpserver_binary"], test_case.binary);
  EXPECT_NE(finding->message.find(test_case.message_part), std::string::npos) << finding->message;
  if (test_case.status == Status::fail) {
    Expected<std::vector<PlannedChange>> changes = rule_->plan(*context_, {*finding});
    ASSERT_TRUE(changes) << changes.error().message;
    ASSERT_EQ(changes->size(), 1u) << "the plan reads the same build";
  }
  fs::remove_all(root);
}

const std::string kIpv6Binary = binary_with(kIpv6Usage);
const std::string kPlainBinary = binary_with(kPlainUsage);

INSTANTIATE_TEST_SUITE_P(
    Table, TcpserverBuildHost,
    testing::Values(
        BuildHostCase{"ipv6_in_usr_bin",
                      "exec tcpserver -6 -v 0 25 qmail-smtpd",
                      {{"/usr/bin/tcpserver", kIpv6Binary}},
                      Status::fail,
                      "ucspi-tcp-ipv6",
                      "/usr/bin/tcpserver",
                      "tcpserver runs without -R"},
        BuildHostCase{"plain_in_usr_bin",
                      "exec tcpserver -6 -v 0 25 qmail-smtpd",
                      {{"/usr/bin/tcpserver", kPlainBinary}},
                      Status::error,
                      "ucspi-tcp",
                      "/usr/bin/tcpserver",
                      "(unknown option -6, which only ucspi-tcp-ipv6's tcpserver takes, and "
                      "/usr/bin/tcpserver is the plain ucspi-tcp build)"},
        // svscanboot's and runit's PATH start with /command.
        BuildHostCase{"command_comes_first",
                      "exec tcpserver -6 -v 0 25 qmail-smtpd",
                      {{"/command/tcpserver", kIpv6Binary}, {"/usr/bin/tcpserver", kPlainBinary}},
                      Status::fail,
                      "ucspi-tcp-ipv6",
                      "/command/tcpserver",
                      "without -R"},
        BuildHostCase{"a_file_that_is_not_executable_is_passed_over",
                      "exec tcpserver -6 -v 0 25 qmail-smtpd",
                      {{"/usr/local/bin/tcpserver", kPlainBinary, false},
                       {"/usr/bin/tcpserver", kIpv6Binary}},
                      Status::fail,
                      "ucspi-tcp-ipv6",
                      "/usr/bin/tcpserver",
                      "without -R"},
        BuildHostCase{
            "relative_to_the_script_folder",
            "exec bin/tcpserver -6 -v 0 25 qmail-smtpd",
            {{"/service/smtpd/bin/tcpserver", kIpv6Binary}, {"/bin/tcpserver", kPlainBinary}},
            Status::fail,
            "ucspi-tcp-ipv6",
            "/service/smtpd/bin/tcpserver",
            "without -R"},
        BuildHostCase{"absolute_path",
                      "exec /opt/ucspi/tcpserver -6 -v 0 25 qmail-smtpd",
                      {{"/opt/ucspi/tcpserver", kIpv6Binary}, {"/usr/bin/tcpserver", kPlainBinary}},
                      Status::fail,
                      "ucspi-tcp-ipv6",
                      "/opt/ucspi/tcpserver",
                      "without -R"},
        BuildHostCase{"a_wrapper_script_is_not_recognised",
                      "exec tcpserver -6 -v 0 25 qmail-smtpd",
                      {{"/usr/local/bin/tcpserver", kWrapperScript}},
                      Status::error,
                      "unknown",
                      "/usr/local/bin/tcpserver",
                      "and /usr/local/bin/tcpserver holds no tcpserver usage text, so which build "
                      "it runs is unknown)"},
        BuildHostCase{"none_found",
                      "exec tcpserver -6 -v 0 25 qmail-smtpd",
                      {},
                      Status::error,
                      "unknown",
                      "",
                      "and no executable tcpserver was found at /command/tcpserver, "
                      "/usr/local/bin/tcpserver, /usr/local/sbin/tcpserver, /bin/tcpserver, "
                      "/sbin/tcpserver, /usr/bin/tcpserver, /usr/sbin/tcpserver to tell which "
                      "build is installed)"},
        // svscanboot's PATH has /bin before /usr/bin.
        BuildHostCase{"bin_before_usr_bin",
                      "exec tcpserver -6 -v 0 25 qmail-smtpd",
                      {{"/bin/tcpserver", kIpv6Binary}, {"/usr/bin/tcpserver", kPlainBinary}},
                      Status::fail,
                      "ucspi-tcp-ipv6",
                      "/bin/tcpserver",
                      "without -R"},
        BuildHostCase{
            "path_set_and_exported_by_the_script",
            "PATH=/opt/ucspi/bin:/usr/bin:/bin; export PATH; exec tcpserver -6 -v 0 25 x",
            {{"/opt/ucspi/bin/tcpserver", kIpv6Binary}, {"/usr/bin/tcpserver", kPlainBinary}},
            Status::fail,
            "ucspi-tcp-ipv6",
            "/opt/ucspi/bin/tcpserver",
            "without -R"},
        // PATH is inherited, so sh keeps it exported when it is assigned.
        BuildHostCase{
            "path_assigned_without_export",
            "PATH=/opt/ucspi/bin:$PATH\nexec tcpserver -6 -v 0 25 x",
            {{"/opt/ucspi/bin/tcpserver", kIpv6Binary}, {"/usr/bin/tcpserver", kPlainBinary}},
            Status::fail,
            "ucspi-tcp-ipv6",
            "/opt/ucspi/bin/tcpserver",
            "without -R"},
        BuildHostCase{"inherited_path_within_the_scripts",
                      "PATH=/nothing:${PATH} exec tcpserver -6 -v 0 25 x",
                      {{"/usr/bin/tcpserver", kIpv6Binary}},
                      Status::fail,
                      "ucspi-tcp-ipv6",
                      "/usr/bin/tcpserver",
                      "without -R"},
        BuildHostCase{
            "path_from_another_variable",
            "PATH=$MYPATH exec tcpserver -6 -v 0 25 x",
            {{"/usr/bin/tcpserver", kIpv6Binary}},
            Status::error,
            "unknown",
            "",
            "and the script's PATH ($MYPATH) comes from variables qharden does not expand, "
            "so which build it starts is unknown)"},
        // An unexpanded entry ahead of the match may hold another tcpserver.
        BuildHostCase{"an_unexpanded_entry_before_the_match",
                      "PATH=$MYBIN:/usr/bin exec tcpserver -6 -v 0 25 x",
                      {{"/usr/bin/tcpserver", kPlainBinary}},
                      Status::error,
                      "unknown",
                      "/usr/bin/tcpserver",
                      "the script's PATH has $MYBIN before /usr/bin/tcpserver, which qharden does "
                      "not expand"},
        // The second $PATH is the script's first value, not the inherited one.
        BuildHostCase{"path_built_twice",
                      "PATH=/opt/v6:$PATH\nPATH=/nothing:$PATH\nexec tcpserver -6 -v 0 25 x",
                      {{"/opt/v6/tcpserver", kIpv6Binary}, {"/usr/bin/tcpserver", kPlainBinary}},
                      Status::fail,
                      "ucspi-tcp-ipv6",
                      "/opt/v6/tcpserver",
                      "without -R"},
        // envdir finds its program with the PATH it was started with.
        BuildHostCase{"envdir_path_is_not_the_search_path",
                      "exec envdir ./env tcpserver -6 -v 0 25 x",
                      {{"/service/smtpd/env/PATH", "/opt/v6:/usr/bin\n"},
                       {"/opt/v6/tcpserver", kIpv6Binary},
                       {"/usr/bin/tcpserver", kPlainBinary}},
                      Status::error,
                      "ucspi-tcp",
                      "/usr/bin/tcpserver",
                      "/usr/bin/tcpserver is the plain ucspi-tcp build"},
        BuildHostCase{"envdir_path_reaches_a_program_after_another_wrapper",
                      "exec envdir ./env softlimit -m 9000000 tcpserver -6 -v 0 25 x",
                      {{"/service/smtpd/env/PATH", "/opt/v6:/usr/bin\n"},
                       {"/opt/v6/tcpserver", kIpv6Binary},
                       {"/usr/bin/tcpserver", kPlainBinary}},
                      Status::fail,
                      "ucspi-tcp-ipv6",
                      "/opt/v6/tcpserver",
                      "without -R"},
        BuildHostCase{"plain_options_need_no_binary",
                      "exec tcpserver -v 0 25 qmail-smtpd",
                      {},
                      Status::fail,
                      "unknown",
                      "",
                      "tcpserver runs without -R"}),
    [](const testing::TestParamInfo<BuildHostCase>& parameter) {
      return std::string(parameter.param.name);
    });

TEST_F(TcpserverFlagsRule, NoRunScriptsIsOneSkipNamingTheGlobs) {
  std::vector<Finding> findings = check(fixture("resolv-missing"));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].status, Status::skip);
  EXPECT_NE(findings[0].message.find("/service/*/run"), std::string::npos);
  EXPECT_NE(findings[0].message.find("/etc/sv/*/run"), std::string::npos);
}

// Copies the fixture, applies what plan() proposes, and audits the copy again.
TEST_F(TcpserverFlagsRule, PlanInsertsOnlyDashRAndTheFixPasses) {
  namespace fs = std::filesystem;
  fs::path copy = fs::temp_directory_path() / ("qharden-tcpserver-" + std::to_string(::getpid()));
  fs::remove_all(copy);
  fs::copy(fixture("daemontools"), copy,
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  std::vector<Finding> findings = check(copy.string());
  std::vector<Finding> failing;
  for (const Finding& finding : findings) {
    if (finding.status == Status::fail) failing.push_back(finding);
  }
  ASSERT_EQ(failing.size(), 3u);
  Expected<std::vector<PlannedChange>> changes = rule_->plan(*context_, failing);
  ASSERT_TRUE(changes) << changes.error().message;
  ASSERT_EQ(changes->size(), 3u);
  for (const PlannedChange& change : *changes) {
    const auto& replacement = std::get<FileReplacement>(change.action);
    EXPECT_EQ(replacement.host_path, change.subject);
    EXPECT_EQ(replacement.after.size(), replacement.before.size() + 3);
    if (change.subject == "/service/qmail-smtpd-bad/run") {
      std::string expected = replacement.before;
      expected.insert(expected.find("tcpserver") + 9, " -R");
      EXPECT_EQ(replacement.after, expected);
      EXPECT_NE(change.summary.find("svc -t /service/qmail-smtpd-bad"), std::string::npos)
          << change.summary;
    }
    if (change.subject == "/service/qmail-smtpd-undone/run") {
      EXPECT_NE(replacement.after.find("-r -c 40 -R 0 26"), std::string::npos) << replacement.after;
    }
    if (change.subject == "/etc/sv/qmail-smtpd/run") {
      EXPECT_NE(change.summary.find("sv restart qmail-smtpd"), std::string::npos) << change.summary;
    }
    std::ofstream(copy.string() + change.subject, std::ios::binary | std::ios::trunc)
        << replacement.after;
  }
  for (const Finding& finding : check(copy.string())) {
    EXPECT_NE(finding.status, Status::fail) << finding.subject << ": " << finding.message;
  }
  fs::remove_all(copy);
}

}  // namespace
}  // namespace qharden
