// apply / rollback / history through the engine, with small rules of the
// test's own over a temporary tree: the contract, independent of any real rule.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "config/config.h"
#include "engine/change_steps.h"
#include "engine/context.h"
#include "engine/fix.h"
#include "engine/kept_changes.h"
#include "journal/lock.h"
#include "journal/sha256.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

using testing::TemporaryTree;

// Passes when its file (/etc/demo.conf unless named) says "good"; its fix
// writes `fix_content`.
class DemoRule final : public Rule {
 public:
  explicit DemoRule(std::string fix_content, std::string path = "/etc/demo.conf")
      : fix_content_(std::move(fix_content)), path_(std::move(path)) {
    info_.id = "demo.rule";
    info_.severity = Severity::critical;
    info_.can_fix = true;
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext& context) const override {
    Expected<std::string> content = context.host.read_file(path_);
    Finding finding = make_finding(info_, path_, Status::pass, "good");
    if (!content || content->find("good") == std::string::npos) {
      finding.status = Status::fail;
      finding.fixable = true;
    }
    return {finding};
  }
  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>&) const override {
    Expected<std::string> content = context.host.read_file(path_);
    if (!content) return Unexpected(content.error());
    return std::vector<PlannedChange>{
        {"demo.rule", path_, "rewrite", FileReplacement{path_, *content, fix_content_}}};
  }

 private:
  RuleInfo info_;
  std::string fix_content_;
  std::string path_;
};

// Passes when the tree's runtime keepalive time is 900; its fix writes 900.
class DemoSysctlRule final : public Rule {
 public:
  DemoSysctlRule() {
    info_.id = "demo.sysctl";
    info_.severity = Severity::warning;
    info_.can_fix = true;
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext& context) const override {
    Expected<std::string> value = context.host.read_runtime_sysctl(kKey);
    Finding finding = make_finding(info_, kKey, Status::pass, "900");
    if (!value || *value != "900") {
      finding.status = Status::fail;
      finding.fixable = true;
    }
    return {finding};
  }
  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>&) const override {
    Expected<std::string> value = context.host.read_runtime_sysctl(kKey);
    if (!value) return Unexpected(value.error());
    return std::vector<PlannedChange>{
        {"demo.sysctl", kKey, "set the keepalive time", SysctlWrite{kKey, *value, "900"}}};
  }
  static constexpr const char* kKey = "net/ipv4/tcp_keepalive_time";

 private:
  RuleInfo info_;
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

// The file qharden changed is gone since, or its whole folder is (a package
// purge took /etc/xinetd.d): a plain rollback refuses by name, and --force
// puts the backup back, making the folder again, with the file's mode.
TEST(FixEngine, ForcedRollbackRestoresAFileWhoseFileOrFolderWasRemoved) {
  struct Case {
    const char* what;
    bool remove_folder;
  };
  for (const Case& removal : {Case{"the file", false}, Case{"its folder", true}}) {
    SCOPED_TRACE(removal.what);
    Fixture fixture;
    fixture.tree.write("/etc/demo.d/demo.conf", "bad\n", 0640);
    DemoRule rule("good\n", "/etc/demo.d/demo.conf");
    Expected<ApplyResult> applied =
        apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
    ASSERT_TRUE(applied && applied->all_succeeded);
    std::filesystem::remove_all(
        fixture.tree.real(removal.remove_folder ? "/etc/demo.d" : "/etc/demo.d/demo.conf"));

    Expected<RollbackResult> refused =
        rollback_change(fixture.host, fixture.config, applied->change_id, false);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("/etc/demo.d/demo.conf: removed since the change"),
              std::string::npos)
        << refused.error().message;
    EXPECT_FALSE(std::filesystem::exists(fixture.tree.real("/etc/demo.d/demo.conf")));

    Expected<RollbackResult> forced =
        rollback_change(fixture.host, fixture.config, applied->change_id, true);
    ASSERT_TRUE(forced) << forced.error().message;
    EXPECT_EQ(fixture.tree.read("/etc/demo.d/demo.conf"), "bad\n");
    struct stat details {};
    ASSERT_EQ(::stat(fixture.tree.real("/etc/demo.d/demo.conf").c_str(), &details), 0);
    EXPECT_EQ(details.st_mode & 07777, 0640u);
    ASSERT_EQ(::stat(fixture.tree.real("/etc/demo.d").c_str(), &details), 0);
    EXPECT_TRUE(S_ISDIR(details.st_mode));
    EXPECT_EQ(details.st_mode & 07777, 0755u);
    Expected<std::vector<JournalChange>> history = change_history(fixture.host, fixture.config);
    ASSERT_TRUE(history && !history->empty());
    EXPECT_EQ(history->front().status, "rolled-back");
  }
}

