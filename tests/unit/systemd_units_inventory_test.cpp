// The systemd part of the inventory: Accept=yes sockets and the ExecStart= of
// their services, found the way systemd finds units and drop-ins; and the
// rules' refusal to fix what they find there.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <variant>

#include "config/config.h"
#include "engine/context.h"
#include "engine/fix.h"
#include "engine/rule.h"
#include "host/host.h"
#include "inventory/inventory.h"
#include "inventory/systemd_drop_in.h"
#include "inventory/systemd_units.h"
#include "temporary_tree.h"

namespace qharden {

std::unique_ptr<Rule> make_tcp_env_flags_rule();
std::unique_ptr<Rule> make_listener_burst_limits_rule();
std::unique_ptr<Rule> make_smtp_open_relay_rule();
std::unique_ptr<Rule> make_rblsmtpd_sources_rule();

namespace {

constexpr const char* kFixture = "systemd-socket";
constexpr const char* kService = "/usr/lib/systemd/system/qmail-smtpd@.service";
constexpr const char* kOverride = "/etc/systemd/system/qmail-smtpd@.service.d/50-local.conf";

ServiceInventory collect_systemd(const std::string& root) {
  Expected<RootedHost> host = RootedHost::open(root);
  EXPECT_TRUE(host) << host.error().message;
  Expected<Config> config = load_builtin_config();
  EXPECT_TRUE(config) << config.error().message;
  ServiceInventory inventory;
  collect_systemd_units(*host, *config, inventory);
  return inventory;
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

const BurstLimitSetting* limit_named(const ServiceCommand& command, const std::string& name) {
  for (const BurstLimitSetting& limit : command.burst_limits) {
    if (limit.name == name) return &limit;
  }
  return nullptr;
}

TEST(SystemdUnitsInventory, FixtureGivesOneCommandFromTheWinningDropIn) {
  ServiceInventory inventory = collect_systemd(testing::fixture_root(kFixture));
  EXPECT_TRUE(inventory.systemd_accept_sockets);
  // submission.socket is masked, relay.socket has Accept=no, dbus-like.socket
  // never mentions Accept, smtps and odmr are broken.
  ASSERT_EQ(inventory.commands.size(), 1u);
  const ServiceCommand& command = inventory.commands.front();
  EXPECT_EQ(command.source, LaunchSource::systemd);
  EXPECT_EQ(command.subject, kService);
  EXPECT_EQ(command.file, kOverride);  // /etc's 50-local.conf hides /usr/lib's
  EXPECT_EQ(command.line, 4);
  EXPECT_EQ(command.service, "qmail-smtpd.socket");
  EXPECT_EQ(join(command.argv), "/var/qmail/bin/tcp-env -t5 /var/qmail/bin/qmail-smtpd");
  ASSERT_EQ(command.port, 25);
  EXPECT_TRUE(command.enabled);
  std::string text = testing::read_fixture(kFixture, kOverride);
  ASSERT_EQ(command.locations.size(), command.argv.size());
  for (std::size_t index = 0; index < command.argv.size(); ++index) {
    ASSERT_TRUE(command.locations[index]) << index;
    EXPECT_EQ(text.substr(command.locations[index]->offset, command.locations[index]->length),
              command.argv[index]);
    EXPECT_EQ(command.locations[index]->line, 4);
  }
}

struct LimitCase {
  const char* name;
  const char* value;
  const char* from;
  const char* file;
  int line;
};

class SystemdSocketLimits : public ::testing::TestWithParam<LimitCase> {};

TEST_P(SystemdSocketLimits, SayWhereEachValueComesFrom) {
  const LimitCase& expected = GetParam();
  ServiceInventory inventory = collect_systemd(testing::fixture_root(kFixture));
  ASSERT_EQ(inventory.commands.size(), 1u);
  const BurstLimitSetting* limit = limit_named(inventory.commands.front(), expected.name);
  ASSERT_NE(limit, nullptr) << expected.name;
  EXPECT_EQ(join(limit->words), expected.value);
  EXPECT_EQ(limit->from, expected.from);
  EXPECT_EQ(limit->file, expected.file);
  EXPECT_EQ(limit->line, expected.line);
}

INSTANTIATE_TEST_SUITE_P(
    Fixture, SystemdSocketLimits,
    ::testing::Values(LimitCase{"MaxConnections", "100", "drop-in",
                                "/etc/systemd/system/qmail-smtpd.socket.d/limits.conf", 2},
                      LimitCase{"MaxConnectionsPerSource", "0", "built-in", "", 0},
                      LimitCase{"TriggerLimitIntervalSec", "2s", "built-in", "", 0},
                      LimitCase{"TriggerLimitBurst", "5", "service",
                                "/usr/lib/systemd/system/qmail-smtpd.socket", 8}),
    [](const ::testing::TestParamInfo<LimitCase>& parameter) {
      return std::string(parameter.param.name);
    });

TEST(SystemdUnitsInventory, BrokenUnitsAreProblemsNamingFileAndLine) {
  ServiceInventory inventory = collect_systemd(testing::fixture_root(kFixture));
  std::map<std::string, const InventoryProblem*> by_file;
  for (const InventoryProblem& problem : inventory.problems) by_file[problem.file] = &problem;
  ASSERT_EQ(inventory.problems.size(), 2u);
  const InventoryProblem* header = by_file["/usr/lib/systemd/system/smtps@.service"];
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(header->source, LaunchSource::systemd);
  EXPECT_EQ(header->line, 3);
  EXPECT_NE(header->message.find("no closing ']'"), std::string::npos) << header->message;
  EXPECT_EQ(header->message.find("smtps@.service:"), std::string::npos) << "file said twice";
  const InventoryProblem* quote = by_file["/usr/lib/systemd/system/odmr@.service"];
  ASSERT_NE(quote, nullptr);
  EXPECT_EQ(quote->line, 2);
  EXPECT_NE(quote->message.find("ExecStart="), std::string::npos) << quote->message;
}

TEST(SystemdUnitsInventory, EveryFileReadIsListedAndMaskedOnesAreNotRead) {
  ServiceInventory inventory = collect_systemd(testing::fixture_root(kFixture));
  std::vector<std::string> expected = {
      "/usr/lib/systemd/system/dbus-like.socket",
      "/usr/lib/systemd/system/odmr.socket",
      "/usr/lib/systemd/system/odmr@.service",
      "/usr/lib/systemd/system/qmail-smtpd.socket",
      "/etc/systemd/system/qmail-smtpd.socket.d/limits.conf",
      kService,
      "/usr/lib/systemd/system/qmail-smtpd@.service.d/10-environment.conf",
      kOverride,
      "/usr/lib/systemd/system/relay.socket",
      "/usr/lib/systemd/system/smtps.socket",
      "/usr/lib/systemd/system/smtps@.service",
  };
  EXPECT_EQ(inventory.files_read, expected);
}

// One tree per case: a socket, its service and what the case adds.
struct TreeCase {
  const char* name;
  std::map<std::string, std::string> files;  // host path -> text; "->TARGET" makes a symlink
  const char* argv;                          // of the one command; "" when none is expected
  const char* problem;                       // part of the one problem's message, or ""
};

const char* kSocket = "[Socket]\nListenStream=25\nAccept=yes\n";
const char* kPlainService = "[Service]\nExecStart=/usr/bin/tcp-env /q/qmail-smtpd\n";

class SystemdUnitTrees : public ::testing::TestWithParam<TreeCase> {};

TEST_P(SystemdUnitTrees, FindUnitsAsSystemdDoes) {
  const TreeCase& test_case = GetParam();
  testing::TemporaryTree tree;
  for (const auto& [path, text] : test_case.files) {
    if (text.rfind("->", 0) == 0) {
      tree.symlink(text.substr(2), path);
    } else {
      tree.write(path, text);
    }
  }
  ServiceInventory inventory = collect_systemd(tree.root());
  if (std::string(test_case.argv).empty()) {
    EXPECT_TRUE(inventory.commands.empty()) << join(inventory.commands.front().argv);
  } else {
    ASSERT_EQ(inventory.commands.size(), 1u);
    EXPECT_EQ(join(inventory.commands.front().argv), test_case.argv);
  }
  if (std::string(test_case.problem).empty()) {
    EXPECT_TRUE(inventory.problems.empty()) << inventory.problems.front().message;
  } else {
    ASSERT_EQ(inventory.problems.size(), 1u);
    EXPECT_NE(inventory.problems.front().message.find(test_case.problem), std::string::npos)
        << inventory.problems.front().message;
  }
}

const std::string kLib = "/usr/lib/systemd/system/";
const std::string kEtc = "/etc/systemd/system/";

INSTANTIATE_TEST_SUITE_P(
    Table, SystemdUnitTrees,
    ::testing::Values(
        TreeCase{"plain",
                 {{kLib + "s.socket", kSocket}, {kLib + "s@.service", kPlainService}},
                 "/usr/bin/tcp-env /q/qmail-smtpd",
                 ""},
        TreeCase{"etc_unit_hides_usr_lib",
                 {{kLib + "s.socket", kSocket},
                  {kLib + "s@.service", kPlainService},
                  {kEtc + "s@.service", "[Service]\nExecStart=/etc/tcp-env -R /q/qmail-smtpd\n"}},
                 "/etc/tcp-env -R /q/qmail-smtpd",
                 ""},
        TreeCase{"drop_in_accept_no_wins",
                 {{kLib + "s.socket", kSocket},
                  {kEtc + "s.socket.d/no.conf", "[Socket]\nAccept=no\n"},
                  {kLib + "s@.service", kPlainService}},
                 "",
                 ""},
        TreeCase{"drop_in_accept_yes_on_a_socket_without_it",
                 {{kLib + "s.socket", "[Socket]\nListenStream=25\n"},
                  {kEtc + "s.socket.d/yes.conf", "[Socket]\nAccept=on\n"},
                  {kLib + "s@.service", kPlainService}},
                 "/usr/bin/tcp-env /q/qmail-smtpd",
                 ""},
        TreeCase{"masked_drop_in_hides_its_name",
                 {{kLib + "s.socket", kSocket},
                  {kLib + "s@.service", kPlainService},
                  {kLib + "s@.service.d/50.conf", "[Service]\nExecStart=\nExecStart=/x/tcp-env\n"},
                  {kEtc + "s@.service.d/50.conf", "->/dev/null"}},
                 "/usr/bin/tcp-env /q/qmail-smtpd",
                 ""},
        TreeCase{"masked_service_runs_nothing",
                 {{kLib + "s.socket", kSocket},
                  {kLib + "s@.service", kPlainService},
                  {kEtc + "s@.service", "->/dev/null"}},
                 "",
                 ""},
        TreeCase{"empty_socket_file_masks",
                 {{kLib + "s.socket", kSocket},
                  {kEtc + "s.socket", ""},
                  {kLib + "s@.service", kPlainService}},
                 "",
                 ""},
        TreeCase{"dash_prefix_and_type_drop_ins_apply_in_name_order",
                 {{kLib + "qmail-smtpd.socket", kSocket},
                  {kLib + "qmail-smtpd@.service", kPlainService},
                  {kLib + "qmail-.service.d/20.conf", "[Service]\nExecStart=\nExecStart=/a\n"},
                  {kLib + "service.d/30.conf", "[Service]\nExecStart=\nExecStart=/b -R\n"}},
                 "/b -R",
                 ""},
        TreeCase{"no_exec_start_after_a_reset",
                 {{kLib + "s.socket", kSocket},
                  {kLib + "s@.service", kPlainService},
                  {kEtc + "s@.service.d/off.conf", "[Service]\nExecStart=\n"}},
                 "",
                 "no ExecStart="},
        TreeCase{"service_setting_with_accept_yes",
                 {{kLib + "s.socket", std::string(kSocket) + "Service=other.service\n"},
                  {kLib + "s@.service", kPlainService}},
                 "",
                 "only allowed with Accept=no"},
        TreeCase{"missing_service", {{kLib + "s.socket", kSocket}}, "", "no s@.service"},
        TreeCase{
            "accept_not_a_boolean",
            {{kLib + "s.socket", "[Socket]\nAccept=maybe\n"}, {kLib + "s@.service", kPlainService}},
            "",
            "is no boolean"},
        TreeCase{"template_socket_is_left_alone",
                 {{kLib + "s@.socket", kSocket}, {kLib + "s@.service", kPlainService}},
                 "",
                 ""},
        TreeCase{"at_prefix_leaves_argv0_out",
                 {{kLib + "s.socket", kSocket},
                  {kLib + "s@.service", "[Service]\nExecStart=@/usr/bin/tcp-env tcp-env -R /q\n"}},
                 "/usr/bin/tcp-env -R /q",
                 ""}),
    [](const ::testing::TestParamInfo<TreeCase>& parameter) {
      return std::string(parameter.param.name);
    });

TEST(SystemdUnitsInventory, EnabledOnlyThroughAWantsLink) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service", kPlainService);
  ServiceInventory off = collect_systemd(tree.root());
  ASSERT_EQ(off.commands.size(), 1u);
  EXPECT_FALSE(off.commands.front().enabled);
  EXPECT_NE(off.commands.front().details->disabled_reason.find("not enabled"), std::string::npos);
  tree.symlink(kLib + "s.socket", kEtc + "sockets.target.wants/s.socket");
  ServiceInventory on = collect_systemd(tree.root());
  ASSERT_EQ(on.commands.size(), 1u);
  EXPECT_TRUE(on.commands.front().enabled);
}

// Environment= lines in order (an empty one clears), quoted words, invalid
// names ignored; EnvironmentFile= after them, its values winning; a missing
// file without '-' is said, with '-' it is not.
TEST(SystemdUnitsInventory, EnvironmentAsSystemdAppliesIt) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service",
             "[Service]\nExecStart=/usr/bin/tcp-env -R /q/qmail-smtpd\n"
             "Environment=GONE=1\nEnvironment=\n"
             "Environment=\"GREETING=hello world\" 9BAD=x QMAILDUID=111 WON=unit\n"
             "EnvironmentFile=/etc/default/qs\nEnvironmentFile=-/etc/default/absent\n");
  tree.write("/etc/default/qs", "# comment\nWON=\"file\"\n; other comment\nDATABYTES=0\n");
  ServiceInventory inventory = collect_systemd(tree.root());
  ASSERT_EQ(inventory.commands.size(), 1u);
  std::map<std::string, std::string> expected = {
      {"GREETING", "hello world"}, {"QMAILDUID", "111"}, {"WON", "file"}, {"DATABYTES", "0"}};
  EXPECT_EQ(inventory.commands.front().details->environment, expected);
  EXPECT_TRUE(inventory.problems.empty());

