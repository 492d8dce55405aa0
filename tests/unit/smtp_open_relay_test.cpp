#include <gtest/gtest.h>

#include <cctype>

#include "config/config.h"
#include "engine/context.h"
#include "engine/registry.h"
#include "host/host.h"
#include "parsers/tcprules.h"
#include "smtp_open_relay/grants.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

struct RelayCase {
  const char* name;
  const char* fixture;
  const char* subject;
  Status status;
  Severity severity;
  const char* message_part;
};

class SmtpOpenRelayTable : public ::testing::TestWithParam<RelayCase> {};

std::vector<Finding> audit(const std::string& root) {
  static Config config = *load_builtin_config();
  Expected<RootedHost> host = RootedHost::open(root);
  EXPECT_TRUE(host) << host.error().message;
  AuditContext context(*host, config, true);
  return find_rule("smtp.open-relay")->check(context);
}

TEST_P(SmtpOpenRelayTable, JudgesTheFixture) {
  const RelayCase& test_case = GetParam();
  std::vector<Finding> findings = audit(testing::fixture_root(test_case.fixture));
  const Finding* found = nullptr;
  for (const Finding& finding : findings) {
    if (finding.subject == test_case.subject) found = &finding;
  }
  ASSERT_NE(found, nullptr) << test_case.subject;
  EXPECT_EQ(found->status, test_case.status) << found->message;
  if (found->status == Status::fail) {
    EXPECT_EQ(found->severity, test_case.severity);
  }
  EXPECT_NE(found->message.find(test_case.message_part), std::string::npos) << found->message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SmtpOpenRelayTable,
    ::testing::Values(
        RelayCase{"rcpthosts missing", "qmail-relay-missing", "/var/qmail/control/rcpthosts",
                  Status::fail, Severity::critical, "open relay"},
        RelayCase{"specific grants pass", "qmail-relay-missing",
                  "/var/qmail/supervise/qmail-smtpd/run", Status::pass, Severity::critical,
                  "2 RELAYCLIENT grant(s)"},
        RelayCase{"rcpthosts and morercpthosts", "qmail-relay-closed",
                  "/var/qmail/control/rcpthosts", Status::pass, Severity::critical,
                  "plus 2 in morercpthosts.cdb"},
        RelayCase{"default rule opens", "qmail-relay-open-rules",
                  "/var/qmail/supervise/qmail-smtpd/run", Status::fail, Severity::critical,
                  "/etc/tcp.smtp:6: the default rule grants RELAYCLIENT to every client"},
        RelayCase{"hostname without -p", "qmail-relay-open-rules",
                  "/var/qmail/supervise/qmail-smtpd/run", Status::fail, Severity::critical,
                  "\"=.example.com\" trusts the client's PTR"},
        RelayCase{"cidr is dead", "qmail-relay-open-rules", "/var/qmail/supervise/qmail-smtpd/run",
                  Status::fail, Severity::critical,
                  "/etc/tcp.smtp:3: the rule for \"10.0.0.0/8\" never matches"},
        RelayCase{"wide public prefix", "qmail-relay-open-rules",
                  "/var/qmail/supervise/qmail-smtpd/run", Status::fail, Severity::critical,
                  "public /16, wider than /24"},
        RelayCase{"percenthack", "qmail-relay-percenthack", "/var/qmail/control/percenthack",
                  Status::fail, Severity::critical, "example.com, mail.example.com"},
        RelayCase{"xinetd env", "qmail-relay-xinetd", "/etc/xinetd.d/smtp_psa:smtp", Status::fail,
                  Severity::critical, "/etc/xinetd.d/smtp_psa:1 env"},
        RelayCase{"xinetd passenv", "qmail-relay-xinetd", "/etc/xinetd.d/smtp_psa:smtp",
                  Status::fail, Severity::critical, "passenv"},
        RelayCase{"no qmail", "daemontools", "/var/qmail/control", Status::skip, Severity::critical,
                  "cannot be judged"}),
    [](const ::testing::TestParamInfo<RelayCase>& parameter) {
      std::string name = parameter.param.name;
      for (char& character : name) {
        if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
      }
      return name;
    });

