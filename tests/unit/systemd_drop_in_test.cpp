// listener.burst-limits fixes a systemd socket with a drop-in of qharden's own:
// planned and shown first, written into a folder it creates when needed,
// verified by the audit after it, removed with its folder by rollback; never a
// unit file, never through a symlink, and never a daemon-reload under --root.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <variant>

#include "config/config.h"
#include "engine/context.h"
#include "engine/fix.h"
#include "engine/rule.h"
#include "host/host.h"
#include "inventory/systemd_drop_in.h"
#include "temporary_tree.h"

namespace qharden {

std::unique_ptr<Rule> make_listener_burst_limits_rule();

namespace {

const std::string kLib = "/usr/lib/systemd/system/";
const std::string kFolder = "/etc/systemd/system/s.socket.d";
const std::string kDropIn = kFolder + "/zz-qharden-listener.burst-limits.conf";
const std::string kSocketUnit = "[Socket]\nListenStream=25\nAccept=yes\nTriggerLimitBurst=5\n";
const std::string kService =
    "[Service]\nExecStart=/usr/bin/tcp-env -R /var/qmail/bin/qmail-smtpd\n";

struct DropInFixture {
  testing::TemporaryTree tree;
  Config config = *load_builtin_config();
  std::unique_ptr<Rule> rule = make_listener_burst_limits_rule();