  tree.write(kLib + "s@.service",
             "[Service]\nExecStart=/usr/bin/tcp-env -R /q/qmail-smtpd\n"
             "EnvironmentFile=/etc/default/absent\n");
  ServiceInventory missing = collect_systemd(tree.root());
  ASSERT_EQ(missing.problems.size(), 1u);
  EXPECT_EQ(missing.problems.front().file, kLib + "s@.service");
  EXPECT_EQ(missing.problems.front().line, 3);
  EXPECT_NE(missing.problems.front().message.find("/etc/default/absent"), std::string::npos);
}

// EnvironmentFile= takes a glob: every match is read in sorted order (a later
// file wins), a glob matching nothing stops the service unless it starts with
// '-', and a relative path is dropped as systemd drops it.
TEST(SystemdUnitsInventory, EnvironmentFileGlobsAreExpanded) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  const std::string service = "[Service]\nExecStart=/usr/bin/tcp-env -R /q/qmail-smtpd\n";
  tree.write(kLib + "s@.service", service +
                                      "EnvironmentFile=/etc/qmail/env.d/*.env\n"
                                      "EnvironmentFile=relative/file\n");
  tree.write("/etc/qmail/env.d/10-base.env", "RELAYCLIENT=\nORDER=first\n");
  tree.write("/etc/qmail/env.d/20-late.env", "ORDER=second\n");
  tree.write("/etc/qmail/env.d/.hidden.env", "HIDDEN=1\n");
  tree.write("/etc/qmail/env.d/notes.txt", "TXT=1\n");
  ServiceInventory inventory = collect_systemd(tree.root());
  ASSERT_EQ(inventory.commands.size(), 1u);
  std::map<std::string, std::string> expected = {{"RELAYCLIENT", ""}, {"ORDER", "second"}};
  EXPECT_EQ(inventory.commands.front().details->environment, expected);
  EXPECT_TRUE(inventory.problems.empty());

  tree.write(kLib + "s@.service", service +
                                      "EnvironmentFile=/etc/qmail/none.d/*.env\n"
                                      "EnvironmentFile=-/etc/qmail/gone.d/*.env\n");
  ServiceInventory unmatched = collect_systemd(tree.root());
  ASSERT_EQ(unmatched.problems.size(), 1u);
  EXPECT_EQ(unmatched.problems.front().line, 3);
  EXPECT_NE(unmatched.problems.front().message.find("/etc/qmail/none.d/*.env matches no file"),
            std::string::npos)
      << unmatched.problems.front().message;
}

