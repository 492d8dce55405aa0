#include <gtest/gtest.h>

#include "config/config.h"
#include "host/host.h"
#include "parsers/inetd.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

TEST(InetdParser, DebianFixtureEntriesLinesAndContinuation) {
  std::string text = testing::read_fixture("inetd", "/etc/inetd.conf");
  InetdFile parsed = parse_inetd_text("/etc/inetd.conf", text);
  EXPECT_TRUE(parsed.problems.empty());
  EXPECT_EQ(parsed.switched_off_lines, std::vector<int>{18});
  std::vector<std::pair<std::string, int>> entries;
  for (const InetdEntry& entry : parsed.entries) entries.emplace_back(entry.service, entry.line);
  EXPECT_EQ(entries, (std::vector<std::pair<std::string, int>>{{"smtp", 14},
                                                               {"127.0.0.1:smtp", 15},
                                                               {"submission", 16},
                                                               {"ident", 21},
                                                               {"discard", 22}}));
  const InetdEntry& submission = parsed.entries[2];
  EXPECT_EQ(submission.last_line, 17);
  EXPECT_EQ(submission.server, "/usr/sbin/tcpd");
  EXPECT_EQ(submission.arguments,
            (std::vector<std::string>{"tcp-env", "-Rr", "/var/qmail/bin/qmail-smtpd"}));
  EXPECT_EQ(submission.argument_locations[2].line, 17);
  for (const InetdEntry& entry : parsed.entries) {
    EXPECT_EQ(text.substr(entry.server_location.offset, entry.server_location.length),
              entry.server);
    for (std::size_t index = 0; index < entry.arguments.size(); ++index) {
      const WordLocation& location = entry.argument_locations[index];
      EXPECT_EQ(text.substr(location.offset, location.length), entry.arguments[index]);
    }
  }
}

struct CommandCase {
  const char* name;
  const char* line;
  std::vector<std::string> argv;
  bool tcpd_wrapped;
};

class InetdCommand : public ::testing::TestWithParam<CommandCase> {};

