#include <gtest/gtest.h>

#include <algorithm>

#include "config/config.h"
#include "host/host.h"
#include "inventory/inventory.h"

namespace qharden {
namespace {

std::string fixture(const std::string& name) {
  return std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name;
}

ServiceInventory collect(const std::string& root) {
  Expected<RootedHost> host = RootedHost::open(root);
  EXPECT_TRUE(host) << host.error().message;
  Expected<Config> config = load_builtin_config();
  EXPECT_TRUE(config) << config.error().message;
  ServiceInventory inventory;
  collect_run_scripts(*host, *config, inventory);
  return inventory;
}

const ServiceCommand* command_for(const ServiceInventory& inventory, const std::string& subject) {
  for (const ServiceCommand& command : inventory.commands) {
    if (command.subject == subject) return &command;
  }
  return nullptr;
}

std::string join(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

struct RunScriptCase {
  const char* subject;
  const char* argv;
  const char* wrappers;
  const char* service;
  const char* supervisor;
  int program_line;  // line of argv[0] in the file
};

class RunScriptCommands : public testing::TestWithParam<RunScriptCase> {};

TEST_P(RunScriptCommands, UnwrapsToTheProgramChain) {
  const RunScriptCase& test_case = GetParam();
  ServiceInventory inventory = collect(fixture("daemontools"));
  const ServiceCommand* command = command_for(inventory, test_case.subject);
  ASSERT_NE(command, nullptr) << test_case.subject;
  EXPECT_EQ(command->source, LaunchSource::run_script);
  EXPECT_EQ(command->file, test_case.subject);
  EXPECT_EQ(join(command->argv), test_case.argv);
  EXPECT_EQ(join(command->details->wrappers), test_case.wrappers);
  EXPECT_EQ(command->service, test_case.service);
  EXPECT_EQ(command->details->supervisor, test_case.supervisor);
  ASSERT_EQ(command->locations.size(), command->argv.size());
  ASSERT_TRUE(command->locations[0]);
  EXPECT_EQ(command->locations[0]->line, test_case.program_line);
}

INSTANTIATE_TEST_SUITE_P(
    Fixture, RunScriptCommands,
    testing::Values(
        RunScriptCase{"/service/smtpd/run",
                      "/usr/local/bin/tcpserver -vRHl0 -x /etc/tcp.smtp.cdb -c $MAXSMTPD -u "
                      "$QMAILDUID -g $NOFILESGID 0 smtp /var/qmail/bin/qmail-smtpd",
                      "softlimit", "smtpd", "daemontools", 13},
        RunScriptCase{"/service/qmail-smtpd-bad/run",
                      "tcpserver -v -U -x /etc/tcp.smtp.cdb 0 25 /usr/sbin/rblsmtpd -r "
                      "zen.spamhaus.org /var/qmail/bin/qmail-smtpd",
                      "envuidgid softlimit", "qmail-smtpd-bad", "daemontools", 5},
        RunScriptCase{"/service/qmail-submission/run",
                      "/usr/local/bin/tcpserver -R -l $LOCAL 0 587 rblsmtpd -r bl.spamcop.net "
                      "qmail-smtpd",
                      "envdir setuidgid argv0", "qmail-submission", "daemontools", 5},
        RunScriptCase{"/etc/sv/qmail-smtpd/run",
                      "tcpserver -l mail.example.org -c 40 0 465 qmail-smtpd", "chpst",
                      "qmail-smtpd", "runit", 4}),
    [](const testing::TestParamInfo<RunScriptCase>& parameter) {
      std::string name = parameter.param.subject;
      for (char& character : name) {
        if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
      }
      return name;
    });

TEST(RunScripts, LocationsPointIntoTheFile) {
  ServiceInventory inventory = collect(fixture("daemontools"));
  const ServiceCommand* command = command_for(inventory, "/service/smtpd/run");
  ASSERT_NE(command, nullptr);
  Expected<RootedHost> host = RootedHost::open(fixture("daemontools"));
  ASSERT_TRUE(host);
  Expected<std::string> text = host->read_file("/service/smtpd/run");
  ASSERT_TRUE(text);
  for (std::size_t index = 0; index < command->argv.size(); ++index) {
    const WordLocation& location = *command->locations[index];
    std::string raw = text->substr(location.offset, location.length);
    std::string unquoted;
    for (char character : raw) {
      if (character != '"') unquoted += character;
    }
    EXPECT_EQ(unquoted, command->argv[index]);
  }
}

TEST(RunScripts, ScriptsReachedTwiceAreReadOnce) {
  ServiceInventory inventory = collect(fixture("daemontools"));
  auto seen = [&](const std::string& path) {
    return std::find(inventory.run_scripts_seen.begin(), inventory.run_scripts_seen.end(), path) !=
           inventory.run_scripts_seen.end();
  };
  EXPECT_TRUE(seen("/service/smtpd/run"));
  EXPECT_TRUE(seen("/var/qmail/supervise/smtpd/run"));
  EXPECT_EQ(command_for(inventory, "/var/qmail/supervise/smtpd/run"), nullptr);
  std::size_t smtpd_commands = std::count_if(
      inventory.commands.begin(), inventory.commands.end(),
      [](const ServiceCommand& command) { return command.subject == "/service/smtpd/run"; });
  EXPECT_EQ(smtpd_commands, 1u);
}

TEST(RunScripts, OnlyCommandsThatRunUcspiProgramsAreKept) {
  ServiceInventory inventory = collect(fixture("daemontools"));
  EXPECT_EQ(command_for(inventory, "/service/qmail-send/run"), nullptr);
  EXPECT_NE(command_for(inventory, "/service/qmail-smtpd-undone/run"), nullptr);
}

TEST(RunScripts, EnvironmentFromExportsAndEnvdir) {
  ServiceInventory inventory = collect(fixture("daemontools"));
  const ServiceCommand* command = command_for(inventory, "/service/qmail-submission/run");
  ASSERT_NE(command, nullptr);
  const std::map<std::string, std::string>& environment = command->details->environment;
  EXPECT_EQ(environment.at("DNSCACHEIP"), "10.0.0.53");
  ASSERT_EQ(environment.count("RBLSMTPD"), 1u);  // a one-line empty file sets it empty
  EXPECT_EQ(environment.at("RBLSMTPD"), "");
  EXPECT_EQ(environment.count("UNSETME"), 0u);  // an empty file removes the export
  EXPECT_EQ(environment.count(".hidden"), 0u);
  EXPECT_EQ(environment.at("PATH"), "/var/qmail/bin:/usr/local/bin:/usr/bin:/bin");
  const ServiceCommand* runit = command_for(inventory, "/etc/sv/qmail-smtpd/run");
  ASSERT_NE(runit, nullptr);
  EXPECT_EQ(runit->details->environment.at("DNSCACHEIP"), "127.0.0.1");
  EXPECT_NE(std::find(inventory.files_read.begin(), inventory.files_read.end(),
                      "/service/qmail-submission/env/DNSCACHEIP"),
            inventory.files_read.end());
}

TEST(RunScripts, ParseProblemsNameFileAndLine) {
  ServiceInventory inventory = collect(fixture("daemontools"));
  auto problem =
      std::find_if(inventory.problems.begin(), inventory.problems.end(),
                   [](const InventoryProblem& each) { return each.file == "/service/broken/run"; });
  ASSERT_NE(problem, inventory.problems.end());
  EXPECT_EQ(problem->line, 2);
  EXPECT_EQ(problem->source, LaunchSource::run_script);
  EXPECT_NE(problem->message.find("unterminated"), std::string::npos);
}

TEST(RunScripts, NoMatchLeavesNothingSeen) {
  ServiceInventory inventory = collect(fixture("resolv-missing"));
  EXPECT_TRUE(inventory.run_scripts_seen.empty());
  EXPECT_TRUE(inventory.commands.empty());
}

}  // namespace
}  // namespace qharden