// RELAYCLIENT set by Environment= reaches every client of the socket: an
// open relay, as through xinetd's env.
TEST(SystemdUnitsOpenRelay, RelayClientInEnvironmentIsAnOpenRelay) {
  testing::TemporaryTree tree;
  tree.write("/var/qmail/control/me", "mail.example.com\n");
  tree.write("/var/qmail/control/rcpthosts", "example.com\n");
  tree.write(kLib + "qs.socket", kSocket);
  tree.symlink(kLib + "qs.socket", kEtc + "sockets.target.wants/qs.socket");
  const std::string closed =
      "[Service]\nExecStart=/var/qmail/bin/tcp-env -R /var/qmail/bin/qmail-smtpd\n";
  tree.write(kLib + "qs@.service", closed);
  Expected<RootedHost> host = RootedHost::open(tree.root());
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  std::unique_ptr<Rule> rule = make_smtp_open_relay_rule();
  auto relay_failures = [&] {
    AuditContext context(*host, config, true);
    std::vector<std::string> failing;
    for (const Finding& finding : rule->check(context)) {
      if (finding.status == Status::fail)
        failing.push_back(finding.subject + ": " + finding.message);
    }
    return failing;
  };
  EXPECT_TRUE(relay_failures().empty());
  tree.write(kLib + "qs@.service", closed + "Environment=RELAYCLIENT=\n");
  std::vector<std::string> failing = relay_failures();
  ASSERT_EQ(failing.size(), 1u);
  EXPECT_NE(failing.front().find("Environment="), std::string::npos) << failing.front();
}

