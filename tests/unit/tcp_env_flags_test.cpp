#include <gtest/gtest.h>

#include <algorithm>

#include <cctype>
#include <functional>
#include <memory>
#include <optional>

#include "config/config.h"
#include "engine/context.h"
#include "engine/rule.h"
#include "host/host.h"
#include "parsers/getopt.h"
#include "tcp_env_flags/tcp_env_flags.h"
#include "temporary_tree.h"

namespace qharden {

std::unique_ptr<Rule> make_tcp_env_flags_rule();

namespace {

struct OptionsCase {
  const char* options;
  bool passes;
  std::vector<std::string> option_words;
};

class TcpEnvOptionsTable : public ::testing::TestWithParam<OptionsCase> {};

TEST_P(TcpEnvOptionsTable, DjbGetoptDecides) {
  std::vector<std::string> words = split_words(GetParam().options);
  words.push_back("/var/qmail/bin/qmail-smtpd");
  TcpEnvOptions options = read_tcp_env_options(words);
  EXPECT_EQ(options.passes(), GetParam().passes) << GetParam().options;
  EXPECT_EQ(options.option_words, GetParam().option_words) << GetParam().options;
}

INSTANTIATE_TEST_SUITE_P(
    Table, TcpEnvOptionsTable,
    ::testing::Values(OptionsCase{"-Rt0", true, {"-Rt0"}},
                      OptionsCase{"-R -t0", true, {"-R", "-t0"}},
                      OptionsCase{"-t0 -R", true, {"-t0", "-R"}}, OptionsCase{"-rR", true, {"-rR"}},
                      OptionsCase{"-R -t 0", true, {"-R", "-t", "0"}},
                      OptionsCase{"-R --", true, {"-R", "--"}}, OptionsCase{"-Rr", false, {"-Rr"}},
                      OptionsCase{"-R -r", false, {"-R", "-r"}},
                      OptionsCase{"-t30", false, {"-t30"}}, OptionsCase{"-t0", false, {"-t0"}},
                      OptionsCase{"", false, {}}, OptionsCase{"-r", false, {"-r"}},
                      OptionsCase{"-Rx", false, {"-Rx"}}),
    [](const ::testing::TestParamInfo<OptionsCase>& parameter) {
      std::string name = std::string(parameter.param.passes ? "passes" : "fails") + "_";
      for (char character : std::string(parameter.param.options)) {
        name += std::isalnum(static_cast<unsigned char>(character)) ? character : '_';
      }
      return name + "_" + std::to_string(parameter.index);
    });

TEST(TcpEnvOptions, LaterLowerRUndoesCapitalRAndTimeoutIsRead) {
  TcpEnvOptions undone = read_tcp_env_options({"-Rr", "/q"});
  EXPECT_TRUE(undone.r_undoes_capital_r);
  EXPECT_FALSE(undone.ident_off);
  TcpEnvOptions timeout = read_tcp_env_options({"-t", "45", "/q"});
  EXPECT_EQ(timeout.ident_timeout_seconds, 45u);
  EXPECT_FALSE(read_tcp_env_options({"/q"}).r_undoes_capital_r);
  EXPECT_EQ(read_tcp_env_options({"/q"}).ident_timeout_seconds, 30u);
  EXPECT_TRUE(read_tcp_env_options({"-Rx", "/q"}).error);
}

struct Audit {
  std::vector<Finding> findings;
  Expected<std::vector<PlannedChange>> changes = std::vector<PlannedChange>{};
};

Audit audit_root(const std::string& root, const std::string& inetd_conf = "/etc/inetd.conf") {
  Expected<RootedHost> host = RootedHost::open(root);
  Expected<Config> config = load_builtin_config();
  if (config) config->paths.inetd_conf = inetd_conf;
  Audit audit;
  if (!host || !config) {
    ADD_FAILURE() << "cannot open " << root;
    return audit;
  }
  AuditContext context(*host, *config, true);
  std::unique_ptr<Rule> rule = make_tcp_env_flags_rule();
  audit.findings = rule->check(context);
  std::vector<Finding> failing;
  for (const Finding& finding : audit.findings) {
    if (finding.status == Status::fail) failing.push_back(finding);
  }
  audit.changes = rule->plan(context, failing);
  return audit;
}

struct Expectation {
  std::string subject;
  Status status;
  int line;
};

void expect_findings(const std::vector<Finding>& findings,
                     const std::vector<Expectation>& expected) {
  ASSERT_EQ(findings.size(), expected.size());
  for (std::size_t index = 0; index < findings.size(); ++index) {
    const Finding& finding = findings[index];
    EXPECT_EQ(finding.rule, "tcp-env.flags");
    EXPECT_EQ(finding.subject, expected[index].subject) << index;
    EXPECT_EQ(to_string(finding.status), to_string(expected[index].status))
        << finding.subject << ": " << finding.message;
    EXPECT_EQ(finding.evidence.value("line", -1), expected[index].line) << finding.subject;
    EXPECT_EQ(finding.fixable, finding.status == Status::fail) << finding.subject;
    EXPECT_EQ(finding.severity, Severity::critical);
  }
}

const FileReplacement& replacement(const PlannedChange& change) {
  return std::get<FileReplacement>(change.action);
}

TEST(TcpEnvFlags, PleskFixture) {
  Audit audit = audit_root(testing::fixture_root("plesk"));
  expect_findings(audit.findings, {{"/etc/xinetd.d/smtp_psa:smtp", Status::fail, 9},
                                   {"/etc/xinetd.d/smtp_psa_old:smtp", Status::skip, 10},
                                   {"/etc/xinetd.d/smtps_psa:smtps", Status::pass, 10},
                                   {"/etc/xinetd.d/submission_psa:submission", Status::fail, 11}});
  const Finding& smtp = audit.findings[0];
  EXPECT_EQ(smtp.message,
            "tcp-env runs without -R: each connection can wait 30 s for an ident reply before 220");
  EXPECT_EQ(smtp.evidence["file"], "/etc/xinetd.d/smtp_psa");
  EXPECT_EQ(smtp.evidence["tcp_env_options"], nlohmann::json::array());
  EXPECT_EQ(smtp.evidence["ident"], true);
  EXPECT_EQ(smtp.evidence["xinetd_userid"], nlohmann::json::array());
  EXPECT_EQ(smtp.evidence["served_by"], "xinetd");
  EXPECT_EQ(audit.findings[1].message, "service is disabled (disable = yes); not checked");
  EXPECT_EQ(audit.findings[2].evidence["tcp_env_options"], nlohmann::json::array({"-Rt0"}));
  EXPECT_EQ(audit.findings[2].evidence["ident"], false);
  const Finding& submission = audit.findings[3];
  EXPECT_EQ(submission.evidence["xinetd_userid"], nlohmann::json::array({"log_on_success"}));
  EXPECT_EQ(submission.evidence["tcp_env_options"], nlohmann::json::array({"-t30"}));
  EXPECT_NE(submission.message.find("USERID in log_on_success"), std::string::npos);
}

TEST(TcpEnvFlags, PleskPlanChangesOnlyTheOptionBytes) {
  Audit audit = audit_root(testing::fixture_root("plesk"));
  ASSERT_TRUE(audit.changes) << audit.changes.error().message;
  ASSERT_EQ(audit.changes->size(), 2u);

  const FileReplacement& smtp = replacement((*audit.changes)[0]);
  EXPECT_EQ((*audit.changes)[0].rule, "tcp-env.flags");
  EXPECT_EQ((*audit.changes)[0].subject, "/etc/xinetd.d/smtp_psa");
  EXPECT_EQ(smtp.host_path, "/etc/xinetd.d/smtp_psa");
  EXPECT_FALSE(smtp.create);
  EXPECT_EQ(smtp.before, testing::read_fixture("plesk", "/etc/xinetd.d/smtp_psa"));
  std::string expected_smtp = smtp.before;
  std::string anchor = "server_args\t= /usr/sbin/rblsmtpd";
  expected_smtp.replace(expected_smtp.find(anchor), anchor.size(),
                        "server_args\t= -Rt0 /usr/sbin/rblsmtpd");
  EXPECT_EQ(smtp.after, expected_smtp);

  const FileReplacement& submission = replacement((*audit.changes)[1]);
  EXPECT_EQ(submission.host_path, "/etc/xinetd.d/submission_psa");
  std::string expected_submission = submission.before;
  std::size_t options = expected_submission.find("-t30 ");
  ASSERT_NE(options, std::string::npos);
  expected_submission.replace(options, 4, "-Rt0");
  std::size_t closing = expected_submission.rfind("}\n");
  expected_submission.insert(closing, "\tlog_on_success -= USERID\n");
  EXPECT_EQ(submission.after, expected_submission);
  EXPECT_NE((*audit.changes)[1].summary.find("log_on_success -= USERID"), std::string::npos);
}

TEST(TcpEnvFlags, InetdFixtureAndOnePlanForTheFile) {
  Audit audit = audit_root(testing::fixture_root("inetd"));
  expect_findings(audit.findings, {{"/etc/inetd.conf:smtp", Status::fail, 14},
                                   {"/etc/inetd.conf:127.0.0.1:smtp", Status::pass, 15},
                                   {"/etc/inetd.conf:submission", Status::fail, 16}});
  EXPECT_EQ(audit.findings[0].evidence["served_by"], "inetd");
  EXPECT_EQ(audit.findings[2].evidence["tcp_env_options"], nlohmann::json::array({"-Rr"}));
  EXPECT_NE(audit.findings[2].message.find("-r after -R"), std::string::npos);

  ASSERT_TRUE(audit.changes) << audit.changes.error().message;
  ASSERT_EQ(audit.changes->size(), 1u);
  const FileReplacement& file = replacement((*audit.changes)[0]);
  std::string expected = file.before;
  std::string classic = "tcp-env\ttcp-env /var/qmail/bin/qmail-smtpd";
  expected.replace(expected.find(classic), classic.size(),
                   "tcp-env\ttcp-env -Rt0 /var/qmail/bin/qmail-smtpd");
  std::string wrapped = "tcp-env -Rr\n";
  expected.replace(expected.find(wrapped), wrapped.size(), "tcp-env -Rt0\n");
  EXPECT_EQ(file.after, expected);
}

TEST(TcpEnvFlags, MalformedTreeGivesErrorsNamingFileAndLine) {
  Audit audit = audit_root(testing::fixture_root("xinetd-malformed"));
  expect_findings(audit.findings, {{"/etc/xinetd.cycle", Status::error, 2},
                                   {"/etc/xinetd.d/a_truncated", Status::error, 1},
                                   {"/etc/xinetd.d/binary", Status::error, 2},
                                   {"/etc/xinetd.d/good", Status::error, 13},
                                   {"/etc/xinetd.d/loop", Status::error, 0},
                                   {"/etc/xinetd.d/self", Status::error, 0},
                                   {"/etc/xinetd.d/good:smtp", Status::pass, 6},
                                   {"/etc/xinetd.d/longline:smtps", Status::pass, 6}});
  EXPECT_EQ(audit.findings[0].message,
            "/etc/xinetd.cycle:2: include cycle: /etc/xinetd.conf is already being read; not "
            "followed");
  EXPECT_EQ(audit.findings[2].message,
            "/etc/xinetd.d/binary:2: binary file (NUL byte); xinetd cannot use it");
  EXPECT_EQ(audit.findings[4].message, "/etc/xinetd.d/loop: Too many levels of symbolic links");
  ASSERT_TRUE(audit.changes);
  EXPECT_TRUE(audit.changes->empty());
}

TEST(TcpEnvFlags, NoSuperServerConfigurationIsOneSkip) {
  testing::TemporaryTree tree;
  tree.write("/etc/hostname", "mail\n");
  Audit audit = audit_root(tree.root());
  ASSERT_EQ(audit.findings.size(), 1u);
  EXPECT_EQ(audit.findings[0].status, Status::skip);
  EXPECT_EQ(audit.findings[0].message,
            "no xinetd or inetd configuration and no systemd socket with Accept=yes on this host");
}

TEST(TcpEnvFlags, NothingRunsTcpEnvIsOneSkip) {
  testing::TemporaryTree tree;
  tree.write("/etc/xinetd.conf", "service ftp\n{\n\tserver = /usr/sbin/in.ftpd\n}\n");
  Audit audit = audit_root(tree.root());
  ASSERT_EQ(audit.findings.size(), 1u);
  EXPECT_EQ(audit.findings[0].status, Status::skip);
  EXPECT_EQ(audit.findings[0].subject, "tcp-env.flags");
}

TEST(TcpEnvFlags, InetdCompatAndDuplicateServiceNamesUseTheId) {
  testing::TemporaryTree tree;
  tree.write("/etc/default/xinetd", "# Debian\nINETD_COMPAT=Yes\n");
  tree.write("/etc/xinetd.conf",
             "service smtp\n{\n\tid = smtp-a\n\tserver = /var/qmail/bin/tcp-env\n"
             "\tserver_args = -R /q\n\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n}\n"
             "service smtp\n{\n\tid = smtp-b\n\tserver = /var/qmail/bin/tcp-env\n"
             "\tserver_args = -R /q\n\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n}\n");
  tree.write("/etc/inetd.conf",
             "smtp stream tcp nowait qmaild /var/qmail/bin/tcp-env tcp-env -R /q\n");
  Audit audit = audit_root(tree.root());
  expect_findings(audit.findings, {{"/etc/xinetd.conf:smtp-a", Status::pass, 4},
                                   {"/etc/xinetd.conf:smtp-b", Status::pass, 13},
                                   {"/etc/inetd.conf:smtp", Status::pass, 1}});
  EXPECT_EQ(audit.findings[2].evidence["served_by"], "xinetd (INETD_COMPAT)");
}

// The inventory reads xinetd's files twice, one section at a time (issue 15:
// audit memory): a defaults entry after the services, in a file included
// later, still disables a service read before it, and the services arrive in
// xinetd's reading order, the included file's in place.
TEST(TcpEnvFlags, DefaultsReadAfterTheServicesStillApply) {
  testing::TemporaryTree tree;
  tree.write("/etc/xinetd.conf",
             "service smtp\n{\n\tid = smtp-a\n\tserver = /var/qmail/bin/tcp-env\n"
             "\tserver_args = /q\n\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n}\n"
             "includedir /etc/xinetd.d\n"
             "service submission\n{\n\tserver = /var/qmail/bin/tcp-env\n"
             "\tserver_args = /q\n\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n}\n");
  tree.write("/etc/xinetd.d/late",
             "service smtp\n{\n\tid = smtp-b\n\tserver = /var/qmail/bin/tcp-env\n"
             "\tserver_args = -R /q\n\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n}\n"
             "defaults\n{\n\tdisabled = submission\n}\n");
  Audit audit = audit_root(tree.root());
  expect_findings(audit.findings, {{"/etc/xinetd.conf:smtp", Status::fail, 4},
                                   {"/etc/xinetd.d/late:smtp", Status::pass, 4},
                                   {"/etc/xinetd.conf:submission", Status::skip, 13}});
  EXPECT_NE(audit.findings[2].message.find("listed in `disabled` of defaults"), std::string::npos)
      << audit.findings[2].message;
}

// Hands every call to another host; the hosts below change one file's reads.
// read_file_in_blocks is not forwarded: Host's own reads through read_file, so
// a host that changes read_file changes both.
class ForwardingHost : public Host {
 public:
  explicit ForwardingHost(const Host& inner) : inner_(inner) {}
  const std::string& root() const override { return inner_.root(); }
  Expected<std::string> read_file(const std::string& host_path) const override {
    return inner_.read_file(host_path);
  }
  Expected<std::vector<std::string>> list_directory(const std::string& host_path) const override {
    return inner_.list_directory(host_path);
  }
  Expected<FileStatus> status(const std::string& host_path, bool follow) const override {
    return inner_.status(host_path, follow);
  }
  Expected<std::string> read_symlink(const std::string& host_path) const override {
    return inner_.read_symlink(host_path);
  }
  Expected<std::string> read_runtime_sysctl(const std::string& slash_key) const override {
    return inner_.read_runtime_sysctl(slash_key);
  }
  std::string runtime_sysctl_source() const override { return inner_.runtime_sysctl_source(); }

