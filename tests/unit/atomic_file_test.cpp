#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>

#include "host/host.h"
#include "journal/atomic_file.h"
#include "journal/sha256.h"
#include "temporary_tree.h"

namespace qharden {
namespace {

using testing::TemporaryTree;

// The value of an attribute, or nullopt when the file does not carry it.
std::optional<std::string> attribute_of(const std::string& path, const std::string& name) {
  char value[4096];
  ssize_t size = ::getxattr(path.c_str(), name.c_str(), value, sizeof value);
  if (size < 0) return std::nullopt;
  return std::string(value, static_cast<std::size_t>(size));
}

bool set_attribute(const std::string& path, const std::string& name, const std::string& value) {
  return ::setxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0) == 0;
}

// Whether the file system under /tmp takes user.* attributes at all (tmpfs
// before Linux 6.6 does not).
bool user_attributes_supported(const TemporaryTree& tree) {
  tree.write("/probe", "");
  bool supported = set_attribute(tree.real("/probe"), "user.qharden-probe", "1");
  ::unlink(tree.real("/probe").c_str());
  return supported;
}

// The kernel's ACL attribute format (linux/posix_acl_xattr.h): a version, then
// (tag, permissions, id) entries sorted by tag and id, all little-endian.
class AclValue {
 public:
  AclValue() { append(2, 4); }
  AclValue& entry(std::uint16_t tag, std::uint16_t permissions, std::uint32_t id = 0xffffffff) {
    append(tag, 2);
    append(permissions, 2);
    append(id, 4);
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  void append(std::uint32_t number, int width) {
    for (int index = 0; index < width; ++index) {
      bytes_.push_back(static_cast<char>((number >> (8 * index)) & 0xff));
    }
  }
  std::string bytes_;
};
constexpr std::uint16_t kAclUserObject = 0x01, kAclUser = 0x02, kAclGroupObject = 0x04,
                        kAclMask = 0x10, kAclOther = 0x20;
constexpr std::uint32_t kNobody = 65534;

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

TEST(AtomicFile, ReplacementCarriesTheOriginalsUserAttributes) {
  TemporaryTree tree;
  if (!user_attributes_supported(tree)) GTEST_SKIP() << "/tmp takes no user.* attributes";
  tree.write("/etc/xinetd.d/smtp_psa", "old\n", 0640);
  std::string real = tree.real("/etc/xinetd.d/smtp_psa");
  ASSERT_TRUE(set_attribute(real, "user.origin", "plesk"));
  ASSERT_TRUE(set_attribute(real, "user.empty", ""));
  ASSERT_TRUE(set_attribute(real, "user.binary", std::string("a\0b", 3)));
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Expected<FileSnapshot> snapshot = snapshot_for_write(*host, "/etc/xinetd.d/smtp_psa");
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  Outcome written = write_file_atomically(*host, "/etc/xinetd.d/smtp_psa", "new\n", *snapshot);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(tree.read("/etc/xinetd.d/smtp_psa"), "new\n");
  EXPECT_EQ(attribute_of(real, "user.origin"), "plesk");
  EXPECT_EQ(attribute_of(real, "user.empty"), "");
  EXPECT_EQ(attribute_of(real, "user.binary"), std::string("a\0b", 3));
  EXPECT_EQ(tree.listing("/etc/xinetd.d"), "smtp_psa ");
}

TEST(AtomicFile, ReplacementKeepsTheOriginalsAclAndMode) {
  TemporaryTree tree;
  tree.write("/etc/resolv.conf", "nameserver 192.0.2.1\n", 0640);
  std::string real = tree.real("/etc/resolv.conf");
  std::string acl = AclValue()
                        .entry(kAclUserObject, 6)
                        .entry(kAclUser, 4, kNobody)
                        .entry(kAclGroupObject, 4)
                        .entry(kAclMask, 4)
                        .entry(kAclOther, 0)
                        .bytes();
  if (!set_attribute(real, "system.posix_acl_access", acl)) {
    GTEST_SKIP() << "/tmp takes no POSIX ACLs: " << std::strerror(errno);
  }
  std::optional<std::string> before = attribute_of(real, "system.posix_acl_access");
  ASSERT_TRUE(before);
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Expected<FileSnapshot> snapshot = snapshot_for_write(*host, "/etc/resolv.conf");
  ASSERT_TRUE(snapshot) << snapshot.error().message;
  Outcome written =
      write_file_atomically(*host, "/etc/resolv.conf", "nameserver 192.0.2.2\n", *snapshot);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(attribute_of(real, "system.posix_acl_access"), before);
  struct stat details {};
  ASSERT_EQ(::stat(real.c_str(), &details), 0);
  EXPECT_EQ(details.st_mode & 07777, 0640u);
}

// A folder's default ACL is for new files; a replacement keeps the original's
// lack of one, while a file created new gets it as any new file would.
TEST(AtomicFile, InheritedAclOnlyForNewFiles) {
  TemporaryTree tree;
  tree.write("/etc/sysctl.d/10-other.conf", "x = 1\n", 0644);
  std::string folder = tree.real("/etc/sysctl.d");
  std::string inherited = AclValue()
                              .entry(kAclUserObject, 7)
                              .entry(kAclUser, 4, kNobody)
                              .entry(kAclGroupObject, 5)
                              .entry(kAclMask, 5)
                              .entry(kAclOther, 5)
                              .bytes();
  if (!set_attribute(folder, "system.posix_acl_default", inherited)) {
    GTEST_SKIP() << "/tmp takes no POSIX ACLs: " << std::strerror(errno);
  }
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Expected<FileSnapshot> snapshot = snapshot_for_write(*host, "/etc/sysctl.d/10-other.conf");
  ASSERT_TRUE(snapshot);
  Outcome written =
      write_file_atomically(*host, "/etc/sysctl.d/10-other.conf", "x = 2\n", *snapshot);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(attribute_of(tree.real("/etc/sysctl.d/10-other.conf"), "system.posix_acl_access"),
            std::nullopt);
  struct stat details {};
  ASSERT_EQ(::stat(tree.real("/etc/sysctl.d/10-other.conf").c_str(), &details), 0);
  EXPECT_EQ(details.st_mode & 07777, 0644u);

  Expected<FileSnapshot> absent = snapshot_for_write(*host, "/etc/sysctl.d/99-qharden.conf");
  ASSERT_TRUE(absent);
  written = write_file_atomically(*host, "/etc/sysctl.d/99-qharden.conf", "y = 1\n", *absent,
                                  FileOwnership{0644, ::getuid(), ::getgid()});
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_NE(attribute_of(tree.real("/etc/sysctl.d/99-qharden.conf"), "system.posix_acl_access"),
            std::nullopt);
}

// Runs write_file_atomically in a child whose fsetxattr always fails with
// EPERM, as an LSM or a missing capability would make it fail, and returns the
// child's error message ("" when it succeeded).
std::string replace_where_setting_attributes_fails(const std::string& root,
                                                   const std::string& host_path) {
  int channel[2];
  if (::pipe(channel) != 0) return "pipe failed";
  pid_t child = ::fork();
  if (child == 0) {
    ::close(channel[0]);
    // Only the system call number is checked: the child makes this one
    // replacement and exits.
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fsetxattr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
      _exit(2);
    }
    std::string message = "setup failed";
    Expected<RootedHost> host = RootedHost::open(root);
    if (host) {
      Expected<FileSnapshot> snapshot = snapshot_for_write(*host, host_path);
      if (snapshot) {
        Outcome written = write_file_atomically(*host, host_path, "new\n", *snapshot);
        message = written ? "" : written.error().message;
      } else {
        message = snapshot.error().message;
      }
    }
    ssize_t ignored = ::write(channel[1], message.data(), message.size());
    (void)ignored;
    _exit(0);
  }
  ::close(channel[1]);
  std::string message;
  char buffer[1024];
  ssize_t count = 0;
  while ((count = ::read(channel[0], buffer, sizeof buffer)) > 0) {
    message.append(buffer, static_cast<std::size_t>(count));
  }
  ::close(channel[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed to install seccomp";
  return message;
}

TEST(AtomicFile, AnAttributeThatCannotBeCopiedStopsTheWrite) {
  TemporaryTree tree;
  if (!user_attributes_supported(tree)) GTEST_SKIP() << "/tmp takes no user.* attributes";
  tree.write("/etc/xinetd.d/smtp_psa", "old\n", 0640);
  ASSERT_TRUE(set_attribute(tree.real("/etc/xinetd.d/smtp_psa"), "user.origin", "plesk"));
  std::string message =
      replace_where_setting_attributes_fails(tree.path(), "/etc/xinetd.d/smtp_psa");
  EXPECT_EQ(message,
            "/etc/xinetd.d/smtp_psa: cannot copy extended attribute user.origin: Operation not "
            "permitted; nothing was written");
  EXPECT_EQ(tree.read("/etc/xinetd.d/smtp_psa"), "old\n");
  EXPECT_EQ(attribute_of(tree.real("/etc/xinetd.d/smtp_psa"), "user.origin"), "plesk");
  EXPECT_EQ(tree.listing("/etc/xinetd.d"), "smtp_psa ");
}

// A file without attributes makes no attribute call at all, so a host whose
// policy forbids setting them can still have such files fixed.
TEST(AtomicFile, AFileWithoutAttributesNeedsNoAttributeCalls) {
  TemporaryTree tree;
  tree.write("/etc/xinetd.d/smtp_psa", "old\n", 0640);
  EXPECT_EQ(replace_where_setting_attributes_fails(tree.path(), "/etc/xinetd.d/smtp_psa"), "");
  EXPECT_EQ(tree.read("/etc/xinetd.d/smtp_psa"), "new\n");
}

// chown clears security.capability; the replacement still carries it. Setting
// it and giving the file to another owner both need root.
TEST(AtomicFile, FileCapabilitiesSurviveTheOwnerChange) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (file capabilities, chown)";
  TemporaryTree tree;
  tree.write("/var/qmail/bin/helper", "#!/bin/sh\n", 0750);
  std::string real = tree.real("/var/qmail/bin/helper");
  ASSERT_EQ(::chown(real.c_str(), kNobody, kNobody), 0);
  // vfs_cap_data revision 2, effective: cap_net_bind_service permitted.
  std::string capability(
      "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x00",
      20);
  if (!set_attribute(real, "security.capability", capability)) {
    GTEST_SKIP() << "cannot set security.capability here: " << std::strerror(errno);
  }
  Expected<RootedHost> host = RootedHost::open(tree.path());
  Expected<FileSnapshot> snapshot = snapshot_for_write(*host, "/var/qmail/bin/helper");
  ASSERT_TRUE(snapshot);
  Outcome written =
      write_file_atomically(*host, "/var/qmail/bin/helper", "#!/bin/sh\nexit 0\n", *snapshot);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(attribute_of(real, "security.capability"), capability);
  struct stat details {};
  ASSERT_EQ(::stat(real.c_str(), &details), 0);
  EXPECT_EQ(details.st_uid, kNobody);
  EXPECT_EQ(details.st_mode & 07777, 0750u);
}

}  // namespace
}  // namespace qharden