// A dead zone that a run script and a systemd unit both use: the finding stays
// fixable, the plan drops the zone from the run script only and says nothing
// of the unit's file; used by the unit alone, it is not fixable and the plan
// refuses by name.
TEST(SystemdUnitsRblsmtpd, SharedDeadZoneIsStillDroppedFromTheRunScript) {
  testing::TemporaryTree tree;
  tree.write("/service/smtpd/run",
             "#!/bin/sh\nexec tcpserver -vR 0 25 rblsmtpd -r dnsbl.ahbl.org -r zen.spamhaus.org "
             "qmail-smtpd\n",
             0755);
  tree.write(kLib + "qs.socket", "[Socket]\nListenStream=587\nAccept=yes\n");
  tree.write(kLib + "qs@.service",
             "[Service]\nExecStart=/usr/bin/tcp-env -R /usr/bin/rblsmtpd -r dnsbl.ahbl.org "
             "/var/qmail/bin/qmail-smtpd\n");
  tree.symlink(kLib + "qs.socket", kEtc + "sockets.target.wants/qs.socket");
  Expected<RootedHost> host = RootedHost::open(tree.root());
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  std::unique_ptr<Rule> rule = make_rblsmtpd_sources_rule();
  auto dead_zone = [&](AuditContext& context) {
    std::optional<Finding> found;
    for (Finding& finding : rule->check(context)) {
      if (finding.subject == "dnsbl.ahbl.org") found = finding;
    }
    return found;
  };
  {
    AuditContext context(*host, config, true);
    std::optional<Finding> finding = dead_zone(context);
    ASSERT_TRUE(finding.has_value());
    EXPECT_EQ(finding->status, Status::fail);
    EXPECT_TRUE(finding->fixable) << finding->message;
    EXPECT_NE(finding->message.find("Not fixed by qharden"), std::string::npos);
    Expected<std::vector<PlannedChange>> changes = rule->plan(context, {*finding});
    ASSERT_TRUE(changes) << changes.error().message;
    ASSERT_EQ(changes->size(), 1u);
    const auto& replacement = std::get<FileReplacement>(changes->front().action);
    EXPECT_EQ(replacement.host_path, "/service/smtpd/run");
    EXPECT_EQ(replacement.after.find("dnsbl.ahbl.org"), std::string::npos) << replacement.after;
  }
  tree.write("/service/smtpd/run",
             "#!/bin/sh\nexec tcpserver -vR 0 25 rblsmtpd -r zen.spamhaus.org qmail-smtpd\n", 0755);
  {
    AuditContext context(*host, config, true);
    std::optional<Finding> finding = dead_zone(context);
    ASSERT_TRUE(finding.has_value());
    EXPECT_EQ(finding->status, Status::fail);
    EXPECT_FALSE(finding->fixable);
    Finding claimed = *finding;
    claimed.fixable = true;  // a finding that says otherwise is refused by name
    Expected<std::vector<PlannedChange>> changes = rule->plan(context, {claimed});
    ASSERT_FALSE(changes);
    EXPECT_NE(changes.error().message.find(kLib + "qs@.service"), std::string::npos)
        << changes.error().message;
  }
}

