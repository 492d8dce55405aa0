// What the agent answers with InvalidArgs: the message names the argument; and
// the strings it sends are valid UTF-8.
#include <sstream>

#include <gtest/gtest.h>

#include "../../agent/daemon/arguments.h"
#include "../../agent/daemon/bus_text.h"
#include "engine/report.h"

namespace qharden::agent {
namespace {

TEST(AgentArguments, KnownRuleIdsAndAnEmptyListAreAccepted) {
  EXPECT_EQ(invalid_rule_ids({}), std::nullopt);
  EXPECT_EQ(invalid_rule_ids({"tcp-env.flags", "sockets.stuck"}), std::nullopt);
}

TEST(AgentArguments, AnUnknownRuleIdIsNamed) {
  std::optional<std::string> problem = invalid_rule_ids({"tcp-env.flags", "no.such-rule"});
  ASSERT_TRUE(problem.has_value());
  EXPECT_NE(problem->find("rules:"), std::string::npos);
  EXPECT_NE(problem->find("no.such-rule"), std::string::npos);
}

TEST(AgentArguments, SixtyFiveRulesAreTooMany) {
  std::vector<std::string> sixty_four(64, "tcp-env.flags");
  EXPECT_EQ(invalid_rule_ids(sixty_four), std::nullopt);
  sixty_four.emplace_back("tcp-env.flags");
  std::optional<std::string> problem = invalid_rule_ids(sixty_four);
  ASSERT_TRUE(problem.has_value());
  EXPECT_NE(problem->find("at most 64"), std::string::npos);
}

TEST(AgentArguments, AnIdOverTwoHundredFiftySixBytesIsRefusedBeforeLookup) {
  std::optional<std::string> problem = invalid_rule_ids({std::string(257, 'a')});
  ASSERT_TRUE(problem.has_value());
  EXPECT_NE(problem->find("257 bytes"), std::string::npos);
}

TEST(AgentArguments, ChangeIdsAreCheckedForForm) {
  EXPECT_EQ(invalid_change_id(""), std::nullopt);  // "" means the last change
  EXPECT_EQ(invalid_change_id("20261125T150102Z-3f9a"), std::nullopt);
  std::optional<std::string> traversal = invalid_change_id("../../etc");
  ASSERT_TRUE(traversal.has_value());
  EXPECT_NE(traversal->find("change_id:"), std::string::npos);
  std::optional<std::string> too_long = invalid_change_id(std::string(300, '1'));
  ASSERT_TRUE(too_long.has_value());
  EXPECT_NE(too_long->find("300 bytes"), std::string::npos);
}

// sd-bus refuses a whole reply over one string that is not UTF-8.
TEST(AgentBusText, InvalidSequencesBecomeTheReplacementCharacter) {
  EXPECT_EQ(bus_text("/etc/xinetd.d/smtp_psa"), "/etc/xinetd.d/smtp_psa");
  EXPECT_EQ(bus_text("Gr\xc3\xbc\xc3\x9f"
                     "e \xe2\x82\xac"),
            "Gr\xc3\xbc\xc3\x9f"
            "e \xe2\x82\xac");
  EXPECT_EQ(bus_text("/etc/xinetd.d/smtp_\xe9x"), "/etc/xinetd.d/smtp_\xef\xbf\xbdx");
  EXPECT_EQ(bus_text("cut \xc3"), "cut \xef\xbf\xbd");
  EXPECT_TRUE(is_valid_utf8(bus_text("\xff\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80")));
}

// The bus shows a name as GetReport's JSON does.
TEST(AgentBusText, CleansAsGetReportDoes) {
  Finding finding;
  finding.rule = "tcp-env.flags";
  finding.subject = "/etc/xinetd.d/smtp_\xe9\xc3x\xf0\x9f:smtp";
  finding.message = "r\xe9glages";
  AuditResult result;
  result.findings.push_back(finding);
  std::ostringstream report;
  write_report_json(report, ReportHeader{"0.2.0", "mx.example", "/", false}, std::move(result), -1);
  nlohmann::json parsed = nlohmann::json::parse(report.str());
  EXPECT_EQ(parsed["findings"][0]["subject"], bus_text(finding.subject));
  EXPECT_EQ(parsed["findings"][0]["message"], bus_text(finding.message));
}

}  // namespace
}  // namespace qharden::agent
