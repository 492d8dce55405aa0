// A write that fails after its rename, when the folder's fsync fails (EIO on
// a failing disk), has already put the new text in place. The journal must
// then say so, so that the failed rule's undo puts the old text back: nothing
// may be left changed without a journal entry that can undo it.
//
// No file system here fails an fsync on demand, so this test binary defines
// fsync itself: it fails once for the one folder the test names and calls
// the kernel otherwise. Every other test in the binary sees the real call.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>

#include "config/config.h"
#include "engine/context.h"
#include "engine/fix.h"
#include "temporary_tree.h"

namespace {

// Set and cleared by the one test that uses it, on its own thread; a plain
// array, so that an fsync before or after static initialisation reads zeros.
char failing_folder[PATH_MAX];  // real path; empty: no fsync fails

std::string descriptor_path(int descriptor) {
  char target[PATH_MAX];
  std::string link = "/proc/self/fd/" + std::to_string(descriptor);
  ssize_t length = ::readlink(link.c_str(), target, sizeof target - 1);
  return length > 0 ? std::string(target, static_cast<std::size_t>(length)) : std::string();
}

}  // namespace

extern "C" int fsync(int descriptor) {
  if (failing_folder[0] != '\0') {
    struct stat details {};
    if (::fstat(descriptor, &details) == 0 && S_ISDIR(details.st_mode) &&
        descriptor_path(descriptor) == failing_folder) {
      failing_folder[0] = '\0';  // once
      errno = EIO;
      return -1;
    }
  }
  return static_cast<int>(::syscall(SYS_fsync, descriptor));
}

namespace qharden {
namespace {

class RewriteRule final : public Rule {
 public:
  RewriteRule() {
    info_.id = "test.rewrite";
    info_.severity = Severity::critical;
    info_.can_fix = true;
  }
  const RuleInfo& info() const override { return info_; }
  std::vector<Finding> check(AuditContext&) const override {
    Finding finding = make_finding(info_, "/etc/rewrite.conf", Status::fail, "old");
    finding.fixable = true;
    return {finding};
  }
  Expected<std::vector<PlannedChange>> plan(AuditContext& context,
                                            const std::vector<Finding>&) const override {
    Expected<std::string> content = context.host.read_file("/etc/rewrite.conf");
    if (!content) return Unexpected(content.error());
    return std::vector<PlannedChange>{
        {"test.rewrite", "/etc/rewrite.conf", "rewrite",
         FileReplacement{"/etc/rewrite.conf", *content, "new text\n"}}};
  }

 private:
  RuleInfo info_;
};

TEST(WriteAfterRename, AFolderFsyncFailureIsUndoneFromTheJournal) {
  testing::TemporaryTree tree;
  tree.write("/etc/rewrite.conf", "old text\n", 0640);
  Config config = *load_builtin_config();
  config.paths.lock_wait_s = 0;
  RootedHost host = *RootedHost::open(tree.path());
  RewriteRule rule;
  ASSERT_NE(::realpath(tree.real("/etc").c_str(), failing_folder), nullptr);

  Expected<ApplyResult> applied = apply_fixes(host, config, FixSelection{{&rule}, true, true}, {});
  bool fault_injected = failing_folder[0] == '\0';
  failing_folder[0] = '\0';
  ASSERT_TRUE(fault_injected) << "the folder's fsync was never called";
  ASSERT_TRUE(applied) << applied.error().message;
  EXPECT_FALSE(applied->all_succeeded);
  ASSERT_FALSE(applied->outcomes.empty());
  EXPECT_EQ(applied->outcomes.front().result, "failed");
  EXPECT_NE(applied->outcomes.front().reason.find("fsync folder"), std::string::npos)
      << applied->outcomes.front().reason;
  // The rule's undo ran from the journal: the old text and mode are back.
  EXPECT_EQ(tree.read("/etc/rewrite.conf"), "old text\n");
  struct stat details {};
  ASSERT_EQ(::stat(tree.real("/etc/rewrite.conf").c_str(), &details), 0);
  EXPECT_EQ(details.st_mode & 07777, 0640u);

  Expected<std::vector<JournalChange>> history = change_history(host, config);
  ASSERT_TRUE(history && history->size() == 1);
  ASSERT_EQ(history->front().entries.size(), 1u);
  EXPECT_NE(history->front().entries.front().state, "applied");
  EXPECT_NE(history->front().entries.front().state, "failed");  // it did replace the file
}

}  // namespace
}  // namespace qharden