// systemd ignores a socket limit it cannot parse (and an empty one), keeping
// the value before it; MaxConnections=0 makes it refuse the socket.
TEST(SystemdUnitsInventory, UnparsableLimitsKeepTheValueBefore) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket",
             "[Socket]\nListenStream=25\nAccept=yes\nMaxConnections=300\nMaxConnections=abc\n"
             "MaxConnections=\nTriggerLimitBurst=20\nTriggerLimitBurst=lots\n"
             "TriggerLimitIntervalSec=1min 30s\nTriggerLimitIntervalSec=soon\n");
  tree.write(kLib + "s@.service", kPlainService);
  ServiceInventory inventory = collect_systemd(tree.root());
  ASSERT_EQ(inventory.commands.size(), 1u);
  EXPECT_TRUE(inventory.problems.empty());
  const ServiceCommand& command = inventory.commands.front();
  ASSERT_NE(limit_named(command, "MaxConnections"), nullptr);
  EXPECT_EQ(limit_named(command, "MaxConnections")->words, std::vector<std::string>{"300"});
  EXPECT_EQ(limit_named(command, "MaxConnections")->line, 4);
  EXPECT_EQ(limit_named(command, "TriggerLimitBurst")->words, std::vector<std::string>{"20"});
  EXPECT_EQ(limit_named(command, "TriggerLimitIntervalSec")->words,
            std::vector<std::string>{"1min 30s"});

  tree.write(kLib + "s.socket", "[Socket]\nListenStream=25\nAccept=yes\nMaxConnections=0\n");
  ServiceInventory refused = collect_systemd(tree.root());
  EXPECT_TRUE(refused.commands.empty());
  ASSERT_EQ(refused.problems.size(), 1u);
  EXPECT_EQ(refused.problems.front().line, 4);
  EXPECT_NE(refused.problems.front().message.find("refuses"), std::string::npos);
  EXPECT_FALSE(problem_blocks_checks(refused.problems.front()));
}

// A drop-in that adds an ExecStart= without emptying the list first leaves two:
// systemd refuses the service unless it is Type=oneshot.
TEST(SystemdUnitsInventory, TwoExecStartsAreRefusedUnlessOneshot) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service", kPlainService);
  tree.write(kEtc + "s@.service.d/override.conf",
             "[Service]\nExecStart=/usr/bin/tcp-env -R /q/qmail-smtpd\n");
  ServiceInventory refused = collect_systemd(tree.root());
  EXPECT_TRUE(refused.commands.empty());
  ASSERT_EQ(refused.problems.size(), 1u);
  EXPECT_EQ(refused.problems.front().file, kEtc + "s@.service.d/override.conf");
  EXPECT_EQ(refused.problems.front().line, 2);
  tree.write(kEtc + "s@.service.d/override.conf",
             "[Service]\nExecStart=\nExecStart=/usr/bin/tcp-env -R /q/qmail-smtpd\n");
  ServiceInventory reset = collect_systemd(tree.root());
  ASSERT_EQ(reset.commands.size(), 1u);
  EXPECT_EQ(join(reset.commands.front().argv), "/usr/bin/tcp-env -R /q/qmail-smtpd");
}

// $NAME as a word splits the value into words, ${NAME} is one exact value,
// $$ is a dollar, an unset $NAME is no word; the program path stays.
TEST(SystemdUnitsInventory, ExecStartVariablesAreExpanded) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service",
             "[Service]\nEnvironment=OPTS=\"-R  -t0\" \"SMTPD=/q/qmail smtpd\"\n"
             "ExecStart=/usr/bin/tcp-env $OPTS $UNSET ${SMTPD} cost=$$5 ${UNSET}x\n");
  ServiceInventory inventory = collect_systemd(tree.root());
  ASSERT_EQ(inventory.commands.size(), 1u);
  const ServiceCommand& command = inventory.commands.front();
  EXPECT_EQ(command.argv, (std::vector<std::string>{"/usr/bin/tcp-env", "-R", "-t0",
                                                    "/q/qmail smtpd", "cost=$5", "x"}));
  ASSERT_EQ(command.locations.size(), command.argv.size());
  EXPECT_TRUE(command.locations[0].has_value());
  EXPECT_FALSE(command.locations[1].has_value());
  EXPECT_FALSE(command.locations[3].has_value());
}

struct PortCase {
  const char* value;
  int port;  // 0: none
};

class SystemdListenPorts : public ::testing::TestWithParam<PortCase> {};

TEST_P(SystemdListenPorts, ReadLikeSystemd) {
  std::optional<int> port = systemd_listen_port(GetParam().value);
  EXPECT_EQ(port.value_or(0), GetParam().port) << GetParam().value;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SystemdListenPorts,
    ::testing::Values(PortCase{"25", 25}, PortCase{"192.0.2.1:587", 587}, PortCase{"[::]:465", 465},
                      PortCase{"[fe80::1%eth0]:25", 25}, PortCase{"/run/smtp.sock", 0},
                      PortCase{"@abstract", 0}, PortCase{"vsock:2:25", 0}, PortCase{"::1", 0},
                      PortCase{"0", 0}, PortCase{"65536", 0}, PortCase{"2x", 0}));

TEST(SystemdBoolean, ParsesLikeSystemd) {
  for (const char* yes : {"1", "yes", "Y", "true", "T", "on", "YES"}) {
    EXPECT_EQ(parse_systemd_boolean(yes), std::optional<bool>(true)) << yes;
  }
  for (const char* no : {"0", "no", "n", "FALSE", "f", "off"}) {
    EXPECT_EQ(parse_systemd_boolean(no), std::optional<bool>(false)) << no;
  }
  for (const char* neither : {"", "2", "yess", "maybe"}) {
    EXPECT_FALSE(parse_systemd_boolean(neither)) << neither;
  }
}

const Finding* finding_for(const std::vector<Finding>& findings, const std::string& subject) {
  for (const Finding& finding : findings) {
    if (finding.subject == subject) return &finding;
  }
  return nullptr;
}

