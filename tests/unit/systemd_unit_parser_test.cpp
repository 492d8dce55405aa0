#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parsers/systemd_unit.h"

namespace qharden {
namespace {

// Every location must hold the value's bytes when the value sits on one line.
void expect_located(const std::string& text, const SystemdAssignment& assignment) {
  ASSERT_LE(assignment.location.offset + assignment.location.length, text.size());
  if (assignment.location.line == assignment.last_line) {
    EXPECT_EQ(text.substr(assignment.location.offset, assignment.location.length),
              assignment.value);
  }
}

std::vector<std::string> texts(const std::vector<SystemdCommandWord>& words) {
  std::vector<std::string> result;
  for (const SystemdCommandWord& word : words) result.push_back(word.text);
  return result;
}

constexpr const char* kQmailService =
    "# qmail-smtpd behind qmail-smtpd.socket\n"
    "[Unit]\n"
    "Description=qmail SMTP server (%i)\n"
    "\n"
    "[Service]\n"
    "Environment=QMAILDUID=111 NOFILESGID=65534\n"
    "ExecStart=/usr/bin/tcp-env -R -t0 /var/qmail/bin/qmail-smtpd\n"
    "StandardInput=socket\n";

TEST(SystemdUnitParser, TemplateServiceSectionsAndExecStart) {
  std::string text = kQmailService;
  SystemdUnitFile unit =
      parse_systemd_unit_text("/usr/lib/systemd/system/qmail-smtpd@.service", text);
  EXPECT_TRUE(unit.problems.empty());
  EXPECT_TRUE(unit.loads());
  ASSERT_EQ(unit.sections.size(), 2u);
  EXPECT_EQ(unit.sections[0].name, "Unit");
  EXPECT_EQ(unit.sections[1].line, 5);
  const SystemdAssignment* exec = systemd_last(unit, "Service", "ExecStart");
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->location.line, 7);
  expect_located(text, *exec);
  Expected<SystemdCommandLine> command = split_systemd_command(unit.file, *exec);
  ASSERT_TRUE(command) << command.error().message;
  EXPECT_EQ(command->program.text, "/usr/bin/tcp-env");
  EXPECT_EQ(texts(command->argv), (std::vector<std::string>{"/usr/bin/tcp-env", "-R", "-t0",
                                                            "/var/qmail/bin/qmail-smtpd"}));
  for (const SystemdCommandWord& word : command->argv) {
    EXPECT_EQ(text.substr(word.location.offset, word.location.length), word.text);
    EXPECT_EQ(word.location.line, 7);
  }
  const SystemdAssignment* description = systemd_last(unit, "Unit", "Description");
  ASSERT_NE(description, nullptr);
  EXPECT_EQ(description->value, "qmail SMTP server (%i)");  // specifiers kept as written
}

TEST(SystemdUnitParser, SocketUnitLimitsAndTcpserverService) {
  std::string text =
      "[Socket]\r\n"
      "ListenStream = 25\r\n"
      "Accept=yes\r\n"
      "MaxConnections=\r\n"
      "TriggerLimitBurst=5";  // no trailing newline
  SystemdUnitFile unit = parse_systemd_unit_text("/etc/systemd/system/qmail-smtpd.socket", text);
  EXPECT_TRUE(unit.problems.empty());
  const SystemdAssignment* listen = systemd_last(unit, "Socket", "ListenStream");
  ASSERT_NE(listen, nullptr);
  EXPECT_EQ(listen->key, "ListenStream");
  EXPECT_EQ(listen->value, "25");  // CR and blanks around '=' stripped
  EXPECT_EQ(listen->location.line, 2);
  expect_located(text, *listen);
  EXPECT_EQ(systemd_last(unit, "Socket", "Accept")->value, "yes");
  EXPECT_EQ(systemd_last(unit, "Socket", "MaxConnections"), nullptr);  // empty: the default
  const SystemdAssignment* burst = systemd_last(unit, "Socket", "TriggerLimitBurst");
  ASSERT_NE(burst, nullptr);
  EXPECT_EQ(burst->value, "5");
  EXPECT_EQ(burst->location.offset, text.size() - 1);
  EXPECT_EQ(burst->location.line, 5);

  std::string service =
      "[Service]\n"
      "ExecStart=/usr/bin/tcpserver -v -R -c 40 -x /etc/tcp.smtp.cdb 0 smtp "
      "/var/qmail/bin/qmail-smtpd\n";
  SystemdUnitFile plain = parse_systemd_unit_text("/etc/systemd/system/smtp.service", service);
  Expected<SystemdCommandLine> command =
      split_systemd_command(plain.file, *systemd_last(plain, "Service", "ExecStart"));
  ASSERT_TRUE(command);
  ASSERT_EQ(command->argv.size(), 10u);
  EXPECT_EQ(command->argv[4].text, "40");
  EXPECT_EQ(service.substr(command->argv[4].location.offset, 2), "40");
}

TEST(SystemdUnitParser, ContinuationLinesJoinAndKeepLocations) {
  std::string text =
      "[Service]\n"
      "ExecStart=/usr/bin/tcp-env \\\n"
      "# a comment inside the continued line\n"
      "    -R /var/qmail/bin/qmail-smtpd\n"
      "Type=simple\n";
  SystemdUnitFile unit = parse_systemd_unit_text("u.service", text);
  EXPECT_TRUE(unit.problems.empty());
  const SystemdAssignment* exec = systemd_last(unit, "Service", "ExecStart");
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->value, "/usr/bin/tcp-env      -R /var/qmail/bin/qmail-smtpd");
  EXPECT_EQ(exec->location.line, 2);
  EXPECT_EQ(exec->last_line, 4);
  std::size_t end = text.find("Type=");
  EXPECT_EQ(exec->location.offset + exec->location.length, end - 1);
  Expected<SystemdCommandLine> command = split_systemd_command(unit.file, *exec);
  ASSERT_TRUE(command);
  ASSERT_EQ(command->argv.size(), 3u);
  EXPECT_EQ(command->argv[1].text, "-R");
  EXPECT_EQ(command->argv[1].location.line, 4);
  EXPECT_EQ(text.substr(command->argv[1].location.offset, 2), "-R");
  EXPECT_EQ(systemd_last(unit, "Service", "Type")->location.line, 5);
  // A blank line ends a continued line (systemd-analyze verify, systemd 252).
  SystemdUnitFile blank = parse_systemd_unit_text("u.service", "[S]\nA=b \\\n\nC=d\n");
  EXPECT_EQ(systemd_last(blank, "S", "A")->value, "b");
  EXPECT_EQ(systemd_last(blank, "S", "C")->value, "d");
  // An escaped backslash at the end is not a continuation.
  SystemdUnitFile literal = parse_systemd_unit_text("u.service", "[X]\nA=b\\\\\nC=d\n");
  EXPECT_EQ(systemd_last(literal, "X", "A")->value, "b\\\\");
  EXPECT_NE(systemd_last(literal, "X", "C"), nullptr);
}

