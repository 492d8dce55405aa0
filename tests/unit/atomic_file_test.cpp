#include <gtest/gtest.h>
#include <sys/stat.h>

#include "host/host.h"
#include "journal/atomic_file.h"
#include "journal/sha256.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

using testing::TemporaryTree;

TEST(AtomicFile, ReplacesContentKeepsModeAndLeavesNoTemporary) {
  TemporaryTree tree;
  tree.write("/etc/xinetd.d/smtp_psa", "old\n", 0640);
  Expected<RootedHost> host = RootedHost::open(tree.path());
  ASSERT_TRUE(host);
  Expected<FileSnapshot> snapshot = snapshot_for_write(*host, "/etc/xinetd.d/smtp_psa");
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  EXPECT_EQ(snapshot->sha256, sha256_hex("old\n"));
  Outcome written = write_file_atomically(*host, "/etc/xinetd.d/smtp_psa", "new\n", *snapshot);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(tree.read("/etc/xinetd.d/smtp_psa"), "new\n");
  struct stat details {};
  ASSERT_EQ(::stat(tree.real("/etc/xinetd.d/smtp_psa").c_str(), &details), 0);
  EXPECT_EQ(details.st_mode & 07777, 0640u);
  EXPECT_EQ(tree.listing("/etc/xinetd.d"), "smtp_psa ");
}

TEST(AtomicFile, RefusesWhenTheFileChangedSinceItWasRead) {
  TemporaryTree tree;
  tree.write("/etc/inetd.conf", "planned from this\n");
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Expected<FileSnapshot> snapshot = snapshot_for_write(*host, "/etc/inetd.conf");
  ASSERT_TRUE(snapshot);
  tree.write("/etc/inetd.conf", "Plesk rewrote this\n");
  Outcome written = write_file_atomically(*host, "/etc/inetd.conf", "fixed\n", *snapshot);
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().message.find("changed since it was read"), std::string::npos)
      << written.error().message;
  EXPECT_EQ(tree.read("/etc/inetd.conf"), "Plesk rewrote this\n");
  EXPECT_EQ(tree.listing("/etc"), "inetd.conf ");
}

TEST(AtomicFile, RefusesASymlinkTargetAndNamesItsTarget) {
  TemporaryTree tree;
  tree.write("/etc/real_smtp", "real\n");
  tree.symlink("/etc/real_smtp", "/etc/xinetd.d/smtp_psa");
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Expected<FileSnapshot> snapshot = snapshot_for_write(*host, "/etc/xinetd.d/smtp_psa");
  ASSERT_FALSE(snapshot);
  EXPECT_NE(snapshot.error().message.find("is a symlink to /etc/real_smtp"), std::string::npos)
      << snapshot.error().message;
  EXPECT_EQ(tree.read("/etc/real_smtp"), "real\n");
}

TEST(AtomicFile, CreatesANewFileOnlyWhenItIsStillAbsent) {
  TemporaryTree tree;
  tree.write("/etc/sysctl.d/10-other.conf", "x = 1\n");
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Expected<FileSnapshot> absent = snapshot_for_write(*host, "/etc/sysctl.d/99-qharden.conf");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->exists);
  tree.write("/etc/sysctl.d/99-qharden.conf", "someone else\n");
  EXPECT_FALSE(write_file_atomically(*host, "/etc/sysctl.d/99-qharden.conf", "ours\n", *absent,
                                     FileOwnership{0644, ::getuid(), ::getgid()}));
  EXPECT_EQ(tree.read("/etc/sysctl.d/99-qharden.conf"), "someone else\n");
}

TEST(AtomicFile, SymlinkedFoldersResolveInsideTheRoot) {
  TemporaryTree tree;
  tree.write("/srv/xinetd.d/smtp_psa", "old\n");
  tree.symlink("/srv/xinetd.d", "/etc/xinetd.d");  // absolute: must stay inside the tree
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Expected<FileSnapshot> snapshot = snapshot_for_write(*host, "/etc/xinetd.d/smtp_psa");
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  ASSERT_TRUE(write_file_atomically(*host, "/etc/xinetd.d/smtp_psa", "new\n", *snapshot));
  EXPECT_EQ(tree.read("/srv/xinetd.d/smtp_psa"), "new\n");
}

TEST(AtomicFile, RemoveRefusesAFileChangedSinceWeWroteIt) {
  TemporaryTree tree;
  tree.write("/etc/sysctl.d/99-qharden.conf", "edited by hand\n");
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Outcome removed =
      remove_file_checked(*host, "/etc/sysctl.d/99-qharden.conf", sha256_hex("ours\n"));
  EXPECT_FALSE(removed);
  EXPECT_EQ(tree.read("/etc/sysctl.d/99-qharden.conf"), "edited by hand\n");
  EXPECT_TRUE(
      remove_file_checked(*host, "/etc/sysctl.d/99-qharden.conf", sha256_hex("edited by hand\n")));
  EXPECT_EQ(tree.listing("/etc/sysctl.d"), "");
}

}  // namespace
}  // namespace qharden
