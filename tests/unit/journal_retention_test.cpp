// Journal retention on real journal folders: the oldest changes go, but never
// one that still decides which fixes are kept, and never one still open.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/journal_retention.h"
#include "engine/kept_changes.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

class JournalRetention : public ::testing::Test {
 protected:
  JournalRetention() : journal_(tree_.path() + "/state") {}

  // A settled change whose entries applied (rule, subject) each.
  std::string applied(const std::vector<std::pair<std::string, std::string>>& subjects) {
    Expected<JournalChange> change = journal_.begin_change("/");
    EXPECT_TRUE(change.has_value());
    for (const auto& [rule, subject] : subjects) {
      JournalEntry entry;
      entry.rule = rule;
      entry.subject = subject;
      entry.state = "applied";
      change->entries.push_back(entry);
    }
    change->status = "applied";
    EXPECT_TRUE(journal_.save(*change).has_value());
    // A backup, as a file change would leave one.
    EXPECT_TRUE(journal_.store_bytes(*change, "backup-0", "original bytes").has_value());
    return change->id;
  }

  void roll_back(const std::string& id, const std::string& after) {
    Expected<JournalChange> change = journal_.load(id);
    ASSERT_TRUE(change.has_value());
    for (JournalEntry& entry : change->entries) entry.state = "rolled-back";
    change->status = "rolled-back";
    change->rolled_back_after = after;
    ASSERT_TRUE(journal_.save(*change).has_value());
  }

  std::vector<std::string> ids() {
    Expected<std::vector<std::string>> listed = journal_.change_ids();
    EXPECT_TRUE(listed.has_value());
    return listed ? *listed : std::vector<std::string>{};
  }

  std::vector<KeptChange> kept() {
    Expected<std::vector<JournalChange>> changes = journal_.list();
    EXPECT_TRUE(changes.has_value());
    return changes ? kept_changes(*changes) : std::vector<KeptChange>{};
  }

  testing::TemporaryTree tree_;
  Journal journal_;
};

TEST_F(JournalRetention, RemovesTheOldestBeyondTheLimitWithTheirBackups) {
  std::vector<std::string> made;
  for (int index = 0; index < 10; ++index) made.push_back(applied({{"tcp-env.flags", "/f"}}));
  std::vector<KeptChange> kept_before = kept();
  Expected<RetentionResult> result = prune_journal(journal_, 4);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->removed, 6u);
  EXPECT_EQ(result->held_back, 0u);
  EXPECT_EQ(ids(), std::vector<std::string>(made.end() - 4, made.end()));
  EXPECT_EQ(kept(), kept_before);
  EXPECT_FALSE(std::filesystem::exists(tree_.path() + "/state/changes/" + made[0]));
  for (const auto& entry : std::filesystem::directory_iterator(tree_.path() + "/state/changes")) {
    EXPECT_NE(entry.path().filename().string().rfind(".pruned-", 0), 0u) << entry.path();
  }
}

TEST_F(JournalRetention, UnderTheLimitOrWithZeroNothingGoes) {
  for (int index = 0; index < 5; ++index) applied({{"tcp-env.flags", "/f"}});
  Expected<RetentionResult> zero = prune_journal(journal_, 0);
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(zero->removed, 0u);
  Expected<RetentionResult> roomy = prune_journal(journal_, 5);
  ASSERT_TRUE(roomy.has_value());
  EXPECT_EQ(roomy->removed, 0u);
  EXPECT_EQ(ids().size(), 5u);
}

TEST_F(JournalRetention, NeverRemovesTheChangeThatKeepsAFix) {
  std::string only_apply_of_sysctl = applied({{"sysctl.tcp-fin-timeout", "/proc/sys/x"}});
  for (int index = 0; index < 9; ++index) applied({{"tcp-env.flags", "/f"}});
  std::vector<KeptChange> kept_before = kept();
  Expected<RetentionResult> result = prune_journal(journal_, 3);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->removed, 6u);
  EXPECT_EQ(result->held_back, 1u);
  std::vector<std::string> left = ids();
  ASSERT_EQ(left.size(), 4u);
  EXPECT_EQ(left.front(), only_apply_of_sysctl);
  EXPECT_EQ(kept(), kept_before);
}

