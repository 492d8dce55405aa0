#include <gtest/gtest.h>

#include <cctype>

#include "parsers/resolv_conf.h"

namespace qharden {
namespace {

std::string test_name(std::string name) {
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items) text += (text.empty() ? "" : " ") + item;
  return text;
}

struct ParseCase {
  const char* name;
  const char* text;
  const char* nameservers;  // canonical addresses
  int timeout;
  int attempts;
  const char* problem_lines;  // "3 5"
  const char* search = "";
};

class ResolvConfParse : public testing::TestWithParam<ParseCase> {};

TEST_P(ResolvConfParse, ReadsLikeGlibc) {
  const ParseCase& test_case = GetParam();
  ResolvConf conf = parse_resolv_conf(test_case.text);
  std::vector<std::string> addresses;
  for (const ResolvNameserver& nameserver : conf.nameservers)
    addresses.push_back(nameserver.address);
  EXPECT_EQ(join(addresses), test_case.nameservers);
  EXPECT_EQ(conf.timeout_seconds, test_case.timeout);
  EXPECT_EQ(conf.attempts, test_case.attempts);
  std::vector<std::string> lines;
  for (const ResolvProblem& problem : conf.problems) lines.push_back(std::to_string(problem.line));
  EXPECT_EQ(join(lines), test_case.problem_lines);
  EXPECT_EQ(join(conf.search), test_case.search);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ResolvConfParse,
    testing::Values(
        ParseCase{"defaults", "nameserver 192.0.2.1\n", "192.0.2.1", 5, 2, ""},
        ParseCase{"empty file", "", "", 5, 2, ""},
        ParseCase{"comments", "# a\n; b\n\n   \nnameserver 192.0.2.1 # trailing\n", "192.0.2.1", 5,
                  2, ""},
        ParseCase{"tab after keyword", "nameserver\t192.0.2.1\n", "192.0.2.1", 5, 2, ""},
        ParseCase{"ipv6 and scope", "nameserver 2001:DB8::1\nnameserver fe80::1%eth0\n",
                  "2001:db8::1 fe80::1%eth0", 5, 2, ""},
        ParseCase{"options", "options timeout:1 attempts:3 rotate ndots:2 edns0\n", "", 1, 3, ""},
        ParseCase{"options capped", "options timeout:99 attempts:9\n", "", 30, 5, ""},
        ParseCase{"options last wins", "options timeout:1\noptions timeout:3\n", "", 3, 2, ""},
        ParseCase{"option not a number", "options timeout:x\n", "", 0, 2, "1"},
        ParseCase{"unknown option", "options timout:1\n", "", 5, 2, "1"},
        ParseCase{"leading blank", "  nameserver 192.0.2.1\n", "", 5, 2, "1"},
        ParseCase{"hostname", "nameserver dns.example.org\n", "", 5, 2, "1"},
        ParseCase{"unknown keyword", "nameservers 192.0.2.1\nlookup file bind\n", "", 5, 2, "1 2"},
        ParseCase{"keyword without value", "nameserver\nsearch  \n", "", 5, 2, "1 2"},
        ParseCase{"carriage return", "nameserver 192.0.2.1\r\n", "", 5, 2, "1"},
        ParseCase{"short form", "nameserver 127.1\n", "127.0.0.1", 5, 2, "1"},
        ParseCase{"search then domain", "search a.example b.example\ndomain c.example\n", "", 5, 2,
                  "", "c.example"},
        ParseCase{"domain then search", "domain c.example\nsearch a.example b.example\n", "", 5, 2,
                  "", "a.example b.example"},
        ParseCase{"no final newline", "nameserver 192.0.2.9", "192.0.2.9", 5, 2, ""}),
    [](const testing::TestParamInfo<ParseCase>& parameter) {
      return test_name(parameter.param.name);
    });

TEST(ResolvConf, ProblemsSayWhatGlibcDoes) {
  ResolvConf conf = parse_resolv_conf("nameserver 192.0.2.1\r\n  nameserver 192.0.2.2\n");
  ASSERT_EQ(conf.problems.size(), 2u);
  EXPECT_NE(conf.problems[0].message.find("\\r"), std::string::npos) << conf.problems[0].message;
  EXPECT_NE(conf.problems[0].message.find("djbdns"), std::string::npos);
  EXPECT_NE(conf.problems[1].message.find("glibc ignores"), std::string::npos);
}

TEST(ResolvConf, GlibcUsesTheFirstThreeOrLoopback) {
  ResolvConf four = parse_resolv_conf(
      "nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver ::1\nnameserver 192.0.2.4\n");
  EXPECT_EQ(join(glibc_nameservers(four)), "192.0.2.1 192.0.2.2 ::1");
  EXPECT_EQ(join(glibc_nameservers(parse_resolv_conf("search x\n"))), "127.0.0.1");
}

struct DjbdnsCase {
  const char* name;
  const char* text;
  const char* servers;
};

class ResolvConfDjbdns : public testing::TestWithParam<DjbdnsCase> {};

TEST_P(ResolvConfDjbdns, ReadsLikeDjbdns) {
  EXPECT_EQ(join(djbdns_nameservers(GetParam().text)), GetParam().servers);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ResolvConfDjbdns,
    testing::Values(
        DjbdnsCase{"ipv4 lines only", "nameserver 192.0.2.1\nnameserver ::1\n", "192.0.2.1"},
        DjbdnsCase{"none means loopback", "search x\n", "127.0.0.1"},
        DjbdnsCase{"zeros mean loopback", "nameserver\t0.0.0.0\n", "127.0.0.1"},
        DjbdnsCase{"leading blank skipped", " nameserver 192.0.2.1\n", "127.0.0.1"},
        DjbdnsCase{"prefix is enough", "nameserver 192.0.2.1%junk\r\n", "192.0.2.1"},
        DjbdnsCase{"options ignored", "options timeout:1\nnameserver 192.0.2.3\n", "192.0.2.3"},
        DjbdnsCase{"decimal modulo 256", "nameserver 010.0.0.300\n", "10.0.0.44"},
        DjbdnsCase{"short form skipped", "nameserver 127.1\n", "127.0.0.1"}),
    [](const testing::TestParamInfo<DjbdnsCase>& parameter) {
      return test_name(parameter.param.name);
    });

TEST(ResolvConfDjbdnsLimits, SixteenServersAtMost) {
  std::string text;
  for (int index = 1; index <= 20; ++index)
    text += "nameserver 192.0.2." + std::to_string(index) + "\n";
  EXPECT_EQ(djbdns_nameservers(text).size(), 16u);
}

TEST(ResolvConfDjbdnsLimits, Dnscacheip) {
  EXPECT_EQ(join(djbdns_nameservers_from_dnscacheip("10.0.0.1")), "10.0.0.1");
  EXPECT_EQ(join(djbdns_nameservers_from_dnscacheip("10.0.0.1.10.0.0.2")), "10.0.0.1 10.0.0.2");
  EXPECT_EQ(join(djbdns_nameservers_from_dnscacheip("10.0.0.1 10.0.0.2")), "10.0.0.1");
  EXPECT_EQ(join(djbdns_nameservers_from_dnscacheip("")), "");
  EXPECT_EQ(join(djbdns_nameservers_from_dnscacheip("::1")), "");
}

struct StallCase {
  int timeout;
  int attempts;
  int servers;
  int glibc_seconds;
};

class ResolvConfStall : public testing::TestWithParam<StallCase> {};

TEST_P(ResolvConfStall, GlibcWorstCase) {
  const StallCase& test_case = GetParam();
  EXPECT_EQ(glibc_worst_case_seconds(test_case.timeout, test_case.attempts, test_case.servers),
            test_case.glibc_seconds);
}

// The notes' figures for the defaults (10, 20, 28 s), the policy options, caps.
INSTANTIATE_TEST_SUITE_P(Table, ResolvConfStall,
                         testing::Values(StallCase{5, 2, 1, 10}, StallCase{5, 2, 2, 20},
                                         StallCase{5, 2, 3, 28}, StallCase{5, 2, 7, 28},
                                         StallCase{5, 2, 0, 10}, StallCase{1, 2, 1, 2},
                                         StallCase{1, 2, 3, 6}, StallCase{2, 1, 3, 5},
                                         StallCase{0, 2, 1, 2}, StallCase{30, 5, 3, 450},
                                         StallCase{5, 0, 3, 0}));

TEST(ResolvConfStallDjbdns, FiftyNineSecondsPerSilentServer) {
  EXPECT_EQ(djbdns_worst_case_seconds(0), 59);
  EXPECT_EQ(djbdns_worst_case_seconds(1), 59);
  EXPECT_EQ(djbdns_worst_case_seconds(3), 177);
  EXPECT_EQ(djbdns_worst_case_seconds(40), 944);
}

}  // namespace
}  // namespace qharden