TEST(SystemdUnitParser, RepeatedKeysAppendAndEmptyAssignmentResets) {
  std::string text =
      "[Service]\n"
      "ExecStart=/bin/a\n"
      "ExecStart=/bin/b\n"
      "Environment=A=1\n"
      "[Install]\n"
      "WantedBy=sockets.target\n"
      "[Service]\n"  // a repeated section continues the first one
      "ExecStart=\n"
      "ExecStart=/bin/c\n"
      "Environment=B=2\n";
  SystemdUnitFile unit = parse_systemd_unit_text("u.service", text);
  std::vector<std::string> exec;
  for (const SystemdAssignment* assignment : systemd_list(unit, "Service", "ExecStart")) {
    exec.push_back(assignment->value);
  }
  EXPECT_EQ(exec, std::vector<std::string>{"/bin/c"});
  EXPECT_EQ(systemd_list(unit, "Service", "Environment").size(), 2u);
  EXPECT_EQ(systemd_list(unit, "Service", "execstart").size(), 0u);  // keys match with case
  EXPECT_EQ(systemd_last(unit, "Service", "ExecStart")->location.line, 9);
}

struct WordsCase {
  const char* name;
  const char* value;
  std::string prefixes;
  std::string program;
  std::vector<std::string> argv;
};

