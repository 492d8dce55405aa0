#include <gtest/gtest.h>

#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/context.h"
#include "engine/rule.h"
#include "host/host.h"
#include "sysctl/boot_precedence.h"
#include "sysctl/drop_in.h"

namespace qharden {

std::unique_ptr<Rule> make_sysctl_tcp_fin_timeout_rule();
std::unique_ptr<Rule> make_sysctl_tcp_keepalive_rule();

namespace {

namespace filesystem = std::filesystem;

// A writable host tree of this test's own, removed afterwards.
class ScratchTree {
 public:
  ScratchTree() {
    char pattern[] = "/tmp/qharden-sysctl-XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~ScratchTree() {
    std::error_code ignored;
    filesystem::remove_all(path_, ignored);
  }
  ScratchTree(const ScratchTree&) = delete;
  ScratchTree& operator=(const ScratchTree&) = delete;
  const std::string& path() const { return path_; }
  void write(const std::string& host_path, const std::string& content) const {
    filesystem::create_directories(filesystem::path(path_ + host_path).parent_path());
    std::ofstream(path_ + host_path, std::ios::binary | std::ios::trunc) << content;
  }
  void copy_fixture(const std::string& name) const {
    filesystem::copy(std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name, path_,
                     filesystem::copy_options::recursive | filesystem::copy_options::copy_symlinks);
  }

