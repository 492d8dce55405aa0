#include <gtest/gtest.h>

#include <cctype>

#include "parsers/shell_words.h"

namespace qharden {
namespace {

std::string test_name(std::string name) {
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

// Each command rendered as "NAME=value ... | word word ...", for compact tables.
std::vector<std::string> render(const ShellScript& script) {
  std::vector<std::string> rendered;
  for (const ShellCommand& command : script.commands) {
    std::string text;
    for (const ShellAssignment& assignment : command.assignments) {
      text += assignment.name + "=" + assignment.value + " ";
    }
    text += "|";
    for (const ShellWord& word : command.words) text += " " + word.text;
    rendered.push_back(text);
  }
  return rendered;
}

struct SplitCase {
  const char* name;
  const char* script;
  std::vector<std::string> expected;
  std::size_t problems = 0;
};

class ShellWordsSplit : public testing::TestWithParam<SplitCase> {};

TEST_P(ShellWordsSplit, SplitsLikeShell) {
  const SplitCase& test_case = GetParam();
  ShellScript script = parse_shell_script("run", test_case.script);
  EXPECT_EQ(render(script), test_case.expected);
  EXPECT_EQ(script.problems.size(), test_case.problems)
      << (script.problems.empty() ? "" : script.problems.front().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ShellWordsSplit,
    testing::Values(
        SplitCase{"simple",
                  "exec tcpserver -R 0 25 qmail-smtpd\n",
                  {"| exec tcpserver -R 0 25 qmail-smtpd"}},
        SplitCase{"continuation", "a \\\n  b\\\nc\n", {"| a bc"}},
        SplitCase{
            "quotes", "echo 'a b' \"c $D \\\" e\" f\\ g '' x\n", {"| echo a b c $D \" e f g  x"}},
        SplitCase{"backslash in double quotes stays", "echo \"a\\b\"\n", {"| echo a\\b"}},
        SplitCase{
            "comments at word start only", "a # b c\nd#e\n  # whole line\n", {"| a", "| d#e"}},
        SplitCase{
            "separators", "a; b && c || d | e & f\n", {"| a", "| b", "| c", "| d", "| e", "| f"}},
        SplitCase{"redirections dropped",
                  "exec x 0 25 y 2>&1 >/dev/null </dev/null 3>> log\n",
                  {"| exec x 0 25 y"}},
        SplitCase{"redirection glued to a word", "prog arg>out 2>&1\n", {"| prog arg"}},
        SplitCase{"exec only redirects", "exec 2>&1\nexec prog\n", {"| exec", "| exec prog"}},
        SplitCase{"leading assignments",
                  "FOO=bar BAZ='q x' exec prog A=b\n",
                  {"FOO=bar BAZ=q x | exec prog A=b"}},
        SplitCase{"quoted name is no assignment", "\"FOO\"=bar prog\n", {"| FOO=bar prog"}},
        SplitCase{"reserved words",
                  "if [ -f x ]; then exec a; else b; fi\n",
                  {"| [ -f x ]", "| exec a", "| b"}},
        SplitCase{"quoted reserved word is a word", "'if' x\n", {"| if x"}},
        SplitCase{
            "backquotes keep spaces", "QMAILDUID=`id -u qmaild`\n", {"QMAILDUID=`id -u qmaild` |"}},
        SplitCase{"command substitution", "Y=$(cat /a | head -1)\n", {"Y=$(cat /a | head -1) |"}},
        SplitCase{"nested substitution with quotes",
                  "echo \"$(a \"$(b ')')\")\" z\n",
                  {"| echo $(a \"$(b ')')\") z"}},
        SplitCase{"braced parameter", "echo ${A:-a b} c\n", {"| echo ${A:-a b} c"}},
        SplitCase{"here-document skipped",
                  "cat <<EOF\nexec tcpserver\nEOF\nexec b\n",
                  {"| cat", "| exec b"}},
        SplitCase{
            "here-document with tabs", "cat <<-'END' x\n\tbody\n\tEND\nc\n", {"| cat x", "| c"}},
        SplitCase{"subshell and case",
                  "(a); case $1 in start) b;; esac\n",
                  {"| a", "| case $1 in start", "| b", "| esac"}},
        SplitCase{"no final newline", "exec a b", {"| exec a b"}},
        SplitCase{"unterminated single quote", "exec a 'b c\n", {"| exec a b c\n"}, 1},
        SplitCase{"unterminated double quote", "exec a \"b\n", {"| exec a b\n"}, 1},
        SplitCase{"unterminated substitution", "X=$(a\n", {"X=$(a\n |"}, 1},
        SplitCase{"unterminated backquote", "X=`a\n", {"X=`a\n |"}, 1},
        SplitCase{"unterminated here-document", "cat <<EOF\nbody\n", {"| cat"}, 1},
        SplitCase{"redirection without target", "a >\n", {"| a"}, 1},
        SplitCase{"carriage returns", "exec a b\r\nc\r\n", {"| exec a b\r", "| c\r"}, 1}),
    [](const testing::TestParamInfo<SplitCase>& parameter) {
      return test_name(parameter.param.name);
    });

TEST(ShellWords, LocationsPointAtTheWordAsWritten) {
  std::string text = "#!/bin/sh\nexec  tcpserver \\\n  -R \"0\" 25 q\n";
  ShellScript script = parse_shell_script("run", text);
  ASSERT_EQ(script.commands.size(), 1u);
  const std::vector<ShellWord>& words = script.commands[0].words;
  ASSERT_EQ(words.size(), 6u);
  EXPECT_EQ(words[1].location.offset, text.find("tcpserver"));
  EXPECT_EQ(words[1].location.length, 9u);
  EXPECT_EQ(words[1].location.line, 2);
  EXPECT_EQ(words[2].location.line, 3);
  EXPECT_EQ(text.substr(words[3].location.offset, words[3].location.length), "\"0\"");
  EXPECT_TRUE(words[3].quoted);
  EXPECT_EQ(script.commands[0].line, 2);
}

TEST(ShellWords, ContinuationAfterAWordIsNotPartOfIt) {
  std::string text = "tcpserver\\\n -v x\n";
  ShellScript script = parse_shell_script("run", text);
  ASSERT_EQ(script.commands.size(), 1u);
  EXPECT_EQ(script.commands[0].words[0].location.length, 9u);
}

TEST(ShellWords, ProblemsCarryTheLineWhereTheConstructStarts) {
  ShellScript script = parse_shell_script("run", "a\nb\nexec c 'd\ne\nf\n");
  ASSERT_EQ(script.problems.size(), 1u);
  EXPECT_EQ(script.problems[0].line, 3);
  EXPECT_NE(script.problems[0].message.find("single quote"), std::string::npos);
}

TEST(ShellWords, ExpansionsAreMarked) {
  ShellScript script = parse_shell_script("run", "a \"$X\" '$Y' $ `b` x\n");
  const std::vector<ShellWord>& words = script.commands.at(0).words;
  ASSERT_EQ(words.size(), 6u);
  EXPECT_TRUE(words[1].has_expansion);
  EXPECT_FALSE(words[2].has_expansion);
  EXPECT_FALSE(words[3].has_expansion);  // a lone $ is literal
  EXPECT_TRUE(words[4].has_expansion);
}

std::string render_environment(const std::vector<EnvironmentChange>& changes) {
  std::string text;
  for (const EnvironmentChange& change : changes) {
    if (!text.empty()) text += " ";
    switch (change.kind) {
      case EnvironmentChange::Kind::set:
        text += change.name + "=" + change.value;
        break;
      case EnvironmentChange::Kind::unset:
        text += "-" + change.name;
        break;
      case EnvironmentChange::Kind::clear:
        text += "(clear)";
        break;
      case EnvironmentChange::Kind::read_directory:
        text += "envdir:" + change.value;
        break;
    }
  }
  return text;
}

std::string join_words(const std::vector<ShellWord>& words) {
  std::string text;
  for (const ShellWord& word : words) text += (text.empty() ? "" : " ") + word.text;
  return text;
}

std::string join_texts(const std::vector<std::string>& texts) {
  std::string text;
  for (const std::string& each : texts) text += (text.empty() ? "" : " ") + each;
  return text;
}

struct ProgramCase {
  const char* name;
  const char* script;
  const char* argv;  // of the last program command
  const char* wrappers;
  const char* environment;
  std::size_t problems = 0;
};

class ShellPrograms : public testing::TestWithParam<ProgramCase> {};

TEST_P(ShellPrograms, UnwrapsToTheRealProgram) {
  const ProgramCase& test_case = GetParam();
  ResolvedScript resolved = resolve_programs(parse_shell_script("run", test_case.script));
  ASSERT_FALSE(resolved.commands.empty());
  const ProgramCommand& last = resolved.commands.back();
  EXPECT_EQ(join_words(last.argv), test_case.argv);
  EXPECT_EQ(join_texts(last.wrappers), test_case.wrappers);
  EXPECT_EQ(render_environment(last.environment), test_case.environment);
  EXPECT_EQ(resolved.problems.size(), test_case.problems)
      << (resolved.problems.empty() ? "" : resolved.problems.front().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ShellPrograms,
    testing::Values(
        ProgramCase{"plain exec", "exec tcpserver 0 25 q\n", "tcpserver 0 25 q", "", ""},
        ProgramCase{"daemontools chain",
                    "exec envuidgid qmaild softlimit -m 3000000 /usr/bin/tcpserver -v 0 25 q\n",
                    "/usr/bin/tcpserver -v 0 25 q", "envuidgid softlimit", ""},
        ProgramCase{"softlimit bundled argument", "softlimit -m3000 -o 20 fghack pgrphack q\n", "q",
                    "softlimit fghack pgrphack", ""},
        ProgramCase{"envdir and setuidgid", "exec envdir ./env setuidgid qmaild q -x\n", "q -x",
                    "envdir setuidgid", "envdir:./env"},
        ProgramCase{"runit chpst", "exec chpst -u qmaild:qmaild -e ./env -m 2000 -v q 1\n", "q 1",
                    "chpst", "envdir:./env"},
        ProgramCase{"chpst attached -e", "chpst -U q -e/etc/sv/x/env q\n", "q", "chpst",
                    "envdir:/etc/sv/x/env"},
        ProgramCase{"env clears and sets", "exec env -u TZ - PATH=/bin FOO=x tcpserver 0 25 q\n",
                    "tcpserver 0 25 q", "env", "-TZ (clear) PATH=/bin FOO=x"},
        ProgramCase{"env options end at the first assignment", "env A=1 -u B q\n", "-u B q", "env",
                    "A=1"},
        ProgramCase{"argv0", "argv0 /usr/bin/tcpserver smtpd -R 0 25 q\n",
                    "/usr/bin/tcpserver -R 0 25 q", "argv0", ""},
        ProgramCase{"nice and setlock", "nice -n 5 setlock -n /run/lock q\n", "q", "nice setlock",
                    ""},
        ProgramCase{"prefix assignment", "RBLSMTPD= exec q\n", "q", "", "RBLSMTPD="},
        ProgramCase{"exports follow the script",
                    "export A=1\nB=2\nC=3; export C\nset -a\nD=4\nunset A\nE=5 exec q\n", "q", "",
                    "C=3 D=4 E=5"},
        ProgramCase{"export after assignment keeps the value", "X=1\nX=2\nexport X\nq\n", "q", "",
                    "X=2"},
        ProgramCase{"envdir from a variable", "exec envdir \"$DIR\" q\n", "q", "envdir", "", 1},
        ProgramCase{"wrapper without program", "exec setuidgid qmaild\nexec q\n", "q", "", "", 1},
        ProgramCase{"wrapper option error", "softlimit -Z 1 q\n", "1 q", "softlimit", "", 1},
        ProgramCase{"env -S is not followed", "env -S 'a b' q\nexec r\n", "r", "", "", 1}),
    [](const testing::TestParamInfo<ProgramCase>& parameter) {
      return test_name(parameter.param.name);
    });

TEST(ShellPrograms, CommandsWithoutAProgramAreLeftOut) {
  ResolvedScript resolved =
      resolve_programs(parse_shell_script("run", "exec 2>&1\nA=1\nexport A\nset -e\n"));
  EXPECT_TRUE(resolved.commands.empty());
}

TEST(ShellPrograms, ArgvKeepsLocations) {
  std::string text = "exec softlimit -m 1 \\\n  tcpserver -v 0 25 q\n";
  ResolvedScript resolved = resolve_programs(parse_shell_script("run", text));
  ASSERT_EQ(resolved.commands.size(), 1u);
  const ShellWord& program = resolved.commands[0].argv[0];
  EXPECT_EQ(text.substr(program.location.offset, program.location.length), "tcpserver");
  EXPECT_EQ(program.location.line, 2);
  EXPECT_EQ(resolved.commands[0].line, 1);
}

}  // namespace
}  // namespace qharden