TEST_F(JournalRetention, KeepsARollbackThatStillOptsAFixOut) {
  // The first apply is rolled back after the second applied the same
  // subject: that rollback opts the subject out, so without the first change
  // the second's apply would keep it.
  std::string first = applied({{"tcp-env.flags", "/f"}});
  std::string second = applied({{"tcp-env.flags", "/f"}});
  std::string third = applied({{"tcpserver.flags", "/service/smtpd/run"}});
  roll_back(first, third);
  std::vector<KeptChange> kept_before = kept();
  ASSERT_EQ(kept_before.size(), 1u);
  Expected<RetentionResult> result = prune_journal(journal_, 2);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->removed, 0u);
  EXPECT_EQ(result->held_back, 1u);
  EXPECT_EQ(kept(), kept_before);
  // With room to remove both, they go together and nothing kept changes.
  Expected<RetentionResult> both = prune_journal(journal_, 1);
  ASSERT_TRUE(both.has_value()) << both.error().message;
  EXPECT_EQ(both->removed, 2u);
  EXPECT_EQ(ids(), std::vector<std::string>{third});
  EXPECT_EQ(kept(), kept_before);
}

TEST_F(JournalRetention, LeavesAnOpenChangeAlone) {
  Expected<JournalChange> open = journal_.begin_change("/");  // in progress, marked open
  ASSERT_TRUE(open.has_value());
  for (int index = 0; index < 4; ++index) applied({{"tcp-env.flags", "/f"}});
  Expected<RetentionResult> result = prune_journal(journal_, 2);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->held_back, 1u);
  EXPECT_EQ(result->removed, 2u);
  EXPECT_EQ(ids().front(), open->id);
}

TEST_F(JournalRetention, IdsKeepTheirOrderAfterOlderChangesAreRemoved) {
  for (int index = 0; index < 6; ++index) applied({{"tcp-env.flags", "/f"}});
  ASSERT_TRUE(prune_journal(journal_, 2).has_value());
  std::string newest_before = ids().back();
  std::string next = applied({{"tcp-env.flags", "/f"}});
  EXPECT_GT(next, newest_before);
  EXPECT_EQ(ids().back(), next);
  EXPECT_EQ(kept().front().change_id, next);
}

TEST_F(JournalRetention, FinishesWhatAKilledRunLeftAndNeverFollowsASymlink) {
  applied({{"tcp-env.flags", "/f"}});
  std::string changes = tree_.path() + "/state/changes";
  std::filesystem::create_directories(changes + "/.pruned-20261201T100001Z-0001");
  std::ofstream(changes + "/.pruned-20261201T100001Z-0001/manifest.json") << "{}";
  // Planted where a removal happens: must go as a link, not as its target.
  std::filesystem::create_directories(tree_.path() + "/elsewhere");
  std::ofstream(tree_.path() + "/elsewhere/precious") << "keep me";
  std::filesystem::create_directory_symlink(tree_.path() + "/elsewhere",
                                            changes + "/.pruned-20261201T100002Z-0002");
  Expected<RetentionResult> result = prune_journal(journal_, 10);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_FALSE(std::filesystem::exists(changes + "/.pruned-20261201T100001Z-0001"));
  EXPECT_FALSE(std::filesystem::is_symlink(changes + "/.pruned-20261201T100002Z-0002"));
  EXPECT_TRUE(std::filesystem::exists(tree_.path() + "/elsewhere/precious"));
  EXPECT_EQ(ids().size(), 1u);
}

TEST_F(JournalRetention, AnUnreadableManifestIsAnErrorNamingIt) {
  for (int index = 0; index < 3; ++index) applied({{"tcp-env.flags", "/f"}});
  std::string broken = ids().front();
  std::ofstream(tree_.path() + "/state/changes/" + broken + "/manifest.json", std::ios::trunc)
      << "{ truncated";
  Expected<RetentionResult> result = prune_journal(journal_, 1);
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find(broken), std::string::npos) << result.error().message;
  EXPECT_EQ(ids().size(), 3u);
}

}  // namespace
}  // namespace qharden