// A --root tree's /proc/sys holds plain files: a shorter value replaces the
// old one whole ("900" over "10800"), and rollback puts the old one back.
TEST(FixEngine, ASysctlWriteUnderRootReplacesTheWholeValue) {
  Fixture fixture;
  fixture.tree.write("/proc/sys/net/ipv4/tcp_keepalive_time", "10800\n");
  DemoSysctlRule rule;
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_TRUE(applied->all_succeeded);
  EXPECT_EQ(fixture.tree.read("/proc/sys/net/ipv4/tcp_keepalive_time"), "900\n");
  Expected<RollbackResult> rolled = rollback_change(fixture.host, fixture.config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_EQ(fixture.tree.read("/proc/sys/net/ipv4/tcp_keepalive_time"), "10800\n");
}

// What the journal says while the fix is verified: a run killed there is
// settled as interrupted, and its rollback reloads what the manifest names.
class ManifestWatchingRule final : public Rule {
 public:
  explicit ManifestWatchingRule(const TemporaryTree& tree) : tree_(tree) {
    info_.id = "demo.watching";
    info_.severity = Severity::critical;
    info_.can_fix = true;
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext& context) const override {
    seen_manifests.clear();
    std::error_code error;
    for (const auto& folder :
         std::filesystem::directory_iterator(tree_.real("/var/lib/qharden/changes"), error)) {
      std::ifstream manifest(folder.path() / "manifest.json");
      seen_manifests.append(std::istreambuf_iterator<char>(manifest), {});
    }
    Expected<std::string> content = context.host.read_file("/etc/xinetd.conf");
    bool good = content && content->find("good") != std::string::npos;
    Finding finding = make_finding(info_, "/etc/xinetd.conf", good ? Status::pass : Status::fail,
                                   good ? "good" : "bad");
    finding.fixable = !good;
    return {finding};
  }
  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>&) const override {
    Expected<std::string> content = context.host.read_file("/etc/xinetd.conf");
    if (!content) return Unexpected(content.error());
    return std::vector<PlannedChange>{{"demo.watching", "/etc/xinetd.conf", "rewrite",
                                       FileReplacement{"/etc/xinetd.conf", *content, "good\n"}}};
  }
  mutable std::string seen_manifests;

 private:
  const TemporaryTree& tree_;
  RuleInfo info_;
};

TEST(FixEngine, TheDaemonsToReloadAreJournaledBeforeTheFixIsVerified) {
  Fixture fixture;
  fixture.tree.write("/etc/xinetd.conf", "bad\n");
  ManifestWatchingRule rule(fixture.tree);
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied && applied->all_succeeded);
  // The last check is the verification's; "xinetd" appears in no other field.
  EXPECT_NE(rule.seen_manifests.find("\"xinetd\""), std::string::npos) << rule.seen_manifests;
}