TEST(SystemdUnitsTcpEnvFlags, AuditFailsAndTheFindingIsFixable) {
  Expected<RootedHost> host = RootedHost::open(testing::fixture_root(kFixture));
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  AuditContext context(*host, config, true);
  std::unique_ptr<Rule> rule = make_tcp_env_flags_rule();
  std::vector<Finding> findings = rule->check(context);
  const Finding* finding = finding_for(findings, kService);
  ASSERT_NE(finding, nullptr);
  EXPECT_EQ(finding->status, Status::fail);
  EXPECT_TRUE(finding->fixable);  // with a drop-in
  EXPECT_EQ(finding->evidence.value("file", ""), kOverride);
  EXPECT_EQ(finding->evidence.value("line", 0), 4);
  EXPECT_EQ(finding->evidence.value("served_by", ""), "systemd (qmail-smtpd.socket)");
  EXPECT_NE(finding->message.find("tcp-env runs without -R"), std::string::npos);
  // A broken unit runs nothing: it is said with file and line, as a skip, so
  // that one broken socket unit among a host's many never makes the audit an
  // error (exit 3).
  const Finding* broken = finding_for(findings, "/usr/lib/systemd/system/smtps@.service");
  ASSERT_NE(broken, nullptr);
  EXPECT_EQ(broken->status, Status::skip);
  EXPECT_EQ(broken->message.rfind("/usr/lib/systemd/system/smtps@.service:3: ", 0), 0u)
      << broken->message;
  EXPECT_NE(broken->message.find("systemd starts nothing from this unit"), std::string::npos);
  for (const Finding& each : findings) EXPECT_NE(each.status, Status::error) << each.message;
}

// The fix is qharden's drop-in for the service: ExecStart= emptied, then the
// effective line (the operator's 50-local.conf) with only tcp-env's options
// changed. Neither unit file nor the operator's drop-in is touched; the audit
// after it passes, and rollback removes it.
TEST(SystemdUnitsTcpEnvFlags, DropInRewritesTheEffectiveExecStart) {
  testing::TemporaryTree tree;
  tree.copy_from(testing::fixture_root(kFixture));
  Expected<RootedHost> host = RootedHost::open(tree.root());
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  config.paths.lock_wait_s = 0;
  std::unique_ptr<Rule> rule = make_tcp_env_flags_rule();
  FixSelection selection{{rule.get()}, true, true};
  const std::string drop_in =
      "/etc/systemd/system/qmail-smtpd@.service.d/zz-qharden-tcp-env.flags.conf";
  {
    AuditContext context(*host, config, true);
    PlanResult plan = make_plan(context, selection);
    ASSERT_EQ(plan.changes.size(), 1u) << render_plan(plan);
    EXPECT_EQ(plan.changes.front().subject, drop_in);
    const auto& file = std::get<FileReplacement>(plan.changes.front().action);
    EXPECT_TRUE(file.create);
    EXPECT_NE(file.after.find("[Service]\nExecStart=\n"
                              "ExecStart=/var/qmail/bin/tcp-env -Rt0 /var/qmail/bin/qmail-smtpd\n"),
              std::string::npos)
        << file.after;
  }
  std::string override_before = tree.read(kOverride);
  std::string service_before = tree.read(kService);
  Expected<ApplyResult> applied = apply_fixes(*host, config, selection, {});
  ASSERT_TRUE(applied) << applied.error().message;
  std::string notes;
  for (const std::string& note : applied->notes) notes += note + "\n";
  EXPECT_TRUE(applied->all_succeeded) << notes;
  EXPECT_NE(notes.find("tcp-env.flags: verified, passes after the fix"), std::string::npos)
      << notes;
  EXPECT_EQ(tree.read(kOverride), override_before);
  EXPECT_EQ(tree.read(kService), service_before);
  ServiceInventory fixed = collect_systemd(tree.root());
  const ServiceCommand* command = nullptr;
  for (const ServiceCommand& each : fixed.commands) {
    if (each.subject == kService) command = &each;
  }
  ASSERT_NE(command, nullptr);
  EXPECT_EQ(command->file, drop_in);
  EXPECT_EQ(join(command->argv), "/var/qmail/bin/tcp-env -Rt0 /var/qmail/bin/qmail-smtpd");

  Expected<RollbackResult> rolled = rollback_change(*host, config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_FALSE(std::filesystem::exists(tree.real(drop_in)));
  EXPECT_TRUE(std::filesystem::exists(tree.real(kOverride)));  // the folder was the operator's
}

const char* kVariableOptionsService =
    "[Service]\nEnvironment=OPTS=-t5\nExecStart=/var/qmail/bin/tcp-env $OPTS "
    "/var/qmail/bin/qmail-smtpd\n";

// tcp-env.flags' plan for a tree, offline.
PlanResult tcp_env_plan(const testing::TemporaryTree& tree) {
  Expected<RootedHost> host = RootedHost::open(tree.root());
  if (!host) {
    ADD_FAILURE() << "cannot open " << tree.root();
    return {};
  }
  Config config = *load_builtin_config();
  std::unique_ptr<Rule> rule = make_tcp_env_flags_rule();
  AuditContext context(*host, config, true);
  return make_plan(context, FixSelection{{rule.get()}, true, true});
}

// Options that come from a variable cannot be edited in place: the finding is
// not fixable and says why, with the file, the line and what to do by hand.
TEST(SystemdUnitsTcpEnvFlags, OptionsFromAVariableAreRefusedByName) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service", kVariableOptionsService);
  tree.symlink(kLib + "s.socket", kEtc + "sockets.target.wants/s.socket");
  PlanResult plan = tcp_env_plan(tree);
  EXPECT_TRUE(plan.changes.empty());
  EXPECT_TRUE(plan.refusals.empty());
  ASSERT_EQ(plan.unfixed.size(), 1u);
  EXPECT_FALSE(plan.unfixed.front().fixable);
  EXPECT_NE(plan.unfixed.front().message.find(
                "Not fixed by qharden: " + kLib +
                "s@.service:3: tcp-env's options in ExecStart= come from a variable"),
            std::string::npos)
      << plan.unfixed.front().message;
}