 protected:
  const Host& inner_;
};

// Plesk rewriting a file between the inventory's two passes: the labels and
// defaults of the first pass would not match the services of the second, so
// the reading is done again; a file that never holds still is an error.
class RewritingHost final : public ForwardingHost {
 public:
  RewritingHost(const Host& inner, std::string path, std::vector<std::string> texts)
      : ForwardingHost(inner), path_(std::move(path)), texts_(std::move(texts)) {}
  Expected<std::string> read_file(const std::string& host_path) const override {
    if (host_path != path_) return inner_.read_file(host_path);
    ++reads;
    return texts_[std::min(reads, texts_.size()) - 1];
  }
  mutable std::size_t reads = 0;

 private:
  std::string path_;
  std::vector<std::string> texts_;
};

std::vector<Finding> check_with(const Host& host) {
  Config config = *load_builtin_config();
  AuditContext context(host, config, true);
  return make_tcp_env_flags_rule()->check(context);
}

TEST(TcpEnvFlags, AFileRewrittenBetweenThePassesIsReadAgain) {
  testing::TemporaryTree tree;
  tree.write("/etc/xinetd.conf", "includedir /etc/xinetd.d\n");
  tree.write("/etc/xinetd.d/smtp_psa", "");
  RootedHost rooted = *RootedHost::open(tree.root());
  const std::string one =
      "service smtp\n{\n\tid = a\n\tserver = /x/tcp-env\n\tsocket_type = stream\n\twait = "
      "no\n\tuser = qmaild\n}\n";
  const std::string two = one +
                          "service smtp\n{\n\tid = b\n\tserver = /x/tcp-env\n\tsocket_type = "
                          "stream\n\twait = no\n\tuser = qmaild\n}\n";
  // Each pass reads a file twice (a look for NUL bytes, then the parse).
  // Pass one reads one service, pass two (Plesk has added one) two, then
  // both passes of the second reading agree.
  RewritingHost host(rooted, "/etc/xinetd.d/smtp_psa", {one, one, two});
  std::vector<Finding> findings = check_with(host);
  EXPECT_EQ(host.reads, 8u);
  ASSERT_EQ(findings.size(), 2u);
  // Labelled by id: the name repeats in the file as it was judged.
  EXPECT_EQ(findings[0].subject, "/etc/xinetd.d/smtp_psa:a");
  EXPECT_EQ(findings[1].subject, "/etc/xinetd.d/smtp_psa:b");

  // Rewritten between the look and the parse of the first pass.
  RewritingHost between(rooted, "/etc/xinetd.d/smtp_psa", {one, two});
  findings = check_with(between);
  EXPECT_EQ(between.reads, 8u);
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[1].subject, "/etc/xinetd.d/smtp_psa:b");