// Variants written on the fly, each judged by the finding of one subject.
struct TreeCase {
  const char* name;
  const char* path;     // written under a copy of qmail-relay-closed
  const char* content;  // nullptr: remove the file
  const char* subject;
  Status status;
  Severity severity;
  const char* message_part;
};

class SmtpOpenRelayVariants : public ::testing::TestWithParam<TreeCase> {};

TEST_P(SmtpOpenRelayVariants, JudgesTheVariant) {
  const TreeCase& test_case = GetParam();
  testing::TemporaryTree tree;
  tree.copy_from(testing::fixture_root("qmail-relay-closed"));
  if (test_case.content == nullptr) {
    std::filesystem::remove(tree.real(test_case.path));
  } else {
    tree.write(test_case.path, test_case.content);
  }
  const Finding* found = nullptr;
  std::vector<Finding> findings = audit(tree.root());
  for (const Finding& finding : findings) {
    if (finding.subject == test_case.subject) found = &finding;
  }
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->status, test_case.status) << found->message;
  if (found->status == Status::fail) {
    EXPECT_EQ(found->severity, test_case.severity);
  }
  EXPECT_NE(found->message.find(test_case.message_part), std::string::npos) << found->message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SmtpOpenRelayVariants,
    ::testing::Values(
        TreeCase{"empty rcpthosts", "/var/qmail/control/rcpthosts", "# nothing\n",
                 "/var/qmail/control/rcpthosts", Status::pass, Severity::warning,
                 "plus 2 in morercpthosts.cdb"},
        TreeCase{"empty rcpthosts no cdb", "/var/qmail/control/morercpthosts.cdb", nullptr,
                 "/var/qmail/control/rcpthosts", Status::fail, Severity::warning,
                 "morercpthosts exists but morercpthosts.cdb does not"},
        TreeCase{"cdb without source", "/var/qmail/control/morercpthosts", nullptr,
                 "/var/qmail/control/rcpthosts", Status::fail, Severity::warning,
                 "morercpthosts does not"},
        TreeCase{"cdb differs", "/var/qmail/control/morercpthosts", "more.example\nnew.example\n",
                 "/var/qmail/control/rcpthosts", Status::fail, Severity::warning,
                 "run qmail-newmrh"},
        TreeCase{"rules cdb missing", "/etc/tcp.smtp.cdb", nullptr,
                 "/var/qmail/supervise/qmail-smtpd/run", Status::fail, Severity::warning,
                 "drops every connection"},
        TreeCase{"source not compiled", "/etc/tcp.smtp", ":allow,RELAYCLIENT=\"\"\n",
                 "/var/qmail/supervise/qmail-smtpd/run", Status::fail, Severity::warning,
                 "edits are not live"},
        TreeCase{"source rejected", "/etc/tcp.smtp", "127.:allow,RELAYCLIENT=\"\"\nx:permit\n",
                 "/var/qmail/supervise/qmail-smtpd/run", Status::fail, Severity::warning,
                 "/etc/tcp.smtp:2: tcprules cannot parse this line"},
        TreeCase{"envdir grant", "/var/qmail/supervise/qmail-smtpd/run",
                 "#!/bin/sh\nexec envdir ./env tcpserver -R -x /etc/tcp.smtp.cdb 0 25 "
                 "qmail-smtpd\n",
                 "/var/qmail/supervise/qmail-smtpd/run", Status::pass, Severity::critical,
                 "RELAYCLIENT grant"}),
    [](const ::testing::TestParamInfo<TreeCase>& parameter) {
      std::string name = parameter.param.name;
      for (char& character : name) {
        if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
      }
      return name;
    });