// Passes once its command has made /run/demo-made; its undo always fails, as
// `iptables -D` does when a reboot flushed the rule, and the listing says
// whether what the command made is still there.
class DemoCommandRule final : public Rule {
 public:
  DemoCommandRule(const TemporaryTree& tree, std::vector<std::string> listing, std::string marker)
      : made_(tree.real("/run/demo-made")),
        listing_(std::move(listing)),
        marker_(std::move(marker)) {
    info_.id = "demo.command";
    info_.severity = Severity::critical;
    info_.can_fix = true;
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext&) const override {
    bool made = std::filesystem::exists(made_);
    Finding finding = make_finding(info_, "demo", made ? Status::pass : Status::fail, "demo");
    finding.fixable = !made;
    return {finding};
  }
  Expected<std::vector<PlannedChange>> plan(AuditContext&,
                                            const std::vector<Finding>&) const override {
    return std::vector<PlannedChange>{
        {"demo.command", "demo", "make it",
         CommandRun{{"/usr/bin/touch", made_}, {"/bin/false"}, listing_, marker_}}};
  }

 private:
  std::string made_;
  std::vector<std::string> listing_;
  std::string marker_;
  RuleInfo info_;
};

// A failed undo counts as done only when the listing ran and shows the
// object gone; an object still listed, a listing that fails, or none at all
// leave the undo's own error, and the change stays applied.
TEST(FixEngine, AFailedUndoOfSomethingAlreadyGoneCompletesTheRollback) {
  struct Case {
    const char* what;
    std::vector<std::string> listing;
    bool rolled_back;
  };
  for (const Case& test_case : {
           Case{"gone", {"/bin/echo", "table inet other"}, true},
           Case{"a longer name is not it", {"/bin/echo", "table inet qharden2"}, true},
           Case{"still listed", {"/bin/echo", "table inet qharden"}, false},
           Case{"still listed, quoted", {"/bin/echo", "x \"table inet qharden\" y"}, false},
           Case{"the listing fails", {"/bin/false"}, false},
           Case{"no listing", {}, false},
       }) {
    SCOPED_TRACE(test_case.what);
    Fixture fixture;
    fixture.tree.write("/run/keep", "");
    DemoCommandRule rule(fixture.tree, test_case.listing, "table inet qharden");
    Expected<ApplyResult> applied =
        apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
    ASSERT_TRUE(applied) << applied.error().message;
    ASSERT_TRUE(applied->all_succeeded);
    Expected<RollbackResult> rolled = rollback_change(fixture.host, fixture.config, "", false);
    EXPECT_EQ(bool(rolled), test_case.rolled_back) << (rolled ? "" : rolled.error().message);
    Expected<std::vector<JournalChange>> history = change_history(fixture.host, fixture.config);
    ASSERT_TRUE(history && history->size() == 1u);
    if (test_case.rolled_back) {
      ASSERT_EQ(rolled->restored.size(), 1u);
      EXPECT_NE(rolled->restored.front().reason.find("already gone: "), std::string::npos)
          << rolled->restored.front().reason;
      EXPECT_EQ(history->front().status, "rolled-back");
      EXPECT_NE(history->front().entries.front().note.find("lists no table inet qharden"),
                std::string::npos);
    } else {
      EXPECT_NE(rolled.error().message.find("/bin/false"), std::string::npos)
          << rolled.error().message;
      EXPECT_EQ(history->front().entries.front().state, "applied");
    }
  }
}

// A rollback that stops part-way still reloads for what it restored: xinetd
// must not keep serving the fix from a file that no longer says it.
TEST(FixEngine, ARollbackThatStopsReloadsForWhatItRestored) {
  Fixture fixture;
  fixture.tree.write("/run/keep", "");
  fixture.tree.write("/etc/xinetd.conf", "bad\n");
  DemoCommandRule command_rule(fixture.tree, {"/bin/echo", "table inet qharden"},
                               "table inet qharden");
  ManifestWatchingRule file_rule(fixture.tree);
  Expected<ApplyResult> applied = apply_fixes(
      fixture.host, fixture.config, FixSelection{{&command_rule, &file_rule}, true, true}, {});
  ASSERT_TRUE(applied) << applied.error().message;
  ASSERT_TRUE(applied->all_succeeded);
  Expected<RollbackResult> rolled = rollback_change(fixture.host, fixture.config, "", false);
  ASSERT_FALSE(rolled);
  EXPECT_EQ(fixture.tree.read("/etc/xinetd.conf"), "bad\n");
  EXPECT_NE(rolled.error().message.find("stopped at /usr/bin/touch"), std::string::npos)
      << rolled.error().message;
  EXPECT_NE(rolled.error().message.find("; xinetd is not running"), std::string::npos)
      << rolled.error().message;
}