  // A NUL byte that appears after the look: the parse stops there, and the
  // reading is done again.
  RewritingHost binary(rooted, "/etc/xinetd.d/smtp_psa", {one, one + std::string(1, '\0'), one});
  findings = check_with(binary);
  EXPECT_EQ(binary.reads, 8u);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].subject, "/etc/xinetd.d/smtp_psa:smtp");
  EXPECT_NE(findings[0].status, Status::error) << findings[0].message;

  // Looked at without a NUL and parsed with one, in both passes alike: the
  // passes agree, but neither parsed what it looked at (review of f6abe03).
  const std::string binary_two = two + std::string(1, '\0');
  RewritingHost flipping(rooted, "/etc/xinetd.d/smtp_psa",
                         {one, binary_two, one, binary_two, one, binary_two, one, binary_two, one,
                          binary_two, one, binary_two});
  findings = check_with(flipping);
  EXPECT_EQ(flipping.reads, 12u) << "each of the 3 readings is done";
  EXPECT_TRUE(std::any_of(findings.begin(), findings.end(), [](const Finding& finding) {
    return finding.status == Status::error &&
           finding.message.find("changed while it was being read") != std::string::npos;
  }));

  RewritingHost restless(rooted, "/etc/xinetd.d/smtp_psa",
                         {one, one, two, two, one, one, two, two, one, one, two, two});
  findings = check_with(restless);
  EXPECT_EQ(restless.reads, 12u);
  ASSERT_FALSE(findings.empty());
  EXPECT_EQ(findings[0].status, Status::error);
  EXPECT_NE(findings[0].message.find("changed while it was being read"), std::string::npos)
      << findings[0].message;
}