TEST(SmtpOpenRelay, EnvdirRelayclientOpensTheRelay) {
  testing::TemporaryTree tree;
  tree.copy_from(testing::fixture_root("qmail-relay-closed"));
  tree.write("/var/qmail/supervise/qmail-smtpd/run",
             "#!/bin/sh\nexec envdir ./env tcpserver -R -x /etc/tcp.smtp.cdb 0 25 qmail-smtpd\n");
  tree.write("/var/qmail/supervise/qmail-smtpd/env/RELAYCLIENT", "\n");
  std::vector<Finding> findings = audit(tree.root());
  bool failed = false;
  for (const Finding& finding : findings) {
    if (finding.subject == "/var/qmail/supervise/qmail-smtpd/run") {
      failed = finding.status == Status::fail && finding.severity == Severity::critical;
    }
  }
  EXPECT_TRUE(failed);
}

TEST(SmtpOpenRelay, TcpserverLookupOrder) {
  std::vector<std::pair<std::string, std::string>> rules = {
      {"127.", std::string("+RELAYCLIENT=\0", 14)},
      {"192.0.2.", std::string("D\0", 2)},
      {"192.0.2.9", ""},
      {"", std::string("+RELAYCLIENT=\0", 14)}};
  EXPECT_TRUE(data_grants_relay(*tcpserver_rule_for(rules, "127.0.0.1")));
  EXPECT_TRUE(data_denies(*tcpserver_rule_for(rules, "192.0.2.1")));
  EXPECT_EQ(*tcpserver_rule_for(rules, "192.0.2.9"), "");
  EXPECT_TRUE(data_grants_relay(*tcpserver_rule_for(rules, "198.51.100.1")));
  rules.pop_back();
  EXPECT_FALSE(tcpserver_rule_for(rules, "198.51.100.1").has_value());
}

TEST(SmtpOpenRelay, PlanCreatesRcpthostsOnlyWhenMissing) {
  Config config = *load_builtin_config();
  Expected<RootedHost> host = RootedHost::open(testing::fixture_root("qmail-relay-missing"));
  ASSERT_TRUE(host);
  AuditContext context(*host, config, true);
  const Rule* rule = find_rule("smtp.open-relay");
  std::vector<Finding> failing;
  for (Finding& finding : rule->check(context)) {
    if (finding.status == Status::fail) failing.push_back(finding);
  }
  ASSERT_EQ(failing.size(), 1U);
  EXPECT_TRUE(failing[0].fixable);
  Expected<std::vector<PlannedChange>> changes = rule->plan(context, failing);
  ASSERT_TRUE(changes) << changes.error().message;
  ASSERT_EQ(changes->size(), 1U);
  const auto& file = std::get<FileReplacement>((*changes)[0].action);
  EXPECT_TRUE(file.create);
  EXPECT_EQ(file.host_path, "/var/qmail/control/rcpthosts");
  EXPECT_EQ(file.after, "mail.example.com\nexample.com\nvirtual.example\n.wild.example\n");
  EXPECT_TRUE(rule->info().fixes_only_when_named);

  testing::TemporaryTree tree;
  tree.copy_from(testing::fixture_root("qmail-relay-missing"));
  std::filesystem::remove(tree.real("/var/qmail/control/me"));
  std::filesystem::remove(tree.real("/var/qmail/control/locals"));
  std::filesystem::remove(tree.real("/var/qmail/control/virtualdomains"));
  Expected<RootedHost> bare = RootedHost::open(tree.root());
  ASSERT_TRUE(bare);
  AuditContext bare_context(*bare, config, true);
  Finding missing = bare_context.host.exists("/var/qmail/control/rcpthosts")
                        ? Finding{}
                        : rule->check(bare_context).front();
  EXPECT_FALSE(missing.fixable);
  Expected<std::vector<PlannedChange>> refused = rule->plan(bare_context, {missing});
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("no domain"), std::string::npos);
}

}  // namespace
}  // namespace qharden