  DropInFixture() {
    tree.write(kLib + "s.socket", kSocketUnit);
    tree.write(kLib + "s@.service", kService);
    tree.symlink(kLib + "s.socket", "/etc/systemd/system/sockets.target.wants/s.socket");
    config.paths.lock_wait_s = 0;
  }
  RootedHost host() const { return std::move(*RootedHost::open(tree.root())); }
  // Named, not offline: the listener limits have no live part, and an online
  // apply is where a daemon-reload would be requested.
  FixSelection selection() const { return FixSelection{{rule.get()}, true, false}; }
  PlanResult plan() const {
    RootedHost rooted = host();
    AuditContext context(rooted, config, false);
    return make_plan(context, selection());
  }
  bool exists(const std::string& host_path) const {
    return std::filesystem::exists(std::filesystem::symlink_status(tree.real(host_path)));
  }
};

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

// What a plan says it will not do: a refusal of the whole rule, or (since the
// audit plans each drop-in too) the reason in an unfixable finding.
std::string not_done(const PlanResult& plan) {
  std::string text = joined(plan.refusals);
  for (const Finding& finding : plan.unfixed) text += finding.message + "\n";
  return text;
}

TEST(SystemdDropIn, PathAndTextAreQhardensOwn) {
  Config config = *load_builtin_config();
  EXPECT_EQ(qharden_drop_in_path(config, "qmail-smtpd.socket", "listener.burst-limits"),
            "/etc/systemd/system/qmail-smtpd.socket.d/zz-qharden-listener.burst-limits.conf");
  std::string text =
      qharden_drop_in_text("listener.burst-limits", "Socket",
                           {{"MaxConnections", "256"}, {"TriggerLimitBurst", "1000"}});
  EXPECT_NE(text.find("\n[Socket]\nMaxConnections=256\nTriggerLimitBurst=1000\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.rfind("# Written by `qharden apply` for listener.burst-limits", 0), 0u) << text;
}

TEST(SystemdDropIn, PlanShowsTheDropInAndSaysNoReloadUnderRoot) {
  DropInFixture fixture;
  PlanResult plan = fixture.plan();
  ASSERT_TRUE(plan.refusals.empty()) << joined(plan.refusals);
  ASSERT_EQ(plan.changes.size(), 1u);
  const PlannedChange& change = plan.changes.front();
  EXPECT_EQ(change.subject, kDropIn);
  EXPECT_NE(change.summary.find("s.socket: raise MaxConnections=256 and TriggerLimitBurst=1000"),
            std::string::npos)
      << change.summary;
  EXPECT_NE(change.summary.find("no daemon-reload is requested under --root"), std::string::npos)
      << change.summary;
  const auto& file = std::get<FileReplacement>(change.action);
  EXPECT_TRUE(file.create);
  EXPECT_NE(file.after.find("[Socket]\nMaxConnections=256\nTriggerLimitBurst=1000\n"),
            std::string::npos);
  EXPECT_NE(render_plan(plan).find("+TriggerLimitBurst=1000"), std::string::npos)
      << render_plan(plan);
  // Planning writes nothing.
  EXPECT_FALSE(fixture.exists(kFolder));
}

TEST(SystemdDropIn, ApplyCreatesFolderAndFileAndRollbackRemovesBoth) {
  DropInFixture fixture;
  RootedHost host = fixture.host();
  std::string unit_before = fixture.tree.read(kLib + "s.socket");
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.selection(), {});
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_TRUE(applied->all_succeeded) << joined(applied->notes);
  ASSERT_FALSE(applied->change_id.empty());
  EXPECT_EQ(fixture.tree.read(kLib + "s.socket"), unit_before);
  EXPECT_NE(fixture.tree.read(kDropIn).find("TriggerLimitBurst=1000"), std::string::npos);
  struct stat details {};
  ASSERT_EQ(::stat(fixture.tree.real(kFolder).c_str(), &details), 0);
  EXPECT_EQ(details.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat(fixture.tree.real(kDropIn).c_str(), &details), 0);
  EXPECT_EQ(details.st_mode & 07777, 0644u);
  std::string notes = joined(applied->notes);
  EXPECT_NE(notes.find("listener.burst-limits: verified, passes after the fix"), std::string::npos)
      << notes;
  EXPECT_NE(notes.find("systemd: daemon-reload not requested under --root"), std::string::npos)
      << notes;

  // Idempotent: the audit reads the drop-in, so nothing is left to do.
  Expected<ApplyResult> again = apply_fixes(host, fixture.config, fixture.selection(), {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(again->change_id.empty());

  Expected<RollbackResult> rolled = rollback_change(host, fixture.config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_FALSE(fixture.exists(kDropIn));
  EXPECT_FALSE(fixture.exists(kFolder));
  EXPECT_NE(joined(rolled->notes).find("daemon-reload not requested under --root"),
            std::string::npos)
      << joined(rolled->notes);
}

TEST(SystemdDropIn, RollbackKeepsAFolderThatHoldsSomethingElse) {
  DropInFixture fixture;
  RootedHost host = fixture.host();
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.selection(), {});
  ASSERT_TRUE(applied && applied->all_succeeded);
  fixture.tree.write(kFolder + "/10-operator.conf", "[Socket]\nBacklog=512\n");
  Expected<RollbackResult> rolled = rollback_change(host, fixture.config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_FALSE(fixture.exists(kDropIn));
  EXPECT_EQ(fixture.tree.read(kFolder + "/10-operator.conf"), "[Socket]\nBacklog=512\n");
}

TEST(SystemdDropIn, AFolderThatWasThereIsKept) {
  DropInFixture fixture;
  fixture.tree.write(kFolder + "/override.conf", "[Socket]\nBacklog=512\n");
  RootedHost host = fixture.host();
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.selection(), {});
  ASSERT_TRUE(applied && applied->all_succeeded);
  Expected<RollbackResult> rolled = rollback_change(host, fixture.config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_FALSE(fixture.exists(kDropIn));
  EXPECT_TRUE(fixture.exists(kFolder + "/override.conf"));
}

// An earlier drop-in of qharden's keeps what it says; only the failing value
// is added.
TEST(SystemdDropIn, AnEarlierDropInKeepsItsValues) {
  DropInFixture fixture;
  fixture.tree.write(kDropIn, "# an earlier fix\n[Socket]\nMaxConnections=300\n");
  PlanResult plan = fixture.plan();
  ASSERT_TRUE(plan.refusals.empty()) << joined(plan.refusals);
  ASSERT_EQ(plan.changes.size(), 1u);
  const auto& file = std::get<FileReplacement>(plan.changes.front().action);
  EXPECT_FALSE(file.create);
  EXPECT_EQ(file.before, "# an earlier fix\n[Socket]\nMaxConnections=300\n");
  EXPECT_NE(file.after.find("[Socket]\nMaxConnections=300\nTriggerLimitBurst=1000\n"),
            std::string::npos)
      << file.after;
}

// What qharden would not have written, it does not rewrite; a symlink is never
// written through. Each is refused by name, and nothing changes.
TEST(SystemdDropIn, ForeignContentAndSymlinksAreRefusedByName) {
  DropInFixture fixture;
  fixture.tree.write(kDropIn, "[Socket]\nMaxConnections=300\n[Install]\nWantedBy=x.target\n");
  PlanResult foreign = fixture.plan();
  EXPECT_TRUE(foreign.changes.empty());
  std::string said = not_done(foreign);
  EXPECT_NE(said.find(kDropIn + ":3: [Install] is not what qharden writes here"), std::string::npos)
      << said;

  std::filesystem::remove(fixture.tree.real(kDropIn));
  fixture.tree.write("/elsewhere.conf", "[Socket]\n");
  fixture.tree.symlink("/elsewhere.conf", kDropIn);
  PlanResult linked = fixture.plan();
  EXPECT_TRUE(linked.changes.empty());
  said = not_done(linked);
  EXPECT_NE(said.find(kDropIn + ": is a symlink"), std::string::npos) << said;
  RootedHost host = fixture.host();
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.selection(), {});
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_EQ(fixture.tree.read("/elsewhere.conf"), "[Socket]\n");
}

// systemd applies drop-ins in file-name order, the last value winning: one that
// sorts after qharden's and sets the same key would undo the fix, so the plan
// refuses and names it; one that sorts before (override.conf) is overridden.
TEST(SystemdDropIn, ALaterDropInThatSetsTheKeyIsRefusedByFileAndLine) {
  DropInFixture fixture;
  fixture.tree.write(kFolder + "/zzz-late.conf",
                     "[Socket]\n# kept low on purpose\nTriggerLimitBurst=5\n");
  PlanResult plan = fixture.plan();
  EXPECT_TRUE(plan.changes.empty());
  std::string said = not_done(plan);
  EXPECT_NE(said.find(kFolder + "/zzz-late.conf:3: sets TriggerLimitBurst= and sorts after "
                                "zz-qharden-listener.burst-limits.conf"),
            std::string::npos)
      << said;
  RootedHost host = fixture.host();
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.selection(), {});
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_TRUE(applied->change_id.empty());
  EXPECT_FALSE(fixture.exists(kDropIn));
}

TEST(SystemdDropIn, AnOverrideThatSortsBeforeIsOverridden) {
  DropInFixture fixture;
  fixture.tree.write(kFolder + "/override.conf", "[Socket]\nTriggerLimitBurst=5\n");
  fixture.tree.write(kFolder + "/zzz-late.conf", "[Socket]\nBacklog=512\n");
  RootedHost host = fixture.host();
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.selection(), {});
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_TRUE(applied->all_succeeded) << joined(applied->notes);
  EXPECT_NE(joined(applied->notes).find("listener.burst-limits: verified, passes after the fix"),
            std::string::npos)
      << joined(applied->notes);
  EXPECT_EQ(fixture.tree.read(kFolder + "/override.conf"), "[Socket]\nTriggerLimitBurst=5\n");
}

// The folder is a path component qharden would write through.
TEST(SystemdDropIn, ASymlinkedFolderIsRefused) {
  DropInFixture fixture;
  fixture.tree.write("/elsewhere/keep.conf", "[Socket]\nBacklog=512\n");
  fixture.tree.symlink("/elsewhere", kFolder);
  PlanResult plan = fixture.plan();
  EXPECT_TRUE(plan.changes.empty());
  std::string said = not_done(plan);
  EXPECT_NE(said.find(kFolder + ": is a symlink"), std::string::npos) << said;
  EXPECT_FALSE(fixture.exists("/elsewhere/zz-qharden-listener.burst-limits.conf"));
}

// systemd skips hidden files: a ".x.conf" that would raise the limits changes
// nothing, so the socket still fails.
TEST(SystemdDropIn, HiddenDropInsAreNotRead) {
  DropInFixture fixture;
  fixture.tree.write(kFolder + "/.disabled.conf",
                     "[Socket]\nMaxConnections=9999\nTriggerLimitBurst=9999\n");
  PlanResult plan = fixture.plan();
  ASSERT_EQ(plan.changes.size(), 1u) << not_done(plan);
  EXPECT_EQ(plan.changes.front().subject, kDropIn);
}

// An operator removed the folder, qharden's drop-in with it: the rollback has
// nothing left to remove and completes, rather than failing on the folder.
TEST(SystemdDropIn, RollbackAfterTheFolderWasRemovedCompletes) {
  DropInFixture fixture;
  RootedHost host = fixture.host();
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.selection(), {});
  ASSERT_TRUE(applied && applied->all_succeeded);
  std::filesystem::remove_all(fixture.tree.real(kFolder));
  Expected<RollbackResult> rolled = rollback_change(host, fixture.config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_FALSE(fixture.exists(kFolder));
}

// --no-reload says what is left to do instead of staying silent.
TEST(SystemdDropIn, NoReloadSaysToRunDaemonReload) {
  DropInFixture fixture;
  RootedHost host = fixture.host();
  ApplyOptions options;
  options.reload = false;
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.selection(), options);
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_NE(joined(applied->notes).find("systemd: daemon-reload not requested (--no-reload)"),
            std::string::npos)
      << joined(applied->notes);
}

}  // namespace
}  // namespace qharden