 private:
  std::string path_;
};

RootedHost open_root(const std::string& root) {
  Expected<RootedHost> host = RootedHost::open(root);
  if (!host) ADD_FAILURE() << host.error().message;
  return std::move(host).value();
}

std::string test_name(std::string name) {
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

struct PlanOutcome {
  std::vector<Finding> findings;
  Expected<std::vector<PlannedChange>> changes = std::vector<PlannedChange>{};
};

PlanOutcome plan_for(const std::string& root, const std::string& which, bool offline) {
  RootedHost host = open_root(root);
  Expected<Config> config = load_builtin_config();
  EXPECT_TRUE(config);
  AuditContext context(host, *config, offline);
  std::unique_ptr<Rule> rule =
      which == "fin" ? make_sysctl_tcp_fin_timeout_rule() : make_sysctl_tcp_keepalive_rule();
  PlanOutcome outcome;
  outcome.findings = rule->check(context);
  std::vector<Finding> failing;
  for (const Finding& finding : outcome.findings) {
    if (finding.status == Status::fail) failing.push_back(finding);
  }
  outcome.changes = rule->plan(context, failing);
  return outcome;
}

// "sysctl KEY BEFORE->AFTER" or "create|update PATH".
std::vector<std::string> describe(const std::vector<PlannedChange>& changes) {
  std::vector<std::string> lines;
  for (const PlannedChange& change : changes) {
    if (const auto* write = std::get_if<SysctlWrite>(&change.action)) {
      lines.push_back("sysctl " + write->slash_key + " " + write->before + "->" + write->after);
    } else if (const auto* file = std::get_if<FileReplacement>(&change.action)) {
      lines.push_back((file->create ? "create " : "update ") + file->host_path);
      EXPECT_EQ(change.subject, file->host_path);
    }
  }
  return lines;
}

struct PlanCase {
  const char* fixture;
  const char* rule;
  std::vector<std::string> changes;
  std::string summary_part;  // in the drop-in's summary, or in the error
  bool is_error;
};

// gtest shows this instead of the parameter's bytes.
void PrintTo(const PlanCase& test_case, std::ostream* out) {
  *out << std::string(test_case.fixture) + " " + test_case.rule;
}

class SysctlPlan : public testing::TestWithParam<PlanCase> {};

TEST_P(SysctlPlan, OfflinePlanOnFixtureTree) {
  const PlanCase& test_case = GetParam();
  PlanOutcome outcome = plan_for(std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + test_case.fixture,
                                 test_case.rule, true);
  if (test_case.is_error) {
    ASSERT_FALSE(outcome.changes);
    EXPECT_NE(outcome.changes.error().message.find(test_case.summary_part), std::string::npos)
        << outcome.changes.error().message;
    return;
  }
  ASSERT_TRUE(outcome.changes) << outcome.changes.error().message;
  EXPECT_EQ(describe(*outcome.changes), test_case.changes);
  if (!test_case.summary_part.empty()) {
    ASSERT_FALSE(outcome.changes->empty());
    EXPECT_NE(outcome.changes->back().summary.find(test_case.summary_part), std::string::npos)
        << outcome.changes->back().summary;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SysctlPlan,
    testing::Values(
        PlanCase{"sysctl-masked",
                 "fin",
                 {"create /etc/sysctl.d/90-qharden-tcp-fin-timeout.conf"},
                 "net.ipv4.tcp_fin_timeout = 30; no other sysctl file sets these keys",
                 false},
        PlanCase{"sysctl-debian-symlink",
                 "keepalive",
                 {"create /etc/sysctl.d/99-zz-qharden-tcp-keepalive.conf"},
                 "its name sorts after /etc/sysctl.d/99-sysctl.conf:5 (7200)",
                 false},
        PlanCase{"sysctl-procps",
                 "fin",
                 {},
                 "/etc/sysctl.conf:2 sets net.ipv4.tcp_fin_timeout = 45, and procps `sysctl "
                 "--system` reads /etc/sysctl.conf after every sysctl.d file, so no drop-in can "
                 "outrank it",
                 true},
        PlanCase{"sysctl-procps",
                 "keepalive",
                 {"create /etc/sysctl.d/90-qharden-tcp-keepalive.conf"},
                 "sorts after /etc/sysctl.d/60-mail.conf:2 (7200), so procps reads it later",
                 false},
        PlanCase{"sysctl-lexical",
                 "keepalive",
                 {"update /etc/sysctl.d/90-qharden-tcp-keepalive.conf"},
                 "update /etc/sysctl.d/90-qharden-tcp-keepalive.conf (owned by qharden)",
                 false},
        PlanCase{"sysctl-lexical", "fin", {}, "", false},
        PlanCase{"sysctl-proc", "fin", {"sysctl net/ipv4/tcp_fin_timeout 60->30"}, "", false},
        PlanCase{"sysctl-proc",
                 "keepalive",
                 {"sysctl net/ipv4/tcp_keepalive_time 7200->900",
                  "create /etc/sysctl.d/90-qharden-tcp-keepalive.conf"},
                 "",
                 false}),
    [](const testing::TestParamInfo<PlanCase>& parameter) {
      return test_name(std::string(parameter.param.fixture) + "_" + parameter.param.rule);
    });

TEST(SysctlPlanContent, UpdateKeepsBeforeAndWritesTheMaximum) {
  PlanOutcome outcome =
      plan_for(std::string(QHARDEN_FIXTURES_DIR) + "/hosts/sysctl-lexical", "keepalive", true);
  ASSERT_TRUE(outcome.changes);
  ASSERT_EQ(outcome.changes->size(), 1u);
  const auto& file = std::get<FileReplacement>(outcome.changes->front().action);
  EXPECT_FALSE(file.create);
  EXPECT_NE(file.before.find("net.ipv4.tcp_keepalive_time = 1200\n"), std::string::npos);
  EXPECT_EQ(file.after,
            render_drop_in("sysctl.tcp-keepalive", {{"net.ipv4.tcp_keepalive_time", 900}}));
  EXPECT_TRUE(is_owned_drop_in(file.after));
  EXPECT_EQ(outcome.changes->front().rule, "sysctl.tcp-keepalive");
}

// qharden writes files, never folders: without /etc/sysctl.d the plan refuses
// the rule and says what to do, rather than apply discovering it half-way.
TEST(SysctlPlanContent, MissingDropInFolderIsRefusedByThePlan) {
  ScratchTree tree;
  tree.write("/etc/sysctl.conf", "# nothing set here\n");
  PlanOutcome outcome = plan_for(tree.path(), "fin", true);
  ASSERT_FALSE(outcome.changes);
  EXPECT_NE(outcome.changes.error().message.find("/etc/sysctl.d does not exist"), std::string::npos)
      << outcome.changes.error().message;
  EXPECT_NE(outcome.changes.error().message.find("mkdir -m 755 /etc/sysctl.d"), std::string::npos);
}

// Writing the planned drop-in must turn the boot-time finding into a pass; a
// drop-in that loses precedence would leave it failing.
TEST(SysctlPlanContent, AppliedDropInWinsAndSecondPlanIsEmpty) {
  for (const char* fixture : {"sysctl-debian-symlink", "sysctl-procps", "sysctl-masked"}) {
    ScratchTree tree;
    tree.copy_fixture(fixture);
    PlanOutcome first = plan_for(tree.path(), "keepalive", true);
    ASSERT_TRUE(first.changes) << fixture << ": " << first.changes.error().message;
    ASSERT_EQ(first.changes->size(), 1u) << fixture;
    const auto& file = std::get<FileReplacement>(first.changes->front().action);
    tree.write(file.host_path, file.after);
    PlanOutcome second = plan_for(tree.path(), "keepalive", true);
    EXPECT_EQ(second.findings[1].subject, file.host_path + ":net.ipv4.tcp_keepalive_time")
        << fixture;
    EXPECT_EQ(second.findings[1].status, Status::pass) << fixture;
    EXPECT_EQ(second.findings[1].evidence["value"], 900) << fixture;
    ASSERT_TRUE(second.changes);
    EXPECT_TRUE(second.changes->empty()) << fixture;
  }
}

struct DropInCase {
  const char* name;
  std::vector<std::pair<std::string, std::string>> files;  // host path, content
  std::string chosen;                                      // file name, or "error"
  bool exists;
  std::vector<std::string> outranks;
};

// gtest shows this instead of the parameter's bytes.
void PrintTo(const DropInCase& test_case, std::ostream* out) {
  *out << test_case.name;
}

constexpr const char* kOwned =
    "# qharden owns this file (rule sysctl.tcp-fin-timeout).\nnet.ipv4.tcp_fin_timeout = 20\n";

class SysctlDropInChoice : public testing::TestWithParam<DropInCase> {};

TEST_P(SysctlDropInChoice, NameSortsLastAndIsOurs) {
  const DropInCase& test_case = GetParam();
  ScratchTree tree;
  tree.write("/run/systemd/system/marker", "");
  for (const auto& [path, content] : test_case.files) tree.write(path, content);
  RootedHost host = open_root(tree.path());
  BootConfiguration configuration = load_boot_configuration(host);
  Expected<DropInChoice> choice =
      choose_drop_in(host, configuration, "tcp-fin-timeout", {"net.ipv4.tcp_fin_timeout"});
  if (test_case.chosen == "error") {
    ASSERT_FALSE(choice);
    EXPECT_NE(choice.error().message.find("no drop-in name"), std::string::npos);
    return;
  }
  ASSERT_TRUE(choice) << choice.error().message;
  EXPECT_EQ(choice->file_name, test_case.chosen);
  EXPECT_EQ(choice->path, "/etc/sysctl.d/" + test_case.chosen);
  EXPECT_EQ(choice->exists, test_case.exists);
  std::vector<std::string> outranks;
  for (const BootAssignment& other : choice->outranks) outranks.push_back(other.file);
  EXPECT_EQ(outranks, test_case.outranks);
}

const std::string kSetsFin = "net.ipv4.tcp_fin_timeout = 60\n";

INSTANTIATE_TEST_SUITE_P(
    Table, SysctlDropInChoice,
    testing::Values(
        DropInCase{"nothing sets it", {}, "90-qharden-tcp-fin-timeout.conf", false, {}},
        DropInCase{"other keys do not count",
                   {{"/etc/sysctl.d/95-other.conf", "kernel.panic = 1\n"}},
                   "90-qharden-tcp-fin-timeout.conf",
                   false,
                   {}},
        DropInCase{"debian 99-sysctl.conf",
                   {{"/etc/sysctl.d/99-sysctl.conf", kSetsFin}},
                   "99-zz-qharden-tcp-fin-timeout.conf",
                   false,
                   {"/etc/sysctl.d/99-sysctl.conf"}},
        DropInCase{"later vendor file",
                   {{"/usr/lib/sysctl.d/99-zzz-vendor.conf", kSetsFin}},
                   "zz-qharden-tcp-fin-timeout.conf",
                   false,
                   {"/usr/lib/sysctl.d/99-zzz-vendor.conf"}},
        DropInCase{
            "nothing can sort later", {{"/etc/sysctl.d/zzz.conf", kSetsFin}}, "error", false, {}},
        DropInCase{"vendor file has our name",
                   {{"/usr/lib/sysctl.d/90-qharden-tcp-fin-timeout.conf", "kernel.panic = 1\n"}},
                   "99-zz-qharden-tcp-fin-timeout.conf",
                   false,
                   {}},
        DropInCase{"file with our name is not ours",
                   {{"/etc/sysctl.d/90-qharden-tcp-fin-timeout.conf", kSetsFin}},
                   "99-zz-qharden-tcp-fin-timeout.conf",
                   false,
                   {"/etc/sysctl.d/90-qharden-tcp-fin-timeout.conf"}},
        DropInCase{"ours exists",
                   {{"/etc/sysctl.d/90-qharden-tcp-fin-timeout.conf", kOwned}},
                   "90-qharden-tcp-fin-timeout.conf",
                   true,
                   {}},
        DropInCase{"our later one is reused",
                   {{"/etc/sysctl.d/99-zz-qharden-tcp-fin-timeout.conf", kOwned}},
                   "99-zz-qharden-tcp-fin-timeout.conf",
                   true,
                   {}},
        DropInCase{"ours is outranked now",
                   {{"/etc/sysctl.d/90-qharden-tcp-fin-timeout.conf", kOwned},
                    {"/etc/sysctl.d/99-sysctl.conf", kSetsFin}},
                   "99-zz-qharden-tcp-fin-timeout.conf",
                   false,
                   {"/etc/sysctl.d/99-sysctl.conf"}}),
    [](const testing::TestParamInfo<DropInCase>& parameter) {
      return test_name(parameter.param.name);
    });

}  // namespace
}  // namespace qharden