// An apply killed while it ran commands or wrote sysctls: the next run looks
// at each, rather than marking it unknown, so a rollback undoes what is there.
TEST(FixEngine, PendingCommandsAndSysctlsAreSettledByWhatIsThere) {
  Fixture fixture;
  fixture.tree.write("/proc/sys/net/ipv4/a", "900\n");
  fixture.tree.write("/proc/sys/net/ipv4/b", "60\n");
  fixture.tree.write("/proc/sys/net/ipv4/c", "5\n");
  Journal journal(state_directory(fixture.host, fixture.config));
  Expected<JournalChange> killed = journal.begin_change(fixture.tree.path());
  ASSERT_TRUE(killed) << killed.error().message;
  auto command = [](std::vector<std::string> listing) {
    JournalEntry entry;
    entry.kind = "command";
    entry.argv = {"/bin/true"};
    entry.undo_argv = {"/bin/true"};
    entry.listing_argv = std::move(listing);
    entry.present_marker = "qharden:ident-reject";
    return entry;
  };
  auto sysctl = [&fixture](const char* key) {
    JournalEntry entry;
    entry.kind = "sysctl";
    entry.target = std::string("net/ipv4/") + key;
    entry.sysctl_source = fixture.tree.real("/proc/sys");
    entry.value_before = "60";
    entry.value_after = "900";
    return entry;
  };
  killed->entries = {command({"/bin/echo", "-A OUTPUT --comment qharden:ident-reject"}),
                     command({"/bin/echo", "-A OUTPUT -j ACCEPT"}),
                     command({}),
                     sysctl("a"),
                     sysctl("b"),
                     sysctl("c")};
  ASSERT_TRUE(journal.save(*killed));
  settle_interrupted_changes(fixture.host, journal);
  Expected<JournalChange> settled = journal.load(killed->id);
  ASSERT_TRUE(settled);
  EXPECT_EQ(settled->status, "interrupted");
  std::vector<std::string> states;
  for (const JournalEntry& entry : settled->entries) states.push_back(entry.state);
  EXPECT_EQ(states, (std::vector<std::string>{"applied", "not-applied", "unknown", "applied",
                                              "not-applied", "unknown"}));
}