// A refused drop-in no longer blocks the rule's other fixes: the xinetd
// service beside the socket is still fixed.
TEST(SystemdUnitsTcpEnvFlags, ARefusedDropInLeavesTheXinetdFixPlanned) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service", kVariableOptionsService);
  tree.symlink(kLib + "s.socket", kEtc + "sockets.target.wants/s.socket");
  tree.write("/etc/xinetd.conf", "defaults\n{\n}\nincludedir /etc/xinetd.d\n");
  tree.write("/etc/xinetd.d/smtp",
             "service smtp\n{\n  socket_type = stream\n  wait = no\n  user = root\n"
             "  server = /var/qmail/bin/tcp-env\n  server_args = /var/qmail/bin/qmail-smtpd\n}\n");
  PlanResult plan = tcp_env_plan(tree);
  EXPECT_TRUE(plan.refusals.empty());
  ASSERT_EQ(plan.changes.size(), 1u) << render_plan(plan);
  EXPECT_EQ(plan.changes.front().subject, "/etc/xinetd.d/smtp");
  ASSERT_EQ(plan.unfixed.size(), 1u);
  EXPECT_NE(plan.unfixed.front().message.find("come from a variable"), std::string::npos);
}

// A drop-in that sorts after qharden's and sets ExecStart= would win.
TEST(SystemdUnitsTcpEnvFlags, ALaterExecStartIsRefusedByFileAndLine) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service", "[Service]\nExecStart=/var/qmail/bin/qmail-smtpd\n");
  tree.write(
      kEtc + "s@.service.d/zzz-mine.conf",
      "[Service]\nExecStart=\nExecStart=/var/qmail/bin/tcp-env /var/qmail/bin/qmail-smtpd\n");
  tree.symlink(kLib + "s.socket", kEtc + "sockets.target.wants/s.socket");
  PlanResult plan = tcp_env_plan(tree);
  EXPECT_TRUE(plan.changes.empty());
  ASSERT_EQ(plan.unfixed.size(), 1u);
  EXPECT_NE(plan.unfixed.front().message.find(
                kEtc + "s@.service.d/zzz-mine.conf:2: sets ExecStart= and sorts after "
                       "zz-qharden-tcp-env.flags.conf"),
            std::string::npos)
      << plan.unfixed.front().message;
}

// Type=oneshot runs every ExecStart= in order: a drop-in that empties the
// list and gives back only tcp-env's line would drop the others.
TEST(SystemdUnitsTcpEnvFlags, OneshotWithSeveralExecStartsIsRefusedByName) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service",
             "[Service]\nType=oneshot\nExecStart=/usr/bin/logger connection\n"
             "ExecStart=/var/qmail/bin/tcp-env /var/qmail/bin/qmail-smtpd\n");
  tree.symlink(kLib + "s.socket", kEtc + "sockets.target.wants/s.socket");
  PlanResult plan = tcp_env_plan(tree);
  EXPECT_TRUE(plan.changes.empty()) << render_plan(plan);
  ASSERT_EQ(plan.unfixed.size(), 1u);
  EXPECT_FALSE(plan.unfixed.front().fixable);
  EXPECT_NE(plan.unfixed.front().message.find(
                "Not fixed by qharden: " + kLib +
                "s@.service:4: s@.service is Type=oneshot with 2 ExecStart= lines"),
            std::string::npos)
      << plan.unfixed.front().message;

  tree.write(kLib + "s@.service",
             "[Service]\nType=oneshot\n"
             "ExecStart=/var/qmail/bin/tcp-env /var/qmail/bin/qmail-smtpd\n");
  PlanResult single = tcp_env_plan(tree);
  EXPECT_EQ(single.changes.size(), 1u) << "one ExecStart= is fixed as before";
}