// A read that fails part way through a file (an I/O error, a file that grows
// past the size cap while being read): what was parsed before the failure is
// judged, and the file carries an error, so no check is skipped silently.
class FailingPartWayHost final : public ForwardingHost {
 public:
  // Given a reading's number (from 1): nothing when it reads the whole file,
  // or how many whole services it hands on before it fails.
  using FailingReadings = std::function<std::optional<int>(std::size_t reading)>;
  FailingPartWayHost(const Host& inner, std::string path, FailingReadings fails)
      : ForwardingHost(inner), path_(std::move(path)), fails_(std::move(fails)) {}
  Outcome read_file_in_blocks(const std::string& host_path,
                              const FileBlockVisitor& each_block) const override {
    if (host_path != path_) return inner_.read_file_in_blocks(host_path, each_block);
    ++readings;
    Expected<std::string> text = inner_.read_file(host_path);
    if (!text) return Unexpected(text.error());
    std::optional<int> services_before_failing = fails_(readings);
    if (!services_before_failing) {
      each_block(*text);
      return Done{};
    }
    std::size_t cut = 0;
    for (int service = 0; service < *services_before_failing; ++service) {
      cut = text->find("}\n", cut) + 2;
    }
    each_block(std::string_view(*text).substr(0, cut));
    return fail_with(host_path + ": Input/output error");
  }
  mutable std::size_t readings = 0;