// File names are bytes: a Latin-1 one ("demo_\xe9.conf") is journaled byte
// for byte, so apply completes (it threw on the journal's JSON before, half
// way through) and rollback restores that very file.
TEST(FixEngine, AFileNameThatIsNotUtf8IsJournaledAndRolledBack) {
  Fixture fixture;
  const std::string path = "/etc/demo_\xe9.conf";
  fixture.tree.write(path, "bad\n");
  DemoRule rule("good\n", path);
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_TRUE(applied->all_succeeded);
  EXPECT_EQ(fixture.tree.read(path), "good\n");
  Expected<std::vector<JournalChange>> history = change_history(fixture.host, fixture.config);
  ASSERT_TRUE(history && history->size() == 1u);
  EXPECT_EQ(history->front().status, "applied");
  EXPECT_EQ(history->front().entries.front().target, path);
  Expected<RollbackResult> rolled = rollback_change(fixture.host, fixture.config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_EQ(fixture.tree.read(path), "bad\n");
}

// A manifest edited by hand, with fields of the wrong type, loads instead of
// throwing out of history and rollback; an entry with such a field is
// "unknown", never undone with a made-up mode or command line, and a
// rollback names it.
TEST(FixEngine, AManifestWithFieldsOfTheWrongTypeStillLoads) {
  Fixture fixture;
  Journal journal(state_directory(fixture.host, fixture.config));
  Expected<JournalChange> change = journal.begin_change(fixture.tree.path());
  ASSERT_TRUE(change) << change.error().message;
  std::string manifest = "/var/lib/qharden/changes/" + change->id + "/manifest.json";
  // The change's own fields of the wrong type: refused by name, not read on
  // with its entries or reloads dropped.
  for (const char* odd : {R"({"schema": 1, "status": ["applied"], "entries": []})",
                          R"({"schema": 1, "reloads": "xinetd", "entries": []})",
                          R"({"schema": 1, "entries": {"0": {}}})"}) {
    fixture.tree.write(manifest, odd);
    Expected<JournalChange> refused = journal.load(change->id);
    ASSERT_FALSE(refused) << odd;
    EXPECT_NE(refused.error().message.find("manifest.json: the manifest gives "), std::string::npos)
        << refused.error().message;
  }
  fixture.tree.write(manifest,
                     R"({"schema": 1, "id": 7, "status": "applied",
                         "entries": [{"target": 3, "mode": "0644", "existed": "no",
                                      "argv": [1, "x"]}, 5]})");
  Expected<JournalChange> loaded = journal.load(change->id);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->id, change->id);
  ASSERT_EQ(loaded->entries.size(), 2u);
  EXPECT_EQ(loaded->entries[0].state, "unknown");
  EXPECT_EQ(loaded->entries[0].error,
            "the journal gives target, existed, mode, argv with the wrong type; not undone");
  EXPECT_TRUE(loaded->entries[0].argv.empty());
  EXPECT_EQ(loaded->entries[1].state, "unknown");

  // The previous version's entry, with a mode written as text by hand.
  fixture.tree.write("/etc/demo.conf", "good\n");
  fixture.tree.write(manifest, R"({"schema": 1, "status": "applied", "entries": [
      {"rule": "demo.rule", "kind": "file", "target": "/etc/demo.conf", "existed": true,
       "mode": "420", "owner": 0, "group": 0, "backup": "backup-0", "state": "applied"}]})");
  Expected<RollbackResult> rolled =
      rollback_change(fixture.host, fixture.config, change->id, false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_TRUE(rolled->restored.empty());
  ASSERT_EQ(rolled->notes.size(), 1u);
  EXPECT_NE(rolled->notes.front().find("/etc/demo.conf: not restored, its state is unknown (the "
                                       "journal gives mode with the wrong type"),
            std::string::npos)
      << rolled->notes.front();
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "good\n");
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
  EXPECT_EQ(applied->outcomes[0].result, "rolled-back");
  EXPECT_EQ(applied->outcomes[0].outcome.rfind("rolled back: still failing after the fix", 0), 0u)
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

FixSelection kept_only(const Rule& rule) {
  return FixSelection{{&rule}, true, true, true};
}

TEST(FixEngine, AReapplyOfKeptFixesChangesNothingOnAHostWhereNothingWasApplied) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n");
  DemoRule rule("good\n");
  Expected<ApplyResult> reapplied = apply_fixes(fixture.host, fixture.config, kept_only(rule), {});
  ASSERT_TRUE(reapplied) << reapplied.error().message;
  EXPECT_TRUE(reapplied->change_id.empty());
  EXPECT_TRUE(reapplied->outcomes.empty());
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "bad\n");
}

// Two files, each its own subject; the plan covers only the findings given.
class PairRule final : public Rule {
 public:
  PairRule() {
    info_.id = "pair.rule";
    info_.severity = Severity::warning;
    info_.can_fix = true;
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext& context) const override {
    std::vector<Finding> findings;
    for (const char* path : {"/etc/a.conf", "/etc/b.conf"}) {
      Expected<std::string> content = context.host.read_file(path);
      Finding finding = make_finding(info_, path, Status::pass, "good");
      if (!content || content->find("good") == std::string::npos) {
        finding.status = Status::fail;
        finding.fixable = true;
      }
      findings.push_back(finding);
    }
    return findings;
  }
  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>& failing) const override {
    std::vector<PlannedChange> changes;
    for (const Finding& finding : failing) {
      Expected<std::string> content = context.host.read_file(finding.subject);
      if (!content) return Unexpected(content.error());
      changes.push_back({"pair.rule", finding.subject, "rewrite",
                         FileReplacement{finding.subject, *content, "good\n"}});
    }
    return changes;
  }

 private:
  RuleInfo info_;
};

