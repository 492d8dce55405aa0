#include <gtest/gtest.h>

#include "host/host.h"
#include "parsers/qmail_control.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

TEST(QmailControl, ReadfileSemantics) {
  std::vector<std::string> lines =
      control_file_lines("example.com \t\n\n# comment\n  lead.example\n.sub.example");
  EXPECT_EQ(lines, (std::vector<std::string>{"example.com", "  lead.example", ".sub.example"}));
}

TEST(QmailControl, NulSplitsAnEntryAndALeadingNulSkipsTheLine) {
  std::vector<std::string> lines = control_file_lines(std::string("a\0b\n\0c\nd\n", 9));
  EXPECT_EQ(lines, (std::vector<std::string>{"a", "b", "d"}));
}

TEST(QmailControl, FirstLine) {
  EXPECT_EQ(control_first_line("mail.example \n other\n"), "mail.example");
  EXPECT_EQ(control_first_line(""), "");
}

TEST(QmailControl, MissingUnreadableAndPresentAreApart) {
  testing::TemporaryTree tree;
  tree.write("/var/qmail/control/rcpthosts", "Example.COM\n");
  std::filesystem::create_directories(tree.real("/var/qmail/control/morercpthosts"));
  Expected<RootedHost> host = RootedHost::open(tree.root());
  ASSERT_TRUE(host);
  ControlFile present = read_control_file(*host, "/var/qmail/control/rcpthosts");
  EXPECT_EQ(present.state, ControlState::present);
  EXPECT_EQ(present.lines, std::vector<std::string>{"Example.COM"});
  EXPECT_EQ(read_control_file(*host, "/var/qmail/control/percenthack").state,
            ControlState::missing);
  ControlFile directory = read_control_file(*host, "/var/qmail/control/morercpthosts");
  EXPECT_EQ(directory.state, ControlState::unreadable);
  EXPECT_FALSE(directory.error.empty());
}

TEST(QmailControl, VirtualdomainsDomains) {
  EXPECT_EQ(virtualdomains_domains(
                {"Example.com:alice", ".sub.example:bob", "joe@x.example:joe", ":nothing"}),
            (std::vector<std::string>{"example.com", ".sub.example"}));
}

}  // namespace
}  // namespace qharden
