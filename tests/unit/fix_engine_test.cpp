// apply / rollback / history through the engine, with small rules of the
// test's own over a temporary tree: the contract, independent of any real rule.
#include <gtest/gtest.h>

#include "config/config.h"
#include "engine/context.h"
#include "engine/fix.h"
#include "journal/lock.h"
#include "journal/sha256.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

using testing::TemporaryTree;

// Passes when /etc/demo.conf says "good"; its fix writes `fix_content`.
class DemoRule final : public Rule {
 public:
  explicit DemoRule(std::string fix_content) : fix_content_(std::move(fix_content)) {
    info_.id = "demo.rule";
    info_.severity = Severity::critical;
    info_.can_fix = true;
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext& context) const override {
    Expected<std::string> content = context.host.read_file("/etc/demo.conf");
    Finding finding = make_finding(info_, "/etc/demo.conf", Status::pass, "good");
    if (!content || content->find("good") == std::string::npos) {
      finding.status = Status::fail;
      finding.fixable = true;
    }
    return {finding};
  }
  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>&) const override {
    Expected<std::string> content = context.host.read_file("/etc/demo.conf");
    if (!content) return Unexpected(content.error());
    return std::vector<PlannedChange>{{"demo.rule", "/etc/demo.conf", "rewrite",
                                       FileReplacement{"/etc/demo.conf", *content, fix_content_}}};
  }

 private:
  RuleInfo info_;
  std::string fix_content_;
};

struct Fixture {
  TemporaryTree tree;
  Config config = *load_builtin_config();
  RootedHost host = *RootedHost::open(tree.path());
  Fixture() { config.paths.lock_wait_s = 0; }
  FixSelection select(const Rule& rule) { return FixSelection{{&rule}, true, true}; }
};

TEST(FixEngine, ApplyThenSecondApplyChangesNothingThenRollbackRestoresBytesAndMode) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "# keep me\nbad\n", 0600);
  DemoRule rule("# keep me\ngood\n");
  Expected<ApplyResult> first = apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->all_succeeded);
  ASSERT_FALSE(first->change_id.empty());
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "# keep me\ngood\n");

  Expected<ApplyResult> second =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->change_id.empty());
  EXPECT_TRUE(second->all_succeeded);

  Expected<RollbackResult> rolled = rollback_change(fixture.host, fixture.config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_EQ(rolled->change_id, first->change_id);
  EXPECT_EQ(sha256_hex(fixture.tree.read("/etc/demo.conf")), sha256_hex("# keep me\nbad\n"));
  struct stat details {};
  ASSERT_EQ(::stat(fixture.tree.real("/etc/demo.conf").c_str(), &details), 0);
  EXPECT_EQ(details.st_mode & 07777, 0600u);

  Expected<std::vector<JournalChange>> history = change_history(fixture.host, fixture.config);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ(history->front().status, "rolled-back");
  EXPECT_FALSE(rollback_change(fixture.host, fixture.config, first->change_id, false));
}

TEST(FixEngine, RollbackRefusesAFileRewrittenSinceTheFixUnlessForced) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n");
  DemoRule rule("good\n");
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied && applied->all_succeeded);
  fixture.tree.write("/etc/demo.conf", "plesk regenerated\n");

  Expected<RollbackResult> refused =
      rollback_change(fixture.host, fixture.config, applied->change_id, false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("changed since qharden wrote it"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "plesk regenerated\n");

  Expected<RollbackResult> forced =
      rollback_change(fixture.host, fixture.config, applied->change_id, true);
  ASSERT_TRUE(forced) << forced.error().message;
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "bad\n");
  // Nothing is lost: the overwritten content is kept in the journal.
  std::string change_folder = fixture.tree.real("/var/lib/qharden/changes/" + applied->change_id);
  std::string kept = TemporaryTree::listing_of(change_folder);
  EXPECT_NE(kept.find("overwritten-"), std::string::npos) << kept;
}

TEST(FixEngine, AFixThatDoesNotPassIsRolledBackAndReported) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n");
  DemoRule rule("still bad\n");
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied);
  EXPECT_FALSE(applied->all_succeeded);
  ASSERT_EQ(applied->outcomes.size(), 1u);
  EXPECT_EQ(applied->outcomes[0].outcome.rfind("failed: rolled back", 0), 0u)
      << applied->outcomes[0].outcome;
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "bad\n");
}

TEST(FixEngine, ASymlinkTargetIsRefusedAndNothingIsWritten) {
  Fixture fixture;
  fixture.tree.write("/etc/elsewhere.conf", "bad\n");
  fixture.tree.symlink("elsewhere.conf", "/etc/demo.conf");
  DemoRule rule("good\n");
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied);
  EXPECT_FALSE(applied->all_succeeded);
  ASSERT_EQ(applied->outcomes.size(), 1u);
  EXPECT_NE(applied->outcomes[0].outcome.find("refused: /etc/demo.conf: is a symlink"),
            std::string::npos)
      << applied->outcomes[0].outcome;
  EXPECT_EQ(fixture.tree.read("/etc/elsewhere.conf"), "bad\n");
}

TEST(FixEngine, ASecondWriterWaitsForTheLockAndGivesUp) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n");
  Expected<StateLock> held = StateLock::acquire(state_directory(fixture.host, fixture.config), 0);
  ASSERT_TRUE(held);
  DemoRule rule("good\n");
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_FALSE(applied);
  EXPECT_NE(applied.error().message.find("another qharden"), std::string::npos);
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "bad\n");
}

TEST(FixEngine, RollbackRejectsChangeIdsThatCouldNameAPath) {
  Fixture fixture;
  Expected<RollbackResult> rolled =
      rollback_change(fixture.host, fixture.config, "../../etc", false);
  ASSERT_FALSE(rolled);
  EXPECT_NE(rolled.error().message.find("not a change id"), std::string::npos);
}

}  // namespace
}  // namespace qharden