// A re-apply of kept fixes restores a.conf; b.conf, which nobody fixed, still
// fails, and that must not make the re-apply of a.conf be undone.
TEST(FixEngine, AReapplyIsNotUndoneBecauseAnotherSubjectOfTheRuleStillFails) {
  Fixture fixture;
  fixture.tree.write("/etc/a.conf", "bad\n");
  fixture.tree.write("/etc/b.conf", "good\n");
  PairRule rule;
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied && applied->all_succeeded);
  fixture.tree.write("/etc/a.conf", "bad again\n");
  fixture.tree.write("/etc/b.conf", "bad, never fixed\n");
  Expected<ApplyResult> reapplied = apply_fixes(fixture.host, fixture.config, kept_only(rule), {});
  ASSERT_TRUE(reapplied) << reapplied.error().message;
  std::string notes;
  for (const std::string& note : reapplied->notes) notes += note + "\n";
  EXPECT_TRUE(reapplied->all_succeeded) << notes;
  EXPECT_EQ(fixture.tree.read("/etc/a.conf"), "good\n");
  EXPECT_EQ(fixture.tree.read("/etc/b.conf"), "bad, never fixed\n");
}

TEST(FixEngine, AppliedIsKeptUntilRolledBack) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n");
  DemoRule rule("good\n");
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied && applied->all_succeeded);

  fixture.tree.write("/etc/demo.conf", "bad again\n");  // Plesk rewrites it
  Expected<ApplyResult> reapplied = apply_fixes(fixture.host, fixture.config, kept_only(rule), {});
  ASSERT_TRUE(reapplied) << reapplied.error().message;
  EXPECT_FALSE(reapplied->change_id.empty());
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "good\n");

  // The operator opts out by rolling back the re-apply; the first change
  // still stands in the journal, but the subject is no longer kept.
  Expected<RollbackResult> rolled =
      rollback_change(fixture.host, fixture.config, reapplied->change_id, false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "bad again\n");
  Expected<std::vector<JournalChange>> history = change_history(fixture.host, fixture.config);
  ASSERT_TRUE(history);
  EXPECT_TRUE(kept_changes(*history).empty());
  ASSERT_EQ(history->back().entries.size(), 1u);
  EXPECT_EQ(history->back().entries[0].state, "rolled-back");

  fixture.tree.write("/etc/demo.conf", "bad once more\n");
  Expected<ApplyResult> after_rollback =
      apply_fixes(fixture.host, fixture.config, kept_only(rule), {});
  ASSERT_TRUE(after_rollback);
  EXPECT_TRUE(after_rollback->change_id.empty());
  EXPECT_EQ(fixture.tree.read("/etc/demo.conf"), "bad once more\n");
}

TEST(FixEngine, ManifestsAreReadableByTheAgentAndBackupsAreNot) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n", 0600);
  DemoRule rule("good\n");
  ::umask(077);  // as under the units
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ::umask(022);
  ASSERT_TRUE(applied && applied->all_succeeded);
  std::string folder = fixture.tree.real("/var/lib/qharden/changes/" + applied->change_id);
  auto mode_of = [](const std::string& path) {
    struct stat details {};
    EXPECT_EQ(::stat(path.c_str(), &details), 0) << path;
    return details.st_mode & 07777;
  };
  EXPECT_EQ(mode_of(fixture.tree.real("/var/lib/qharden")), 0755u);
  EXPECT_EQ(mode_of(folder), 0755u);
  EXPECT_EQ(mode_of(folder + "/manifest.json"), 0644u);
  EXPECT_EQ(mode_of(folder + "/backup-0"), 0600u);
}