 private:
  std::string path_;
  FailingReadings fails_;
};

TEST(TcpEnvFlags, AReadFailingPartWayThroughAFileIsAnErrorNamingIt) {
  testing::TemporaryTree tree;
  tree.write("/etc/xinetd.conf", "includedir /etc/xinetd.d\n");
  tree.write("/etc/xinetd.d/smtp_psa",
             "service smtp\n{\n\tid = a\n\tserver = /x/tcp-env\n\tsocket_type = stream\n\twait = "
             "no\n\tuser = qmaild\n}\n"
             "service smtp\n{\n\tid = b\n\tserver = /x/tcp-env\n\tsocket_type = stream\n\twait = "
             "no\n\tuser = qmaild\n}\n");
  RootedHost rooted = *RootedHost::open(tree.root());
  auto error_naming_the_file = [](const std::vector<Finding>& findings) {
    return std::any_of(findings.begin(), findings.end(), [](const Finding& finding) {
      return finding.status == Status::error && finding.subject == "/etc/xinetd.d/smtp_psa" &&
             finding.message == "/etc/xinetd.d/smtp_psa: Input/output error";
    });
  };
  // Every reading: the look for NUL bytes never sees the whole file, so
  // nothing in it is judged, and the file is the error.
  FailingPartWayHost always(rooted, "/etc/xinetd.d/smtp_psa",
                            [](std::size_t) { return std::optional<int>(1); });
  std::vector<Finding> findings = check_with(always);
  EXPECT_TRUE(error_naming_the_file(findings));
  EXPECT_EQ(findings.size(), 1u);

  // Every parse (the even readings): the service read before the failure is
  // judged, the file is an error, and the section cut off is not reported as
  // lacking its `}`.
  FailingPartWayHost parses(rooted, "/etc/xinetd.d/smtp_psa", [](std::size_t reading) {
    return reading % 2 == 0 ? std::optional<int>(1) : std::nullopt;
  });
  findings = check_with(parses);
  EXPECT_TRUE(error_naming_the_file(findings));
  // Only one `service smtp` was read, so it is labelled by its name.
  EXPECT_EQ(std::count_if(findings.begin(), findings.end(),
                          [](const Finding& finding) {
                            return finding.subject == "/etc/xinetd.d/smtp_psa:smtp" &&
                                   finding.status == Status::fail;
                          }),
            1);
  EXPECT_EQ(findings.size(), 2u) << "the second service was never read";
  for (const Finding& finding : findings) {
    EXPECT_EQ(finding.message.find("closing"), std::string::npos) << finding.message;
    EXPECT_EQ(finding.message.find("changed while"), std::string::npos)
        << "an I/O error is not a rewrite: " << finding.message;
  }
  EXPECT_EQ(parses.readings, 4u) << "both passes agree, so one reading";

  // Once only, in any of the four readings (the look for NUL bytes and the
  // parse, in each pass): the two passes disagree, so the reading is done
  // again, and the second reading sees the whole file.
  for (std::size_t failing : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE("failing reading " + std::to_string(failing));
    FailingPartWayHost once(rooted, "/etc/xinetd.d/smtp_psa", [failing](std::size_t reading) {
      return reading == failing ? std::optional<int>(1) : std::nullopt;
    });
    findings = check_with(once);
    EXPECT_EQ(once.readings, failing % 2 == 1 ? 7u : 8u)
        << "a failed look for NUL bytes is not followed by a parse";
    ASSERT_EQ(findings.size(), 2u);
    EXPECT_EQ(findings[0].subject, "/etc/xinetd.d/smtp_psa:a");
    EXPECT_EQ(findings[1].subject, "/etc/xinetd.d/smtp_psa:b");
    EXPECT_EQ(findings[1].status, Status::fail);
  }
}

