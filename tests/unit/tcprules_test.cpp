#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <random>

#include "parsers/cdb.h"
#include "parsers/tcprules.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

std::string join_keys(const TcprulesSource& source) {
  std::string text;
  for (const TcpRule& rule : source.rules) {
    for (const std::string& key : rule.keys) text += (text.empty() ? "" : " ") + key;
  }
  return text;
}

struct TcprulesCase {
  const char* name;
  const char* text;
  const char* keys;  // every key, blank-separated
  bool compiles;
};

class TcprulesTable : public ::testing::TestWithParam<TcprulesCase> {};

// Each row's outcome was first read from the real tcprules 1:0.88-7.
TEST_P(TcprulesTable, CompilesLikeTcprules) {
  const TcprulesCase& test_case = GetParam();
  TcprulesSource source = parse_tcprules_text("/etc/tcp.smtp", test_case.text);
  EXPECT_EQ(source.compiles(), test_case.compiles);
  if (test_case.compiles) {
    EXPECT_EQ(join_keys(source), test_case.keys);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, TcprulesTable,
    ::testing::Values(
        TcprulesCase{"plain", "127.:allow,RELAYCLIENT=\"\"\n", "127.", true},
        TcprulesCase{"range last octet", "1.2.3.37-39:deny\n", "1.2.3.37 1.2.3.38 1.2.3.39", true},
        TcprulesCase{"range middle", "10.2-3.:allow\n", "10.2. 10.3.", true},
        TcprulesCase{"range capped at 255", "1.2.3.254-260:allow\n", "1.2.3.254 1.2.3.255", true},
        TcprulesCase{"range empty top", "1.2.3.4-:allow\n", "", true},
        TcprulesCase{"range reversed", "1.2.3.5-3:allow\n", "", true},
        TcprulesCase{"range leading zeros", "1.2.3.037-38:allow\n", "1.2.3.37 1.2.3.38", true},
        TcprulesCase{"range empty bottom", "1.-1:allow\n", "1.0 1.1", true},
        TcprulesCase{"range bad digits", "1.2.3.x-5:allow\n", "", false},
        TcprulesCase{"hostname with dash", "mail-host:allow\n", "", false},
        TcprulesCase{"host rule keeps dash", "=mail-host.example:allow\n", "=mail-host.example",
                     true},
        TcprulesCase{"cidr is literal", "10.0.0.0/8:allow\n", "10.0.0.0/8", true},
        TcprulesCase{"no colon skipped", "127.0.0.1 allow\n", "", true},
        TcprulesCase{"comment and blank", "# x:allow\n\n   \n", "", true},
        TcprulesCase{"trailing blanks", "x:allow \t\n", "x", true},
        TcprulesCase{"carriage return", "x:allow\r\n", "", false},
        TcprulesCase{"unknown verb", "x:permit\n", "", false},
        TcprulesCase{"blank before comma", "x:allow ,A=\"1\"\n", "", false},
        TcprulesCase{"unterminated", "x:allow,A=\"1\n", "", false},
        TcprulesCase{"empty name", "x:allow,=1\n", "", false},
        TcprulesCase{"trailing comma", "x:deny,\n", "", false},
        TcprulesCase{"empty address", ":allow,RELAYCLIENT=\"\"\n", "", true},
        TcprulesCase{"blank in address kept", "x :allow\n", "x ", true},
        TcprulesCase{"no final newline", "x:allow", "x", true}),
    [](const ::testing::TestParamInfo<TcprulesCase>& parameter) {
      std::string name = parameter.param.name;
      for (char& character : name) {
        if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
      }
      return name;
    });

TEST(Tcprules, KeepsLinesVariablesAndData) {
  TcprulesSource source = parse_tcprules_text(
      "/etc/tcp.smtp", "# c\n192.0.2.7:allow,RELAYCLIENT=\"\",X=/a b/\n:deny\n");
  ASSERT_EQ(source.rules.size(), 2U);
  EXPECT_EQ(source.rules[0].line, 2);
  ASSERT_EQ(source.rules[0].variables.size(), 2U);
  EXPECT_EQ(source.rules[0].variables[0].first, "RELAYCLIENT");
  EXPECT_EQ(source.rules[0].variables[0].second, "");
  EXPECT_EQ(source.rules[0].variables[1].second, "a b");
  EXPECT_EQ(source.rules[0].data, std::string("+RELAYCLIENT=\0+X=a b\0", 21));
  EXPECT_TRUE(source.rules[1].deny);
  EXPECT_EQ(source.rules[1].data, std::string("D\0", 2));
  EXPECT_EQ(source.rules[1].keys, std::vector<std::string>{""});
}

TEST(Tcprules, ProblemsNameFileAndLine) {
  TcprulesSource source = parse_tcprules_text("/etc/tcp.smtp", "a:allow\nb:perhaps\n");
  ASSERT_EQ(source.problems.size(), 1U);
  EXPECT_EQ(source.problems[0].line, 2);
  EXPECT_EQ(source.problems[0].message.rfind("/etc/tcp.smtp:2: ", 0), 0U)
      << source.problems[0].message;
}

TEST(Tcprules, DataRoundTrips) {
  bool deny = false;
  std::vector<std::pair<std::string, std::string>> variables;
  ASSERT_TRUE(read_tcprules_data(std::string("D\0+A=1\0", 7), deny, variables));
  EXPECT_TRUE(deny);
  ASSERT_EQ(variables.size(), 1U);
  EXPECT_EQ(variables[0].second, "1");
  EXPECT_FALSE(read_tcprules_data("+A=1", deny, variables));  // no final NUL
}

// Differential: random rule files compiled by the real tcprules must give the
// keys and data our parser predicts, and fail exactly when it says they fail.
TEST(Tcprules, AgreesWithRealTcprules) {
  if (::access("/usr/bin/tcprules", X_OK) != 0) GTEST_SKIP() << "tcprules is not installed";
  testing::TemporaryTree tree;
  std::mt19937 random(20261206);
  const std::vector<std::string> addresses = {
      "",          "=",          "127.",    "1.2.3.4", "1.2.3.4-9", "10.1-2.", "=.ex.com",
      "a@1.2.3.4", "10.0.0.0/8", "1.2.x-3", "9-300.",  " sp",       "1.2.3.4-"};
  const std::vector<std::string> verbs = {
      "allow",  "deny",       "allow,RELAYCLIENT=\"\"", "allow,A=/x/,B='y'", "deny,",
      "allowz", "allow,A=\"q"};
  for (int file = 0; file < 40; ++file) {
    std::string text;
    int lines = 1 + static_cast<int>(random() % 5);
    for (int line = 0; line < lines; ++line) {
      int shape = static_cast<int>(random() % 10);
      if (shape == 0) {
        text += "# comment\n";
      } else if (shape == 1) {
        text += "no colon here\n";
      } else {
        text += addresses[random() % addresses.size()] + ":" + verbs[random() % verbs.size()] +
                (random() % 3 == 0 ? " \t" : "") + "\n";
      }
    }
    tree.write("/rules", text);
    std::string command = "cd " + tree.path() +
                          " && rm -f rules.cdb && /usr/bin/tcprules rules.cdb rules.tmp < rules "
                          "2>/dev/null";
    int status = std::system(command.c_str());
    bool real_compiles = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    TcprulesSource ours = parse_tcprules_text("rules", text);
    ASSERT_EQ(ours.compiles(), real_compiles) << text;
    if (!real_compiles) continue;
    std::string bytes = tree.read("/rules.cdb");
    Expected<std::vector<CdbRecord>> records = read_cdb_records(bytes, "rules.cdb");
    ASSERT_TRUE(records) << records.error().message;
    std::vector<CdbRecord> expected;
    for (const TcpRule& rule : ours.rules) {
      for (const std::string& key : rule.keys) expected.push_back(CdbRecord{key, rule.data});
    }
    ASSERT_EQ(records->size(), expected.size()) << text;
    for (std::size_t index = 0; index < expected.size(); ++index) {
      EXPECT_EQ((*records)[index].key, expected[index].key) << text;
      EXPECT_EQ((*records)[index].data, expected[index].data) << text;
      Expected<std::optional<std::string>> found = cdb_find(bytes, expected[index].key, "x");
      ASSERT_TRUE(found && found->has_value()) << expected[index].key;
    }
  }
}

}  // namespace
}  // namespace qharden