class SystemdCommandWords : public ::testing::TestWithParam<WordsCase> {};

TEST_P(SystemdCommandWords, SplitsLikeSystemd) {
  std::string text = std::string("[Service]\nExecStart=") + GetParam().value + "\n";
  SystemdUnitFile unit = parse_systemd_unit_text("u.service", text);
  Expected<SystemdCommandLine> command =
      split_systemd_command(unit.file, *systemd_last(unit, "Service", "ExecStart"));
  ASSERT_TRUE(command) << command.error().message;
  EXPECT_EQ(command->prefixes, GetParam().prefixes);
  EXPECT_EQ(command->program.text, GetParam().program);
  EXPECT_EQ(texts(command->argv), GetParam().argv);
  for (const SystemdCommandWord& word : command->argv) {
    EXPECT_EQ(text.substr(word.location.offset, word.location.length), word.written);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SystemdCommandWords,
    ::testing::Values(
        WordsCase{"plain", "/bin/tcp-env -R x", "", "/bin/tcp-env", {"/bin/tcp-env", "-R", "x"}},
        WordsCase{"ignore_failure", "-/bin/a b", "-", "/bin/a", {"/bin/a", "b"}},
        WordsCase{"at_makes_second_word_argv0",
                  "@/usr/bin/tcp-env tcp-env -R",
                  "@",
                  "/usr/bin/tcp-env",
                  {"tcp-env", "-R"}},
        WordsCase{"all_prefixes", "-@:!!/bin/a zero one", "-@:!!", "/bin/a", {"zero", "one"}},
        // systemd-analyze verify (252): after '+' a '!' is part of the path.
        WordsCase{"prefix_inside_quotes", "\"-/bin/a\" x", "-", "/bin/a", {"/bin/a", "x"}},
        WordsCase{"plus_then_bang", "+!/bin/a", "+", "!/bin/a", {"!/bin/a"}},
        WordsCase{"unicode_escapes",
                  "/bin/a \\u00e9\\U0001F600",
                  "",
                  "/bin/a",
                  {"/bin/a", "\xC3\xA9\xF0\x9F\x98\x80"}},
        WordsCase{"double_quotes", "/bin/a \"b c\" d", "", "/bin/a", {"/bin/a", "b c", "d"}},
        WordsCase{"single_quotes", "/bin/a 'b \"c' d", "", "/bin/a", {"/bin/a", "b \"c", "d"}},
        WordsCase{"quote_inside_word", "/bin/a x\"y z\"w", "", "/bin/a", {"/bin/a", "xy zw"}},
        WordsCase{"escapes",
                  "/bin/a b\\ c \\x41\\t \"q\\\"\"",
                  "",
                  "/bin/a",
                  {"/bin/a", "b c", "A\t", "q\""}},
        WordsCase{"empty_quoted_word", "/bin/a '' b", "", "/bin/a", {"/bin/a", "", "b"}},
        WordsCase{"specifiers_and_variables_kept",
                  "/bin/a %i $HOME ${X}",
                  "",
                  "/bin/a",
                  {"/bin/a", "%i", "$HOME", "${X}"}},
        WordsCase{
            "semicolon_ends_first_command", "/bin/a b ; /bin/c", "", "/bin/a", {"/bin/a", "b"}}),
    [](const ::testing::TestParamInfo<WordsCase>& parameter) {
      return std::string(parameter.param.name);
    });

TEST(SystemdCommandWords, UnknownEscapesKeptAsWrittenLikeSystemd) {
  // systemd-analyze verify (252): "Ignoring unknown escape sequences", and the
  // command still runs with the backslash kept.
  std::string text = "[Service]\nExecStart=/bin/a \\q \\x0g \\000 b\\ \n";
  SystemdUnitFile unit = parse_systemd_unit_text("u.service", text);
  Expected<SystemdCommandLine> command =
      split_systemd_command(unit.file, *systemd_last(unit, "Service", "ExecStart"));
  ASSERT_TRUE(command) << command.error().message;
  EXPECT_TRUE(command->unknown_escapes);
  EXPECT_EQ(texts(command->argv),
            (std::vector<std::string>{"/bin/a", "\\q", "\\x0g", "\\000", "b\\"}));
}

TEST(SystemdCommandWords, RejectsWhatSystemdIgnores) {
  for (const char* value : {"/bin/a 'open", "", "-", "@/bin/a"}) {
    std::string text = std::string("[Service]\n\nExecStart=") + value + "\n";
    SystemdUnitFile unit = parse_systemd_unit_text("u.service", text);
    ASSERT_EQ(unit.sections[0].assignments.size(), 1u) << value;
    Expected<SystemdCommandLine> command =
        split_systemd_command(unit.file, unit.sections[0].assignments[0]);
    ASSERT_FALSE(command) << value;
    EXPECT_EQ(command.error().message.rfind("u.service:3: ExecStart=: ", 0), 0u)
        << command.error().message;
  }
}

struct ProblemCase {
  const char* name;
  const char* text;
  std::vector<int> lines;
  bool loads;
};

class SystemdUnitProblems : public ::testing::TestWithParam<ProblemCase> {};

TEST_P(SystemdUnitProblems, NamedWithFileAndLineAndParsingGoesOn) {
  SystemdUnitFile unit = parse_systemd_unit_text("/etc/systemd/system/x.service", GetParam().text);
  std::vector<int> lines;
  for (const SystemdUnitProblem& problem : unit.problems) {
    lines.push_back(problem.line);
    EXPECT_EQ(problem.message.rfind(
                  "/etc/systemd/system/x.service:" + std::to_string(problem.line) + ": ", 0),
              0u)
        << problem.message;
  }
  EXPECT_EQ(lines, GetParam().lines);
  EXPECT_EQ(unit.loads(), GetParam().loads);
  // The last line of every case is a good assignment, still read.
  EXPECT_NE(systemd_last(unit, "Service", "Last"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SystemdUnitProblems,
    ::testing::Values(
        ProblemCase{"key_outside_section", "Before=1\n[Service]\nLast=1\n", {1}, true},
        ProblemCase{"missing_equals", "[Service]\n# c\n; c\nNoEquals\nLast=1\n", {4}, true},
        ProblemCase{"missing_key", "[Service]\n =x\nLast=1\n", {2}, true},
        ProblemCase{"unterminated_header", "[Service]\n[Install\n[Service]\nLast=1\n", {2}, false},
        // systemd names the last line of a continued line (systemd-analyze verify, 252).
        ProblemCase{"continued_line_named_by_its_last_line",
                    "[Service]\nfoo \\\n  # c\nbar\n[Bad \\\nx\n[Service]\nLast=1\n",
                    {4, 6},
                    false},
        ProblemCase{"several", "x\n[Service]\ny\n\n[Bad\n[Service]\nLast=1\n", {1, 3, 5}, false}),
    [](const ::testing::TestParamInfo<ProblemCase>& parameter) {
      return std::string(parameter.param.name);
    });

TEST(SystemdUnitParser, LineOverOneMebibyteStopsTheUnit) {
  std::string text = "[Service]\nA=1\nExecStart=/bin/a \\\n" +
                     std::string(kSystemdMaximumLineBytes, 'x') + "\nB=2\n";
  SystemdUnitFile unit = parse_systemd_unit_text("u.service", text);
  ASSERT_EQ(unit.problems.size(), 1u);
  EXPECT_EQ(unit.problems[0].line, 4);
  EXPECT_FALSE(unit.loads());
  EXPECT_EQ(systemd_last(unit, "Service", "B"), nullptr);  // systemd stops reading there
}

TEST(SystemdUnitParser, EmptyAndCommentOnlyFiles) {
  EXPECT_TRUE(parse_systemd_unit_text("u", "").sections.empty());
  SystemdUnitFile comments = parse_systemd_unit_text("u", "  # x\n;y\n\r\n");
  EXPECT_TRUE(comments.sections.empty());
  EXPECT_TRUE(comments.problems.empty());
  // A '\' on the last line: what is there is parsed.
  SystemdUnitFile dangling = parse_systemd_unit_text("u", "[S]\nA=b \\");
  ASSERT_NE(systemd_last(dangling, "S", "A"), nullptr);
  EXPECT_EQ(systemd_last(dangling, "S", "A")->value, "b");
}

}  // namespace
}  // namespace qharden
