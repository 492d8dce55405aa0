// A command's rarely set fields live behind one pointer (issue 15: audit
// memory): a service that sets none of them must not store them, one that
// sets them must read back what it set, and copies must not share them.
#include <gtest/gtest.h>

#include "config/config.h"
#include "host/host.h"
#include "inventory/inventory.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

TEST(ServiceCommandDetails, UnsetReadsAsDefaultWithoutStoring) {
  const ServiceCommand command;
  EXPECT_FALSE(command.details.is_set());
  EXPECT_TRUE(command.details->environment.empty());
  EXPECT_EQ(command.details->exec_start_count, 1);
  EXPECT_EQ(command.details->under_qharden_drop_in, nullptr);
  EXPECT_FALSE(command.details.is_set()) << "reading through a const command stores nothing";
}

TEST(ServiceCommandDetails, CopiesAreDeep) {
  ServiceCommand original;
  original.details->environment["RELAYCLIENT"] = "";
  ServiceCommand copy = original;
  copy.details->environment["LANG"] = "C";
  EXPECT_EQ(original.details->environment.size(), 1u);
  EXPECT_EQ(copy.details->environment.size(), 2u);

  ServiceCommand assigned;
  assigned = original;
  EXPECT_TRUE(assigned.details.is_set());
  original.details->disabled_reason = "disable = yes";
  EXPECT_TRUE(assigned.details->disabled_reason.empty());

  ServiceCommand moved = std::move(copy);
  EXPECT_EQ(moved.details->environment.size(), 2u);

  ServiceCommand plain;
  assigned = plain;
  EXPECT_FALSE(assigned.details.is_set()) << "assigning an unset one unsets it";
}

TEST(ServiceCommandDetails, XinetdStoresThemOnlyForServicesThatHaveThem) {
  testing::TemporaryTree tree;
  tree.write("/etc/xinetd.conf", "includedir /etc/xinetd.d\n");
  tree.write("/etc/xinetd.d/smtp_psa",
             "service smtp\n{\n\tsocket_type = stream\n\twait = no\n\tuser = root\n"
             "\tserver = /var/qmail/bin/tcp-env\n}\n"
             "service submission\n{\n\tsocket_type = stream\n\twait = no\n\tuser = root\n"
             "\tenv = RELAYCLIENT=\n\tpassenv = PATH\n\tlog_type = SYSLOG daemon\n"
             "\tlog_on_failure = USERID\n"
             "\tserver = /var/qmail/bin/tcp-env\n}\n"
             "service smtps\n{\n\tdisable = yes\n\tsocket_type = stream\n\twait = no\n"
             "\tuser = root\n\tserver = /var/qmail/bin/tcp-env\n}\n");
  Expected<RootedHost> host = RootedHost::open(tree.root());
  Expected<Config> config = load_config_from_text("", "test.toml");
  ASSERT_TRUE(host && config);
  ServiceInventory inventory = collect_service_inventory(*host, *config);
  ASSERT_EQ(inventory.commands.size(), 3u);
  const ServiceCommand& plain = inventory.commands[0];
  const ServiceCommand& rich = inventory.commands[1];
  const ServiceCommand& disabled = inventory.commands[2];

  EXPECT_FALSE(plain.details.is_set());
  ASSERT_TRUE(rich.details.is_set());
  EXPECT_EQ(rich.details->environment, (std::map<std::string, std::string>{{"RELAYCLIENT", ""}}));
  EXPECT_EQ(rich.details->passenv, std::vector<std::string>{"PATH"});
  EXPECT_EQ(rich.details->xinetd_ident_attributes, std::vector<std::string>{"log_on_failure"});
  EXPECT_FALSE(disabled.enabled);
  EXPECT_EQ(disabled.details->disabled_reason, "disable = yes");
}

}  // namespace
}  // namespace qharden