TEST(FixEngine, TheCachedReaderSeesRollbacksAndNewChanges) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n");
  DemoRule rule("good\n");
  CachedJournalReader reader(state_directory(fixture.host, fixture.config));
  Expected<std::vector<JournalChange>> none = reader.changes();
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied && applied->all_succeeded);
  Expected<std::vector<JournalChange>> one = reader.changes();
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(kept_changes(*one).size(), 1u);
  ASSERT_TRUE(rollback_change(fixture.host, fixture.config, "", false));
  Expected<std::vector<JournalChange>> rolled = reader.changes();
  ASSERT_TRUE(rolled);
  EXPECT_EQ(rolled->front().status, "rolled-back");
  EXPECT_TRUE(kept_changes(*rolled).empty());
}

// A run killed mid-change leaves it "in-progress" with its open mark; the next
// run settles it from the mark alone.
TEST(FixEngine, AChangeLeftOpenIsSettledByTheNextRunAndItsMarkRemoved) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n");
  Journal journal(state_directory(fixture.host, fixture.config));
  Expected<JournalChange> killed = journal.begin_change(fixture.tree.path());
  ASSERT_TRUE(killed) << killed.error().message;
  std::string mark = fixture.tree.real("/var/lib/qharden/open/" + killed->id);
  EXPECT_TRUE(std::filesystem::exists(mark));

  DemoRule rule("good\n");
  Expected<ApplyResult> applied =
      apply_fixes(fixture.host, fixture.config, fixture.select(rule), {});
  ASSERT_TRUE(applied && applied->all_succeeded);
  Expected<JournalChange> settled = journal.load(killed->id);
  ASSERT_TRUE(settled);
  EXPECT_EQ(settled->status, "interrupted");
  EXPECT_FALSE(std::filesystem::exists(mark));
  // The apply's own change was closed when it was saved as applied.
  EXPECT_FALSE(
      std::filesystem::exists(fixture.tree.real("/var/lib/qharden/open/" + applied->change_id)));
  EXPECT_TRUE(journal.open_change_ids().empty());
}

TEST(FixEngine, AJournalFromBeforeTheMarksIsLookedThroughOnce) {
  Fixture fixture;
  fixture.tree.write("/etc/demo.conf", "bad\n");
  Journal journal(state_directory(fixture.host, fixture.config));
  Expected<JournalChange> killed = journal.begin_change(fixture.tree.path());
  ASSERT_TRUE(killed);
  std::filesystem::remove_all(fixture.tree.real("/var/lib/qharden/open"));
  EXPECT_EQ(journal.open_change_ids(), std::vector<std::string>{killed->id});

  DemoRule rule("good\n");
  ASSERT_TRUE(apply_fixes(fixture.host, fixture.config, fixture.select(rule), {}));
  Expected<JournalChange> settled = journal.load(killed->id);
  ASSERT_TRUE(settled);
  EXPECT_EQ(settled->status, "interrupted");
  EXPECT_TRUE(std::filesystem::is_directory(fixture.tree.real("/var/lib/qharden/open")));
  EXPECT_TRUE(journal.open_change_ids().empty());
}

TEST(FixEngine, RollbackRejectsChangeIdsThatCouldNameAPath) {
  Fixture fixture;
  Expected<RollbackResult> rolled =
      rollback_change(fixture.host, fixture.config, "../../etc", false);
  ASSERT_FALSE(rolled);
  EXPECT_NE(rolled.error().message.find("not a change id"), std::string::npos);
}

// A hostile D-Bus caller found that Rollback("") on a host where nothing was
// ever applied created the state folder and its lock.
TEST(FixEngine, RollbackOnAHostWhereNothingWasAppliedCreatesNothing) {
  Fixture fixture;
  for (const std::string& change_id : {std::string(), std::string("20991231T000000Z-ffff")}) {
    Expected<RollbackResult> rolled =
        rollback_change(fixture.host, fixture.config, change_id, false);
    ASSERT_FALSE(rolled) << change_id;
    EXPECT_NE(rolled.error().message.find(change_id.empty() ? "no change to roll back"
                                                            : "no such change"),
              std::string::npos)
        << rolled.error().message;
    EXPECT_FALSE(std::filesystem::exists(fixture.tree.real("/var/lib/qharden"))) << change_id;
  }
}

}  // namespace
}  // namespace qharden
