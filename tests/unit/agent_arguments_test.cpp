// What the agent answers with InvalidArgs: the message names the argument.
#include <gtest/gtest.h>

#include "../../agent/daemon/arguments.h"

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

}  // namespace
}  // namespace qharden::agent