TEST_P(InetdCommand, ArgvAsExecuted) {
  std::string text = GetParam().line;
  InetdFile parsed = parse_inetd_text("/etc/inetd.conf", text);
  ASSERT_EQ(parsed.entries.size(), 1u);
  InetdCommandLine command = inetd_command_line(parsed.entries[0]);
  EXPECT_EQ(command.argv, GetParam().argv);
  EXPECT_EQ(command.tcpd_wrapped, GetParam().tcpd_wrapped);
  ASSERT_EQ(command.locations.size(), command.argv.size());
  for (std::size_t index = 0; index < command.argv.size(); ++index) {
    ASSERT_TRUE(command.locations[index]);
    EXPECT_EQ(text.substr(command.locations[index]->offset, command.locations[index]->length),
              command.argv[index]);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, InetdCommand,
    ::testing::Values(
        CommandCase{"classic",
                    "smtp stream tcp nowait qmaild /var/qmail/bin/tcp-env tcp-env "
                    "/var/qmail/bin/qmail-smtpd\n",
                    {"/var/qmail/bin/tcp-env", "/var/qmail/bin/qmail-smtpd"},
                    false},
        CommandCase{"tcpd_runs_its_argv0",
                    "smtp stream tcp nowait qmaild /usr/sbin/tcpd /var/qmail/bin/tcp-env -R "
                    "/var/qmail/bin/qmail-smtpd\n",
                    {"/var/qmail/bin/tcp-env", "-R", "/var/qmail/bin/qmail-smtpd"},
                    true},
        CommandCase{"tcpd_with_bare_name",
                    "smtp stream tcp nowait qmaild /usr/sbin/tcpd tcp-env x",
                    {"tcp-env", "x"},
                    true},
        CommandCase{"internal", "discard stream tcp nowait root internal\n", {}, false},
        CommandCase{"max_and_group",
                    "smtp stream tcp6 nowait.400 qmaild.nofiles /p p -a\n",
                    {"/p", "-a"},
                    false},
        CommandCase{"continuation_with_spaces",
                    "smtp stream tcp nowait qmaild /var/qmail/bin/tcp-env\n  tcp-env\n\t-R\n",
                    {"/var/qmail/bin/tcp-env", "-R"},
                    false}),
    [](const ::testing::TestParamInfo<CommandCase>& parameter) { return parameter.param.name; });

struct SyntaxCase {
  const char* name;
  std::string text;
  std::vector<std::string> services;
  std::vector<int> problem_lines;
};

class InetdSyntax : public ::testing::TestWithParam<SyntaxCase> {};

TEST_P(InetdSyntax, EntriesAndProblems) {
  InetdFile parsed = parse_inetd_text("/etc/inetd.conf", GetParam().text);
  std::vector<std::string> services;
  for (const InetdEntry& entry : parsed.entries) services.push_back(entry.service);
  std::vector<int> lines;
  for (const InetdProblem& problem : parsed.problems) lines.push_back(problem.line);
  EXPECT_EQ(services, GetParam().services);
  EXPECT_EQ(lines, GetParam().problem_lines);
}

const std::string kClassic = "stream tcp nowait qmaild /var/qmail/bin/tcp-env tcp-env\n";

INSTANTIATE_TEST_SUITE_P(
    Table, InetdSyntax,
    ::testing::Values(
        SyntaxCase{"switched_off_line_is_no_entry", "#<off># smtp " + kClassic, {}, {}},
        SyntaxCase{
            "incomplete_entry", "smtp stream tcp nowait qmaild\nident " + kClassic, {"ident"}, {1}},
        SyntaxCase{"bad_socket_type", "smtp tcp stream nowait qmaild /p p\n", {}, {1}},
        SyntaxCase{"bad_wait_field", "smtp stream tcp sometimes qmaild /p p\n", {}, {1}},
        SyntaxCase{"host_line_sets_a_default", "127.0.0.1:\nsmtp " + kClassic, {"smtp"}, {}},
        SyntaxCase{"host_and_service_split_by_a_blank",
                   "127.0.0.1: smtp " + kClassic,
                   {"127.0.0.1:smtp"},
                   {}},
        SyntaxCase{"ipv6_address_kept_as_written", "[::1]:smtp " + kClassic, {"[::1]:smtp"}, {}},
        SyntaxCase{"blank_line_after_comment_starts_its_own_entry",
                   "smtp " + kClassic + "# comment\n\tsubmission " + kClassic,
                   {"smtp", "submission"},
                   {}},
        SyntaxCase{"indented_hash_is_not_a_comment", " #smtp " + kClassic, {"#smtp"}, {}},
        SyntaxCase{"too_many_arguments",
                   "smtp stream tcp nowait u /p a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12 a13 a14 "
                   "a15 a16 a17 a18 a19 a20 a21\n",
                   {"smtp"},
                   {1}},
        SyntaxCase{"line_over_the_inetd_buffer",
                   "smtp stream tcp nowait u /p p " + std::string(1100, 'x') + "\n",
                   {"smtp"},
                   {1}},
        SyntaxCase{"binary", std::string("smtp stream\0 tcp\n", 17), {}, {1}},
        SyntaxCase{"empty", "", {}, {}}),
    [](const ::testing::TestParamInfo<SyntaxCase>& parameter) { return parameter.param.name; });

TEST(InetdParser, TooManyArgumentsAreDropped) {
  InetdFile parsed = parse_inetd_text(
      "/etc/inetd.conf",
      "smtp stream tcp nowait u /p a1 a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12 a13 a14 a15 a16 a17 "
      "a18 a19 a20 a21\n");
  ASSERT_EQ(parsed.entries.size(), 1u);
  EXPECT_EQ(parsed.entries[0].arguments.size(), kInetdMaximumArguments);
  EXPECT_EQ(parsed.entries[0].arguments.back(), "a20");
}

TEST(InetdInventory, FixtureSubjectsAsWritten) {
  Expected<RootedHost> host = RootedHost::open(testing::fixture_root("inetd"));
  ASSERT_TRUE(host) << host.error().message;
  Expected<Config> config = load_builtin_config();
  ASSERT_TRUE(config);
  ServiceInventory inventory;
  collect_inetd_services(*host, *config, inventory);
  EXPECT_TRUE(inventory.inetd_present);
  EXPECT_TRUE(inventory.problems.empty());
  EXPECT_EQ(inventory.files_read, std::vector<std::string>{"/etc/inetd.conf"});
  std::vector<std::string> subjects;
  for (const ServiceCommand& command : inventory.commands) {
    subjects.push_back(command.subject);
    EXPECT_EQ(command.source, LaunchSource::inetd);
    EXPECT_TRUE(command.enabled);
  }
  EXPECT_EQ(subjects,
            (std::vector<std::string>{"/etc/inetd.conf:smtp", "/etc/inetd.conf:127.0.0.1:smtp",
                                      "/etc/inetd.conf:submission", "/etc/inetd.conf:ident",
                                      "/etc/inetd.conf:discard"}));
  EXPECT_EQ(inventory.commands[1].argv[0], "/var/qmail/bin/tcp-env");
  EXPECT_EQ(inventory.commands[2].argv[0], "tcp-env");
  EXPECT_EQ(inventory.commands[2].line, 16);
}

TEST(InetdInventory, SameServiceOnTwoProtocolsIsToldApartByProtocol) {
  testing::TemporaryTree tree;
  tree.write("/etc/inetd.conf",
             "smtp stream tcp nowait qmaild /var/qmail/bin/tcp-env tcp-env /q\n"
             "smtp stream tcp6 nowait qmaild /var/qmail/bin/tcp-env tcp-env /q\n"
             "submission stream tcp nowait qmaild /var/qmail/bin/tcp-env tcp-env /q\n");
  Expected<RootedHost> host = RootedHost::open(tree.root());
  ASSERT_TRUE(host);
  Expected<Config> config = load_builtin_config();
  ASSERT_TRUE(config);
  ServiceInventory inventory;
  collect_inetd_services(*host, *config, inventory);
  ASSERT_EQ(inventory.commands.size(), 3u);
  EXPECT_EQ(inventory.commands[0].subject, "/etc/inetd.conf:smtp/tcp");
  EXPECT_EQ(inventory.commands[1].subject, "/etc/inetd.conf:smtp/tcp6");
  EXPECT_EQ(inventory.commands[2].subject, "/etc/inetd.conf:submission");
}

TEST(InetdInventory, MissingFileIsNotPresentAndNoProblem) {
  testing::TemporaryTree tree;
  Expected<RootedHost> host = RootedHost::open(tree.root());
  ASSERT_TRUE(host);
  Expected<Config> config = load_builtin_config();
  ASSERT_TRUE(config);
  ServiceInventory inventory;
  collect_inetd_services(*host, *config, inventory);
  EXPECT_FALSE(inventory.inetd_present);
  EXPECT_TRUE(inventory.problems.empty());
  EXPECT_TRUE(inventory.commands.empty());
}

}  // namespace
}  // namespace qharden
