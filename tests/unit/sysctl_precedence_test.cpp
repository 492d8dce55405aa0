#include <gtest/gtest.h>

#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "host/host.h"
#include "sysctl/boot_precedence.h"

namespace qharden {
namespace {

RootedHost open_root_folder(const std::string& root) {
  Expected<RootedHost> host = RootedHost::open(root);
  if (!host) ADD_FAILURE() << host.error().message;
  return std::move(host).value();
}

RootedHost open_fixture(const std::string& name) {
  return open_root_folder(std::string(QHARDEN_FIXTURES_DIR) + "/hosts/" + name);
}

std::string test_name(std::string name) {
  for (char& character : name) {
    if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
  }
  return name;
}

struct ReadOrderCase {
  const char* fixture;
  SysctlTool tool;
  std::vector<std::string> read_order;  // listed paths, "(masked)" appended for masks
  std::vector<std::string> shadowed;
};

// gtest shows this instead of the parameter's bytes.
void PrintTo(const ReadOrderCase& test_case, std::ostream* out) {
  *out << test_case.fixture;
}

class SysctlReadOrder : public testing::TestWithParam<ReadOrderCase> {};

TEST_P(SysctlReadOrder, ListsFilesAsTheToolReadsThem) {
  const ReadOrderCase& test_case = GetParam();
  RootedHost host = open_fixture(test_case.fixture);
  BootConfiguration configuration = load_boot_configuration(host);
  EXPECT_EQ(configuration.tool.tool, test_case.tool) << configuration.tool.reason;
  std::vector<std::string> read_order;
  for (const SysctlReadFile& file : configuration.files) {
    EXPECT_FALSE(file.read_error) << *file.read_error;
    read_order.push_back(file.listed_path + (file.masked ? " (masked)" : ""));
  }
  EXPECT_EQ(read_order, test_case.read_order);
  std::vector<std::string> shadowed;
  for (const SysctlShadowedFile& file : configuration.shadowed) {
    shadowed.push_back(file.path + " by " + file.shadowed_by);
  }
  EXPECT_EQ(shadowed, test_case.shadowed);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SysctlReadOrder,
    testing::Values(
        ReadOrderCase{"sysctl-systemd-etc-wins",
                      SysctlTool::systemd_sysctl,
                      {"/usr/lib/sysctl.d/10-vendor.conf", "/etc/sysctl.d/50-mail.conf",
                       "/run/sysctl.d/60-runtime.conf"},
                      {"/usr/local/lib/sysctl.d/60-runtime.conf by /run/sysctl.d/60-runtime.conf",
                       "/usr/lib/sysctl.d/50-mail.conf by /etc/sysctl.d/50-mail.conf"}},
        ReadOrderCase{"sysctl-masked",
                      SysctlTool::systemd_sysctl,
                      {"/etc/sysctl.d/50-vendor.conf (masked)"},
                      {"/usr/lib/sysctl.d/50-vendor.conf by /etc/sysctl.d/50-vendor.conf"}},
        ReadOrderCase{"sysctl-debian-symlink",
                      SysctlTool::systemd_sysctl,
                      {"/etc/sysctl.d/30-mail.conf", "/usr/lib/sysctl.d/50-default.conf",
                       "/etc/sysctl.d/99-sysctl.conf"},
                      {}},
        ReadOrderCase{"sysctl-procps",
                      SysctlTool::procps,
                      {"/lib/sysctl.d/10-lib.conf", "/etc/sysctl.d/60-mail.conf",
                       "/etc/sysctl.d/99-sysctl.conf", "/etc/sysctl.conf"},
                      {}},
        ReadOrderCase{
            "sysctl-lexical",
            SysctlTool::systemd_sysctl,
            {"/usr/lib/sysctl.d/10-a.conf", "/etc/sysctl.d/20-b.conf", "/run/sysctl.d/30-c.conf",
             "/usr/lib/sysctl.d/40-d.conf", "/usr/lib/sysctl.d/50-keepalive.conf",
             "/etc/sysctl.d/90-qharden-tcp-keepalive.conf"},
            {}}),
    [](const testing::TestParamInfo<ReadOrderCase>& parameter) {
      return test_name(parameter.param.fixture);
    });

struct KeyCase {
  const char* fixture;
  const char* key;
  std::string winner;  // "FILE:LINE=VALUE", or "" when no file sets it
  std::vector<std::string> overridden;
  std::vector<std::string> shadowed;
  std::vector<std::string> ignored_lines;
  std::vector<std::string> unread_lines;
};

// gtest shows this instead of the parameter's bytes.
void PrintTo(const KeyCase& test_case, std::ostream* out) {
  *out << std::string(test_case.fixture) + " " + test_case.key;
}

class SysctlBootKey : public testing::TestWithParam<KeyCase> {};

TEST_P(SysctlBootKey, ResolvesTheWinningAssignment) {
  const KeyCase& test_case = GetParam();
  RootedHost host = open_fixture(test_case.fixture);
  BootKeyResolution resolution = resolve_boot_key(load_boot_configuration(host), test_case.key);
  EXPECT_FALSE(resolution.uncertain_because) << *resolution.uncertain_because;
  std::string winner;
  if (resolution.winner) {
    winner = resolution.winner->file + ":" + std::to_string(resolution.winner->line) + "=" +
             resolution.winner->value;
  }
  EXPECT_EQ(winner, test_case.winner);
  std::vector<std::string> overridden;
  for (const BootAssignment& earlier : resolution.overridden) overridden.push_back(earlier.file);
  EXPECT_EQ(overridden, test_case.overridden);
  std::vector<std::string> shadowed;
  for (const SysctlShadowedFile& file : resolution.shadowed) shadowed.push_back(file.path);
  EXPECT_EQ(shadowed, test_case.shadowed);
  EXPECT_EQ(resolution.ignored_lines, test_case.ignored_lines);
  EXPECT_EQ(resolution.unread_lines, test_case.unread_lines);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SysctlBootKey,
    testing::Values(KeyCase{"sysctl-systemd-etc-wins",
                            "net.ipv4.tcp_fin_timeout",
                            "/etc/sysctl.d/50-mail.conf:2=25",
                            {},
                            {"/usr/lib/sysctl.d/50-mail.conf"},
                            {},
                            {}},
                    KeyCase{"sysctl-systemd-etc-wins",
                            "net.ipv4.tcp_keepalive_time",
                            "/usr/lib/sysctl.d/10-vendor.conf:1=600",
                            {},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-systemd-etc-wins",
                            "net.ipv4.tcp_keepalive_intvl",
                            "",
                            {},
                            {"/usr/lib/sysctl.d/50-mail.conf"},
                            {},
                            {}},
                    KeyCase{"sysctl-systemd-etc-wins",
                            "net.ipv4.tcp_keepalive_probes",
                            "/run/sysctl.d/60-runtime.conf:1=5",
                            {},
                            {"/usr/local/lib/sysctl.d/60-runtime.conf"},
                            {},
                            {}},
                    KeyCase{"sysctl-masked",
                            "net.ipv4.tcp_fin_timeout",
                            "",
                            {},
                            {"/usr/lib/sysctl.d/50-vendor.conf"},
                            {},
                            {}},
                    KeyCase{"sysctl-masked",
                            "net.ipv4.tcp_keepalive_time",
                            "",
                            {},
                            {"/usr/lib/sysctl.d/50-vendor.conf"},
                            {},
                            {"/etc/sysctl.conf:2"}},
                    KeyCase{"sysctl-debian-symlink",
                            "net.ipv4.tcp_fin_timeout",
                            "/etc/sysctl.d/99-sysctl.conf:4=15",
                            {"/etc/sysctl.d/30-mail.conf"},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-debian-symlink",
                            "net.ipv4.tcp_keepalive_time",
                            "/etc/sysctl.d/99-sysctl.conf:5=7200",
                            {},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-procps",
                            "net.ipv4.tcp_fin_timeout",
                            "/etc/sysctl.conf:2=45",
                            {"/etc/sysctl.d/60-mail.conf", "/etc/sysctl.d/99-sysctl.conf"},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-procps",
                            "net.ipv4.tcp_keepalive_intvl",
                            "/lib/sysctl.d/10-lib.conf:1=30",
                            {},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-lexical",
                            "net.ipv4.tcp_fin_timeout",
                            "/usr/lib/sysctl.d/40-d.conf:1=28",
                            {"/usr/lib/sysctl.d/10-a.conf", "/etc/sysctl.d/20-b.conf",
                             "/run/sysctl.d/30-c.conf"},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-slash-keys",
                            "net.ipv4.tcp_fin_timeout",
                            "/etc/sysctl.d/10-slash.conf:1=20",
                            {},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-slash-keys",
                            "net.ipv4.tcp_keepalive_time",
                            "/etc/sysctl.d/10-slash.conf:3=600",
                            {},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-slash-keys",
                            "net.ipv4.tcp_keepalive_intvl",
                            "/etc/sysctl.d/10-slash.conf:5=60",
                            {},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-malformed",
                            "net.ipv4.tcp_fin_timeout",
                            "",
                            {},
                            {},
                            {"/etc/sysctl.d/10-bad.conf:1"},
                            {}},
                    KeyCase{"sysctl-malformed",
                            "net.ipv4.tcp_keepalive_time",
                            "/etc/sysctl.d/10-bad.conf:2=fast",
                            {},
                            {},
                            {},
                            {}},
                    KeyCase{"sysctl-malformed",
                            "net.ipv4.tcp_keepalive_probes",
                            "/etc/sysctl.d/20-binary.conf:3=4 # four",
                            {"/etc/sysctl.d/10-bad.conf"},
                            {},
                            {},
                            {}}),
    [](const testing::TestParamInfo<KeyCase>& parameter) {
      return test_name(std::string(parameter.param.fixture) + "_" + parameter.param.key);
    });

TEST(SysctlToolDetection, NamesWhatDecidedIt) {
  RootedHost booted = open_fixture("sysctl-lexical");
  SysctlToolChoice by_run = detect_sysctl_tool(booted);
  EXPECT_EQ(by_run.tool, SysctlTool::systemd_sysctl);
  EXPECT_EQ(by_run.reason, "/run/systemd/system exists: systemd is running as init");
  SysctlToolChoice by_init = detect_sysctl_tool(open_fixture("sysctl-masked"));
  EXPECT_EQ(by_init.tool, SysctlTool::systemd_sysctl);
  EXPECT_EQ(by_init.reason, "/sbin/init links to ../lib/systemd/systemd: systemd boots this tree");
  SysctlToolChoice sysvinit = detect_sysctl_tool(open_fixture("sysctl-procps"));
  EXPECT_EQ(sysvinit.tool, SysctlTool::procps);
  EXPECT_EQ(to_string(sysvinit.tool), "procps");
  EXPECT_EQ(to_string(by_run.tool), "systemd-sysctl");
}

TEST(SysctlToolDetection, SameTreeReadEitherWayDiffers) {
  // The Debian tree under procps: /etc/sysctl.conf is read twice, the last time
  // after everything, so it still wins; under systemd only the link reads it.
  RootedHost host = open_fixture("sysctl-debian-symlink");
  BootConfiguration procps =
      load_boot_configuration(host, SysctlToolChoice{SysctlTool::procps, "test"});
  BootKeyResolution resolution = resolve_boot_key(procps, "net.ipv4.tcp_fin_timeout");
  ASSERT_TRUE(resolution.winner);
  EXPECT_EQ(resolution.winner->file, "/etc/sysctl.conf");
  EXPECT_EQ(resolution.winner->file_name, "");
  ASSERT_EQ(procps.files.size(), 4u);
  EXPECT_EQ(procps.files.back().listed_path, "/etc/sysctl.conf");
}

TEST(SysctlToolDetection, LiveHostTrustsOnlySdBooted) {
  RootedHost live = open_root_folder("/");
  bool booted = std::filesystem::is_directory("/run/systemd/system");
  EXPECT_EQ(detect_sysctl_tool(live).tool,
            booted ? SysctlTool::systemd_sysctl : SysctlTool::procps);
}

TEST(SysctlReadOrderLinks, LibLinkedToUsrLibIsNotShadowing) {
  char pattern[] = "/tmp/qharden-sysctl-lib-XXXXXX";
  std::string root = ::mkdtemp(pattern);
  std::filesystem::create_directories(root + "/usr/lib/sysctl.d");
  std::ofstream(root + "/usr/lib/sysctl.d/50-x.conf") << "net.ipv4.tcp_fin_timeout = 20\n";
  std::filesystem::create_directory_symlink("usr/lib", root + "/lib");
  {
    RootedHost host = open_root_folder(root);
    BootConfiguration configuration =
        load_boot_configuration(host, SysctlToolChoice{SysctlTool::procps, "test"});
    ASSERT_EQ(configuration.files.size(), 1u);
    EXPECT_EQ(configuration.files[0].listed_path, "/usr/lib/sysctl.d/50-x.conf");
    EXPECT_TRUE(configuration.shadowed.empty());
    EXPECT_EQ(sysctl_directories(host, SysctlTool::systemd_sysctl).size(), 4u);
    EXPECT_EQ(sysctl_directories(host, SysctlTool::procps).size(), 5u);
  }
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace qharden