// qharden's drop-in holds a copy of the unit's ExecStart= line. A package
// upgrade that changes the unit's line must not go unnoticed behind it: the
// audit fails naming both lines, and the fix writes the drop-in again from the
// unit's new line; a unit line that passes by itself, or no longer runs
// tcp-env, is left for the operator to remove the drop-in.
TEST(SystemdUnitsTcpEnvFlags, ACopyLeftBehindByAnUpgradeIsFoundAndWrittenAgain) {
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", kSocket);
  tree.write(kLib + "s@.service",
             "[Service]\nExecStart=/var/qmail/bin/tcp-env /var/qmail/bin/qmail-smtpd\n");
  tree.symlink(kLib + "s.socket", kEtc + "sockets.target.wants/s.socket");
  Expected<RootedHost> host = RootedHost::open(tree.root());
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  config.paths.lock_wait_s = 0;
  std::unique_ptr<Rule> rule = make_tcp_env_flags_rule();
  FixSelection selection{{rule.get()}, true, true};
  ASSERT_TRUE(apply_fixes(*host, config, selection, {}));
  const std::string drop_in = kEtc + "s@.service.d/" + std::string(kQhardenTcpEnvDropIn);
  EXPECT_EQ(qharden_drop_in_name("tcp-env.flags"), kQhardenTcpEnvDropIn);
  ASSERT_TRUE(std::filesystem::exists(tree.real(drop_in)));
  auto audit = [&] {
    AuditContext context(*host, config, true);
    std::vector<Finding> findings = rule->check(context);
    const Finding* found = finding_for(findings, kLib + "s@.service");
    return found != nullptr ? *found : Finding{};
  };
  EXPECT_EQ(audit().status, Status::pass) << audit().message;

  tree.write(kLib + "s@.service",
             "[Service]\nExecStart=/var/qmail/bin/tcp-env /usr/local/bin/qmail-smtpd\n");
  Finding stale = audit();
  EXPECT_EQ(stale.status, Status::fail);
  EXPECT_TRUE(stale.fixable) << stale.message;
  EXPECT_NE(stale.message.find(kLib + "s@.service:2 now reads `/var/qmail/bin/tcp-env "
                                      "/usr/local/bin/qmail-smtpd`: the drop-in keeps the old"),
            std::string::npos)
      << stale.message;
  EXPECT_EQ(stale.evidence["unit_exec_start"]["line"], 2);
  EXPECT_EQ(stale.message.find("no ident lookup before 220"), std::string::npos)
      << "a failing finding must not end saying all is well: " << stale.message;
  {
    AuditContext context(*host, config, true);
    PlanResult plan = make_plan(context, selection);
    ASSERT_EQ(plan.changes.size(), 1u) << render_plan(plan);
    const auto& file = std::get<FileReplacement>(plan.changes.front().action);
    EXPECT_NE(file.after.find("ExecStart=\nExecStart=/var/qmail/bin/tcp-env -Rt0 "
                              "/usr/local/bin/qmail-smtpd\n"),
              std::string::npos)
        << file.after;
  }
  Expected<ApplyResult> again = apply_fixes(*host, config, selection, {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->all_succeeded);
  EXPECT_EQ(audit().status, Status::pass) << audit().message;

  struct LeftToTheOperator {
    const char* unit_line;
    const char* why;
  };
  for (const LeftToTheOperator& test_case :
       {LeftToTheOperator{"/var/qmail/bin/tcp-env -R /usr/sbin/qmail-smtpd",
                          "the unit's line now passes by itself"},
        LeftToTheOperator{"/usr/sbin/qmail-smtpd", "the unit's line no longer runs tcp-env"},
        LeftToTheOperator{"/usr/bin/logger start\nExecStart=/var/qmail/bin/tcp-env /q/qmail-smtpd",
                          "the unit now has 2 ExecStart= lines (Type=oneshot), which the "
                          "drop-in's one line hides"}}) {
    tree.write(kLib + "s@.service",
               std::string("[Service]\nType=oneshot\nExecStart=") + test_case.unit_line + "\n");
    Finding left = audit();
    EXPECT_EQ(left.status, Status::fail) << test_case.why;
    EXPECT_FALSE(left.fixable) << test_case.why;
    EXPECT_NE(left.message.find(test_case.why), std::string::npos) << left.message;
    EXPECT_NE(left.message.find("Not fixed by qharden: "), std::string::npos) << left.message;
    EXPECT_NE(left.message.find("remove " + drop_in), std::string::npos) << left.message;
  }
}

TEST(SystemdUnitsBurstLimits, SocketLimitsAreJudgedAndFixable) {
  Expected<RootedHost> host = RootedHost::open(testing::fixture_root(kFixture));
  ASSERT_TRUE(host);
  Config config = *load_builtin_config();
  AuditContext context(*host, config, true);
  std::unique_ptr<Rule> rule = make_listener_burst_limits_rule();
  std::vector<Finding> findings = rule->check(context);
  const Finding* finding = finding_for(findings, kService);
  ASSERT_NE(finding, nullptr);
  EXPECT_EQ(finding->status, Status::fail) << finding->message;
  EXPECT_TRUE(finding->fixable);  // with a drop-in: systemd_drop_in_test.cpp
  EXPECT_EQ(finding->evidence.value("kind", ""), "systemd");
  const nlohmann::json& limits = finding->evidence.at("limits");
  EXPECT_EQ(limits.at("MaxConnections").at("value"), 100);
  EXPECT_EQ(limits.at("MaxConnections").at("from"), "drop-in");
  EXPECT_EQ(limits.at("TriggerLimitBurst").at("value"), 5);
  EXPECT_EQ(limits.at("TriggerLimitBurst").at("minimum"), 1000);
  EXPECT_NE(finding->message.find("MaxConnections 100 (`MaxConnections=100`, "), std::string::npos)
      << finding->message;

  // TriggerLimitBurst=0 switches the trigger limit off; the built-in
  // MaxConnections (64) meets a minimum of 64.
  config.listener_burst_limits.systemd_max_connections_min = 64;
  testing::TemporaryTree tree;
  tree.write(kLib + "s.socket", std::string(kSocket) + "TriggerLimitBurst=0\n");
  tree.write(kLib + "s@.service", "[Service]\nExecStart=/usr/bin/tcp-env -R /q/qmail-smtpd\n");
  tree.symlink(kLib + "s.socket", kEtc + "sockets.target.wants/s.socket");
  Expected<RootedHost> small = RootedHost::open(tree.root());
  ASSERT_TRUE(small);
  AuditContext small_context(*small, config, true);
  std::vector<Finding> small_findings = rule->check(small_context);
  const Finding* passing = finding_for(small_findings, "/usr/lib/systemd/system/s@.service");
  ASSERT_NE(passing, nullptr);
  EXPECT_EQ(passing->status, Status::pass) << passing->message;
  EXPECT_EQ(passing->evidence.at("limits").at("TriggerLimitBurst").at("value"), "unlimited");
}

}  // namespace
}  // namespace qharden
