#include <gtest/gtest.h>

#include "config/config.h"

namespace qharden {
namespace {

TEST(Config, BuiltinDefaultsLoad) {
  Expected<Config> config = load_builtin_config();
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->paths.xinetd_conf, "/etc/xinetd.conf");
  EXPECT_EQ(config->tcp_env_flags.options, "-Rt0");
  EXPECT_EQ(config->resolv_nameservers.timeout_ms, 1500);
  EXPECT_EQ(config->paths.run_scripts.size(), 4u);
  EXPECT_EQ(config->smtp_greeting.ports, (std::vector<std::int64_t>{25, 465, 587}));
  EXPECT_EQ(config->agent.reapply.size(), 4u);
}

TEST(Config, OverridesKeyByKey) {
  Expected<Config> config = load_config_from_text(
      "[rules.\"sysctl.tcp-fin-timeout\"]\nmax = 20\n[paths]\nlock_wait_s = 5\n", "site.toml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->sysctl_tcp_fin_timeout.max, 20);
  EXPECT_EQ(config->paths.lock_wait_s, 5);
  // Untouched keys keep their defaults.
  EXPECT_EQ(config->paths.inetd_conf, "/etc/inetd.conf");
  EXPECT_EQ(config->sockets_stuck.close_wait_max, 16);
}

// Paths are compared as strings (a drop-in's path with systemd's DropInPaths,
// a changed file with the files a daemon serves), so they are tidied once.
TEST(Config, PathsLoseTrailingAndDoubledSlashes) {
  Expected<Config> config = load_config_from_text(
      "[paths]\nsystemd_unit_dirs = [\"/etc/systemd/system/\", \"/usr//lib/systemd/system\"]\n"
      "state_dir = \"/var/lib/qharden/\"\nxinetd_conf = \"/\"\n",
      "site.toml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->paths.systemd_unit_dirs,
            (std::vector<std::string>{"/etc/systemd/system", "/usr/lib/systemd/system"}));
  EXPECT_EQ(config->paths.state_dir, "/var/lib/qharden");
  EXPECT_EQ(config->paths.xinetd_conf, "/");
}

struct BadConfigCase {
  const char* name;
  const char* text;
  const char* expected_message_part;
};

class BadConfig : public testing::TestWithParam<BadConfigCase> {};

TEST_P(BadConfig, NamesFileLineAndColumn) {
  const BadConfigCase& test_case = GetParam();
  Expected<Config> config = load_config_from_text(test_case.text, "/etc/qharden/qharden.toml");
  ASSERT_FALSE(config) << test_case.name;
  EXPECT_NE(config.error().message.find(test_case.expected_message_part), std::string::npos)
      << config.error().message;
  EXPECT_EQ(config.error().message.rfind("/etc/qharden/qharden.toml:", 0), 0u)
      << config.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadConfig,
    testing::Values(
        BadConfigCase{"unknown key", "[paths]\nxinetd = \"/x\"\n",
                      ":2:1: unknown key 'paths.xinetd'"},
        BadConfigCase{"unknown table", "[nonsense]\n", "unknown key 'nonsense'"},
        BadConfigCase{"unknown rule table", "[rules.\"tcp-env.flag\"]\noptions = \"-R\"\n",
                      "unknown key 'rules.tcp-env.flag'"},
        BadConfigCase{"wrong type", "[paths]\nlock_wait_s = \"30\"\n",
                      ":2:15: 'paths.lock_wait_s' must be an integer, not a string"},
        BadConfigCase{"wrong element type", "[rules.\"smtp.greeting\"]\nports = [25, \"x\"]\n",
                      "'rules.smtp.greeting.ports' holds an integer values, not a string"},
        BadConfigCase{"syntax error", "[paths\nx=1\n", ":1:"},
        BadConfigCase{"negative", "[rules.\"resolv.nameservers\"]\ntimeout_ms = -1\n",
                      ":2:14: rules.\"resolv.nameservers\".timeout_ms must be between 1 and 60000"},
        BadConfigCase{"relative path", "[paths]\nstate_dir = \"var/lib\"\n",
                      ":2:13: paths.state_dir must be an absolute path"},
        BadConfigCase{"bad port", "[rules.\"smtp.greeting\"]\nports = [25, 70000]\n",
                      "must hold TCP ports"},
        BadConfigCase{"options leave ident on", "[rules.\"tcp-env.flags\"]\noptions = \"-Rr\"\n",
                      "must be tcp-env options that turn ident off"},
        BadConfigCase{"unknown reapply rule", "[agent]\nreapply = [\"tcp-env.flag\"]\n",
                      "unknown rule id 'tcp-env.flag'"},
        BadConfigCase{"bad resolver options",
                      "[rules.\"resolv.nameservers\"]\nfix_options = \"timeout:99\"\n",
                      "must be resolv.conf options"}),
    [](const testing::TestParamInfo<BadConfigCase>& parameter) {
      std::string name = parameter.param.name;
      for (char& character : name) {
        if (!std::isalnum(static_cast<unsigned char>(character))) character = '_';
      }
      return name;
    });

}  // namespace
}  // namespace qharden
