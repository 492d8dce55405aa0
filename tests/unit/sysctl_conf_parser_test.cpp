#include <gtest/gtest.h>

#include <cctype>
#include <ostream>
#include <string>
#include <vector>

#include "parsers/sysctl_conf.h"

namespace qharden {
namespace {

using namespace std::string_literals;

struct ExpectedAssignment {
  std::string key;
  std::string value;
  int line;
  bool ignore_failure;
  bool has_value;
  bool is_glob;
};

struct ParserCase {
  const char* name;
  std::string text;
  std::vector<ExpectedAssignment> assignments;
  std::vector<int> malformed_lines;
};

// gtest shows this instead of the parameter's bytes.
void PrintTo(const ParserCase& test_case, std::ostream* out) {
  *out << test_case.name;
}

std::string test_name(const std::string& raw) {
  std::string name = raw;
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

class SysctlConfParser : public testing::TestWithParam<ParserCase> {};

TEST_P(SysctlConfParser, ParsesAssignmentsAndReportsMalformedLines) {
  const ParserCase& test_case = GetParam();
  SysctlConfFile file = parse_sysctl_conf("/etc/sysctl.d/10-test.conf", test_case.text);
  EXPECT_EQ(file.file_name, "/etc/sysctl.d/10-test.conf");
  ASSERT_EQ(file.assignments.size(), test_case.assignments.size());
  for (std::size_t index = 0; index < file.assignments.size(); ++index) {
    const SysctlAssignment& actual = file.assignments[index];
    const ExpectedAssignment& expected = test_case.assignments[index];
    EXPECT_EQ(actual.key, expected.key) << index;
    EXPECT_EQ(actual.value, expected.value) << index;
    EXPECT_EQ(actual.line, expected.line) << index;
    EXPECT_EQ(actual.ignore_failure, expected.ignore_failure) << index;
    EXPECT_EQ(actual.has_value, expected.has_value) << index;
    EXPECT_EQ(actual.is_glob, expected.is_glob) << index;
  }
  std::vector<int> malformed_lines;
  for (const SysctlMalformedLine& malformed : file.malformed) {
    malformed_lines.push_back(malformed.line);
    std::string prefix = "/etc/sysctl.d/10-test.conf:" + std::to_string(malformed.line) + ": ";
    EXPECT_EQ(malformed.message.rfind(prefix, 0), 0u) << malformed.message;
  }
  EXPECT_EQ(malformed_lines, test_case.malformed_lines);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SysctlConfParser,
    testing::Values(
        ParserCase{"plain",
                   "net.ipv4.tcp_fin_timeout = 30\n",
                   {{"net.ipv4.tcp_fin_timeout", "30", 1, false, true, false}},
                   {}},
        ParserCase{"no spaces, no final newline",
                   "net.ipv4.tcp_fin_timeout=30",
                   {{"net.ipv4.tcp_fin_timeout", "30", 1, false, true, false}},
                   {}},
        ParserCase{"comments and blanks",
                   "# hash\n; semicolon\n\n   \n  # indented\nkernel.panic = 10\n",
                   {{"kernel.panic", "10", 6, false, true, false}},
                   {}},
        ParserCase{"tabs and carriage returns",
                   "\tnet.ipv4.tcp_fin_timeout\t=\t30  \r\n",
                   {{"net.ipv4.tcp_fin_timeout", "30", 1, false, true, false}},
                   {}},
        ParserCase{"slash key",
                   "net/ipv4/tcp_fin_timeout = 25\n",
                   {{"net.ipv4.tcp_fin_timeout", "25", 1, false, true, false}},
                   {}},
        ParserCase{"slash key with a literal dot",
                   "net/ipv4/conf/eth0.100/rp_filter = 1\nnet.ipv4.conf.eth0/100.rp_filter = 2\n",
                   {{"net.ipv4.conf.eth0/100.rp_filter", "1", 1, false, true, false},
                    {"net.ipv4.conf.eth0/100.rp_filter", "2", 2, false, true, false}},
                   {}},
        ParserCase{"leading minus ignores failure",
                   "-net.ipv4.tcp_fin_timeout = 30\n",
                   {{"net.ipv4.tcp_fin_timeout", "30", 1, true, true, false}},
                   {}},
        ParserCase{"minus without value is an exclusion",
                   "-net.ipv4.conf.lo.rp_filter\n",
                   {{"net.ipv4.conf.lo.rp_filter", "", 1, true, false, false}},
                   {}},
        ParserCase{"glob key",
                   "net.ipv4.conf.*.rp_filter = 2\n",
                   {{"net.ipv4.conf.*.rp_filter", "2", 1, false, true, true}},
                   {}},
        ParserCase{"value keeps inner blanks and equals",
                   "net.ipv4.tcp_rmem = 4096 87380 6291456\nkernel.x = a=b\n",
                   {{"net.ipv4.tcp_rmem", "4096 87380 6291456", 1, false, true, false},
                    {"kernel.x", "a=b", 2, false, true, false}},
                   {}},
        ParserCase{"inline hash is part of the value",
                   "net.ipv4.tcp_fin_timeout = 30 # short\n",
                   {{"net.ipv4.tcp_fin_timeout", "30 # short", 1, false, true, false}},
                   {}},
        ParserCase{"empty value",
                   "net.ipv4.tcp_fin_timeout =\n",
                   {{"net.ipv4.tcp_fin_timeout", "", 1, false, true, false}},
                   {}},
        ParserCase{"no equals sign",
                   "net.ipv4.tcp_fin_timeout 30\nkernel.panic = 1\n",
                   {{"kernel.panic", "1", 2, false, true, false}},
                   {1}},
        ParserCase{"empty key", "= 30\n - = 1\n", {}, {1, 2}},
        ParserCase{"repeated separators collapse",
                   "net..ipv4./tcp_fin_timeout. = 5\n",
                   {{"net.ipv4./tcp_fin_timeout", "5", 1, false, true, false}},
                   {}},
        ParserCase{"NUL bytes",
                   "a.b = 1\n\0\x01junk\nc.d = 2\n"s,
                   {{"a.b", "1", 1, false, true, false}, {"c.d", "2", 3, false, true, false}},
                   {2}},
        ParserCase{"over-long line",
                   std::string(kMaximumSysctlLineBytes + 1, 'x') + "=1\nkernel.panic = 1\n",
                   {{"kernel.panic", "1", 2, false, true, false}},
                   {1}},
        ParserCase{"empty file", "", {}, {}}),
    [](const testing::TestParamInfo<ParserCase>& parameter) {
      return test_name(parameter.param.name);
    });

struct NormalizeCase {
  const char* input;
  const char* dotted;
  const char* proc_path;
};

// gtest shows this instead of the parameter's bytes.
void PrintTo(const NormalizeCase& test_case, std::ostream* out) {
  *out << test_case.input;
}

class SysctlKeyNormalization : public testing::TestWithParam<NormalizeCase> {};

TEST_P(SysctlKeyNormalization, DottedFormAndProcPath) {
  const NormalizeCase& test_case = GetParam();
  EXPECT_EQ(normalize_sysctl_key(test_case.input), test_case.dotted);
  EXPECT_EQ(sysctl_key_to_proc_path(normalize_sysctl_key(test_case.input)), test_case.proc_path);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SysctlKeyNormalization,
    testing::Values(NormalizeCase{"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_fin_timeout",
                                  "net/ipv4/tcp_fin_timeout"},
                    NormalizeCase{"net/ipv4/tcp_fin_timeout", "net.ipv4.tcp_fin_timeout",
                                  "net/ipv4/tcp_fin_timeout"},
                    NormalizeCase{"/net/ipv4/tcp_fin_timeout/", "net.ipv4.tcp_fin_timeout",
                                  "net/ipv4/tcp_fin_timeout"},
                    NormalizeCase{"net/ipv4/conf/eth0.100/rp_filter",
                                  "net.ipv4.conf.eth0/100.rp_filter",
                                  "net/ipv4/conf/eth0.100/rp_filter"},
                    NormalizeCase{"kernel", "kernel", "kernel"}, NormalizeCase{"...", "", ""}));

TEST(SysctlConfParserMessages, MalformedLineIsEscapedAndShortened) {
  std::string line = "\x01" + std::string(200, 'k');
  SysctlConfFile file = parse_sysctl_conf("/etc/sysctl.conf", line + "\n");
  ASSERT_EQ(file.malformed.size(), 1u);
  EXPECT_EQ(file.malformed[0].text, "\\x01" + std::string(79, 'k') + "...");
  EXPECT_EQ(file.malformed[0].message,
            "/etc/sysctl.conf:1: not an assignment (no '='), ignored: " + file.malformed[0].text);
}

}  // namespace
}  // namespace qharden