// Both passes fail part way, at different points: the first pass's labels
// and defaults would not fit the second's services, so the reading is done
// again (review of 495a3b5: a failed reading was one value, whatever it read).
TEST(TcpEnvFlags, PassesFailingAtDifferentPointsAreReadAgain) {
  testing::TemporaryTree tree;
  tree.write("/etc/xinetd.conf", "includedir /etc/xinetd.d\n");
  tree.write("/etc/xinetd.d/smtp_psa",
             "service smtp\n{\n\tid = a\n\tserver = /x/tcp-env\n\tsocket_type = stream\n\twait = "
             "no\n\tuser = qmaild\n}\n"
             "service smtp\n{\n\tid = b\n\tserver = /x/tcp-env\n\tsocket_type = stream\n\twait = "
             "no\n\tuser = qmaild\n}\n"
             "service smtp\n{\n\tid = c\n\tserver = /x/tcp-env\n\tsocket_type = stream\n\twait = "
             "no\n\tuser = qmaild\n}\n");
  RootedHost rooted = *RootedHost::open(tree.root());
  // Parses (the even readings) fail after 1 service in the first pass, after
  // 2 from then on.
  FailingPartWayHost host(rooted, "/etc/xinetd.d/smtp_psa", [](std::size_t reading) {
    if (reading % 2 == 1) return std::optional<int>();
    return std::optional<int>(reading == 2 ? 1 : 2);
  });
  std::vector<Finding> findings = check_with(host);
  EXPECT_EQ(host.readings, 8u) << "read again after the passes disagreed";
  std::vector<std::string> subjects;
  for (const Finding& finding : findings) subjects.push_back(finding.subject);
  // Two services of one name were read: labelled by their ids.
  EXPECT_EQ(subjects,
            (std::vector<std::string>{"/etc/xinetd.d/smtp_psa", "/etc/xinetd.d/smtp_psa:a",
                                      "/etc/xinetd.d/smtp_psa:b"}));
}

// xinetd -inetd_compat reads /etc/inetd.conf only (the path is compiled in):
// an inetd.conf configured elsewhere is served by its own inetd.
TEST(TcpEnvFlags, InetdCompatCoversOnlyEtcInetdConf) {
  testing::TemporaryTree tree;
  tree.write("/etc/default/xinetd", "INETD_COMPAT=Yes\n");
  tree.write("/etc/xinetd.conf", "service ftp\n{\n\tserver = /usr/sbin/in.ftpd\n}\n");
  tree.write("/srv/inetd.conf",
             "smtp stream tcp nowait qmaild /var/qmail/bin/tcp-env tcp-env -R /q\n");
  Audit audit = audit_root(tree.root(), "/srv/inetd.conf");
  ASSERT_EQ(audit.findings.size(), 1u);
  EXPECT_EQ(audit.findings[0].evidence["served_by"], "inetd");
}

