// Two rules that fix the same file in one apply: Plesk's smtp_psa needs both
// tcp-env's -R (tcp-env.flags) and a higher cps (listener.burst-limits). Each
// was planned against the file before either; the second is planned again
// from the file as the first left it, so both land. Another program's edit in
// between still refuses.
#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "config/config.h"
#include "engine/context.h"
#include "engine/fix.h"
#include "engine/rule.h"
#include "host/host.h"
#include "temporary_tree.h"

namespace qharden {

std::unique_ptr<Rule> make_listener_burst_limits_rule();
std::unique_ptr<Rule> make_tcp_env_flags_rule();

namespace {

const char* kService =
    "service smtp\n{\n  socket_type = stream\n  wait = no\n  user = root\n"
    "  instances = UNLIMITED\n  cps = 5 3\n  server = /var/qmail/bin/tcp-env\n"
    "  server_args = /var/qmail/bin/qmail-smtpd\n}\n";

struct SharedFile {
  testing::TemporaryTree tree;
  Config config = *load_builtin_config();
  std::unique_ptr<Rule> limits = make_listener_burst_limits_rule();
  std::unique_ptr<Rule> tcp_env = make_tcp_env_flags_rule();
  SharedFile() {
    tree.write("/etc/xinetd.conf", "defaults\n{\n}\nincludedir /etc/xinetd.d\n");
    tree.write("/etc/xinetd.d/smtp_psa", kService);
    config.paths.lock_wait_s = 0;
  }
  FixSelection both() const { return FixSelection{{limits.get(), tcp_env.get()}, true, true}; }
};

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

TEST(ApplySharedFile, BothRulesLandInOneApplyAndPass) {
  SharedFile fixture;
  RootedHost host = *RootedHost::open(fixture.tree.root());
  Expected<ApplyResult> applied = apply_fixes(host, fixture.config, fixture.both(), {});
  ASSERT_TRUE(applied) << applied.error().message;
  std::string notes = joined(applied->notes);
  EXPECT_TRUE(applied->all_succeeded) << notes;
  std::string text = fixture.tree.read("/etc/xinetd.d/smtp_psa");
  EXPECT_NE(text.find("cps = 100 3"), std::string::npos) << text;
  EXPECT_NE(text.find("server_args = -Rt0 /var/qmail/bin/qmail-smtpd"), std::string::npos) << text;
  EXPECT_NE(notes.find("tcp-env.flags: planned again from /etc/xinetd.d/smtp_psa"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("listener.burst-limits: verified"), std::string::npos) << notes;
  EXPECT_NE(notes.find("tcp-env.flags: verified"), std::string::npos) << notes;

  // One change, two entries: the rollback restores the file as it was.
  Expected<RollbackResult> rolled = rollback_change(host, fixture.config, "", false);
  ASSERT_TRUE(rolled) << rolled.error().message;
  EXPECT_EQ(fixture.tree.read("/etc/xinetd.d/smtp_psa"), kService);
}

// Passes when /etc/shared.conf holds `good`; its fix replaces `bad` with
// `fixed_to`, which for a broken fix is not `good`.
class WordRule final : public Rule {
 public:
  // id: a literal, since RuleInfo holds views.
  WordRule(std::string_view id, std::string bad, std::string good, std::string fixed_to)
      : bad_(std::move(bad)), good_(std::move(good)), fixed_to_(std::move(fixed_to)) {
    info_.id = id;
    info_.severity = Severity::warning;
    info_.can_fix = true;
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext& context) const override {
    Expected<std::string> text = context.host.read_file("/etc/shared.conf");
    Finding finding = make_finding(info_, "/etc/shared.conf", Status::pass, "good");
    if (!text || text->find(good_) == std::string::npos) {
      finding.status = Status::fail;
      finding.fixable = true;
    }
    return {finding};
  }
  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>&) const override {
    Expected<std::string> text = context.host.read_file("/etc/shared.conf");
    if (!text) return Unexpected(text.error());
    std::string after = *text;
    after.replace(after.find(bad_), bad_.size(), fixed_to_);
    return std::vector<PlannedChange>{{std::string(info_.id), "/etc/shared.conf", "replace",
                                       FileReplacement{"/etc/shared.conf", *text, after}}};
  }

 private:
  RuleInfo info_;
  std::string bad_, good_, fixed_to_;
};

// The first rule's fix does not work; the second wrote on top of it. The
// second is undone first, then the first, and the file is as it was: before,
// the first undo was refused (the file held the second's text) while the
// output said "rolled back".
TEST(ApplySharedFile, AFailingFirstRuleUndoesTheLaterOneOnTheSameFileFirst) {
  testing::TemporaryTree tree;
  tree.write("/etc/shared.conf", "a-bad\nb-bad\n");
  Config config = *load_builtin_config();
  config.paths.lock_wait_s = 0;
  WordRule first("a.rule", "a-bad", "a-ok", "a-still-bad");
  WordRule second("b.rule", "b-bad", "b-ok", "b-ok");
  RootedHost host = *RootedHost::open(tree.root());
  Expected<ApplyResult> applied =
      apply_fixes(host, config, FixSelection{{&first, &second}, true, true}, {});
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_FALSE(applied->all_succeeded);
  EXPECT_EQ(tree.read("/etc/shared.conf"), "a-bad\nb-bad\n");
  std::map<std::string, std::string> result_of;
  for (const ChangeOutcome& outcome : applied->outcomes) result_of[outcome.rule] = outcome.result;
  EXPECT_EQ(result_of["a.rule"], "rolled-back");
  EXPECT_EQ(result_of["b.rule"], "undone");
}

}  // namespace
}  // namespace qharden