// Debian's stock xinetd.conf sets no log_type: xinetd then logs nothing and
// does no USERID lookup, so only tcp-env's own options count.
TEST(TcpEnvFlags, UseridWithoutALogTypeDoesNoIdent) {
  testing::TemporaryTree tree;
  std::string text =
      "defaults\n{\n  log_on_success = HOST USERID\n  log_on_failure = USERID\n}\n"
      "service smtp\n{\n  server = /var/qmail/bin/tcp-env\n  server_args = -Rt0 qmail-smtpd\n"
      "  socket_type = stream\n  wait = no\n  user = qmaild\n}\n";
  tree.write("/etc/xinetd.conf", text);
  Audit audit = audit_root(tree.root());
  expect_findings(audit.findings, {{"/etc/xinetd.conf:smtp", Status::pass, 8}});
  EXPECT_EQ(audit.findings[0].evidence["xinetd_userid"], nlohmann::json::array());
  EXPECT_EQ(audit.findings[0].evidence["ident"], false);
  // Inactive, but one log_type away from a 30 s wait: the pass says so.
  EXPECT_EQ(audit.findings[0].evidence["xinetd_latent_userid"],
            nlohmann::json::array({"log_on_success", "log_on_failure"}));
  EXPECT_NE(audit.findings[0].message.find(
                "USERID is in log_on_success and log_on_failure but inactive, as neither the "
                "service nor defaults has a valid log_type: with one, xinetd does ident itself, "
                "and each connection can wait up to 30 s before 220"),
            std::string::npos)
      << audit.findings[0].message;
  ASSERT_TRUE(audit.changes);
  EXPECT_TRUE(audit.changes->empty());

  tree.write("/etc/xinetd.conf",
             "defaults\n{\n  log_type = SYSLOG daemon info\n" + text.substr(11));
  Audit logging = audit_root(tree.root());
  expect_findings(logging.findings, {{"/etc/xinetd.conf:smtp", Status::fail, 9}});
  EXPECT_FALSE(logging.findings[0].evidence.contains("xinetd_latent_userid"));

  // log_on_failure alone costs no greeting, so the note does not claim one;
  // a service without USERID gets no note.
  tree.write("/etc/xinetd.conf",
             "defaults\n{\n  log_on_failure = USERID\n}\n" + text.substr(text.find("service")) +
                 "service smtps\n{\n  server = /var/qmail/bin/tcp-env\n"
                 "  server_args = -Rt0 qmail-smtpd\n  log_on_failure -= "
                 "USERID\n  socket_type = stream\n  wait = no\n  user = qmaild\n}\n");
  Audit failure_only = audit_root(tree.root());
  ASSERT_EQ(failure_only.findings.size(), 2u);
  EXPECT_EQ(failure_only.findings[0].status, Status::pass);
  EXPECT_EQ(failure_only.findings[0].evidence["xinetd_latent_userid"],
            nlohmann::json::array({"log_on_failure"}));
  EXPECT_NE(failure_only.findings[0].message.find(
                "xinetd does ident itself for each connection it refuses for a limit"),
            std::string::npos)
      << failure_only.findings[0].message;
  EXPECT_EQ(failure_only.findings[0].message.find("30 s"), std::string::npos)
      << failure_only.findings[0].message;
  EXPECT_EQ(failure_only.findings[1].status, Status::pass);
  EXPECT_FALSE(failure_only.findings[1].evidence.contains("xinetd_latent_userid"))
      << failure_only.findings[1].message;
}

TEST(TcpEnvFlags, UseridOnFailureOnlySaysItDelaysNoGreeting) {
  testing::TemporaryTree tree;
  tree.write("/etc/xinetd.conf",
             "defaults\n{\n  log_type = SYSLOG daemon info\n  log_on_failure = HOST USERID\n}\n"
             "service smtp\n{\n  server = /var/qmail/bin/tcp-env\n"
             "  server_args = -Rt0 qmail-smtpd\n  socket_type = stream\n  wait = no\n  user = "
             "qmaild\n}\n");
  Audit audit = audit_root(tree.root());
  expect_findings(audit.findings, {{"/etc/xinetd.conf:smtp", Status::fail, 8}});
  const std::string& message = audit.findings[0].message;
  EXPECT_NE(message.find("USERID in log_on_failure: each connection it refuses for instances, "
                         "per_source, cps or access_times holds a logging process up to 30 s"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("before 220"), std::string::npos) << message;
}

TEST(TcpEnvFlags, SeveralFixesInOneXinetdFileAreOneReplacementAndThenPass) {
  testing::TemporaryTree tree;
  std::string before =
      "# mail services\n"
      "defaults\n{\n  log_type = SYSLOG daemon info\n"
      "  log_on_success = HOST USERID\n  log_on_failure = USERID\n}\n\n"
      "service smtp\n{\n  server      = /var/qmail/bin/tcp-env\n"
      "  server_args = -r  -t 30\t/var/qmail/bin/qmail-smtpd  # keep\n"
      "  socket_type = stream\n  wait = no\n  user = qmaild\n}\n\n"
      "service smtps\n{\n\tflags = NAMEINARGS\n\tserver = /usr/sbin/tcpd\n"
      "\tserver_args = /var/qmail/bin/tcp-env /var/qmail/bin/qmail-smtpd\n"
      "\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n}\n"
      "service bare\n{\n\tserver = /var/qmail/bin/tcp-env\n"
      "\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n}\n";
  tree.write("/etc/xinetd.conf", before);
  Audit audit = audit_root(tree.root());
  expect_findings(audit.findings, {{"/etc/xinetd.conf:smtp", Status::fail, 11},
                                   {"/etc/xinetd.conf:smtps", Status::fail, 22},
                                   {"/etc/xinetd.conf:bare", Status::fail, 29}});
  EXPECT_EQ(audit.findings[0].evidence["xinetd_userid"],
            nlohmann::json::array({"log_on_success", "log_on_failure"}));
  ASSERT_TRUE(audit.changes) << audit.changes.error().message;
  ASSERT_EQ(audit.changes->size(), 1u);
  std::string expected =
      "# mail services\n"
      "defaults\n{\n  log_type = SYSLOG daemon info\n"
      "  log_on_success = HOST USERID\n  log_on_failure = USERID\n}\n\n"
      "service smtp\n{\n  server      = /var/qmail/bin/tcp-env\n"
      "  server_args = -Rt0\t/var/qmail/bin/qmail-smtpd  # keep\n"
      "  socket_type = stream\n  wait = no\n  user = qmaild\n"
      "  log_on_success -= USERID\n  log_on_failure -= USERID\n}\n\n"
      "service smtps\n{\n\tflags = NAMEINARGS\n\tserver = /usr/sbin/tcpd\n"
      "\tserver_args = /var/qmail/bin/tcp-env -Rt0 /var/qmail/bin/qmail-smtpd\n"
      "\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n"
      "\tlog_on_success -= USERID\n\tlog_on_failure -= USERID\n}\n"
      "service bare\n{\n\tserver = /var/qmail/bin/tcp-env\n"
      "\tsocket_type = stream\n\twait = no\n\tuser = qmaild\n"
      "\tserver_args = -Rt0\n"
      "\tlog_on_success -= USERID\n\tlog_on_failure -= USERID\n}\n";
  EXPECT_EQ(replacement((*audit.changes)[0]).after, expected);

  tree.write("/etc/xinetd.conf", expected);
  Audit again = audit_root(tree.root());
  expect_findings(again.findings, {{"/etc/xinetd.conf:smtp", Status::pass, 11},
                                   {"/etc/xinetd.conf:smtps", Status::pass, 24},
                                   {"/etc/xinetd.conf:bare", Status::pass, 33}});
  ASSERT_TRUE(again.changes);
  EXPECT_TRUE(again.changes->empty());
}

TEST(TcpEnvFlags, InetdContinuationOptionsCollapseIntoOne) {
  testing::TemporaryTree tree;
  std::string before =
      "smtp\tstream\ttcp\tnowait\tqmaild\t/var/qmail/bin/tcp-env\ttcp-env -r\n"
      "\t-t30 /var/qmail/bin/qmail-smtpd\n"
      "submission stream tcp nowait qmaild /usr/sbin/tcpd /var/qmail/bin/tcp-env\n";
  tree.write("/etc/inetd.conf", before);
  Audit audit = audit_root(tree.root());
  expect_findings(audit.findings, {{"/etc/inetd.conf:smtp", Status::fail, 1},
                                   {"/etc/inetd.conf:submission", Status::fail, 3}});
  ASSERT_TRUE(audit.changes) << audit.changes.error().message;
  ASSERT_EQ(audit.changes->size(), 1u);
  EXPECT_EQ(replacement((*audit.changes)[0]).after,
            "smtp\tstream\ttcp\tnowait\tqmaild\t/var/qmail/bin/tcp-env\ttcp-env -Rt0 "
            "/var/qmail/bin/qmail-smtpd\n"
            "submission stream tcp nowait qmaild /usr/sbin/tcpd /var/qmail/bin/tcp-env -Rt0\n");
}

TEST(TextEdits, OverlapsAreRefusedAndInsertionsKeepTheirOrder) {
  Expected<std::string> applied =
      apply_text_edits("abcdef", {{3, 0, "X"}, {0, 1, "A"}, {3, 0, "Y"}, {4, 2, ""}});
  ASSERT_TRUE(applied);
  EXPECT_EQ(*applied, "AbcXYd");
  EXPECT_FALSE(apply_text_edits("abcdef", {{1, 3, "x"}, {2, 1, "y"}}));
  EXPECT_FALSE(apply_text_edits("abc", {{2, 5, ""}}));
}

}  // namespace
}  // namespace qharden
