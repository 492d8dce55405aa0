// Reads that need more than an unprivileged user has: netfilter rule sets
// (CAP_NET_ADMIN), which process holds a socket (another user's /proc/PID/fd)
// and what that process runs (its cmdline and environ). The CLI, the fixer and
// an agent started by hand as root make them here. The agent under its unit
// runs as its own user without capabilities, and installs a reader that asks
// its short-lived fixer for them (agent/fixer/), the only part that keeps
// privileges. The rules call privileged_reader() and never know which.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/expected.h"
#include "host/command.h"
#include "host/process_sockets.h"

namespace qharden {

struct ProcessDetails {
  std::string comm;
  std::vector<std::string> argv;
  // Only the variables some rule reads (kEnvironmentNamesRead): an environ
  // can hold passwords, and the unprivileged agent has no business with them.
  std::map<std::string, std::string> environment;
};

// What the rules look up in a process's environment: djbdns's resolver
// (DNSCACHEIP), rblsmtpd's switch (RBLSMTPD) and qmail-smtpd's relay grant
// (RELAYCLIENT). A rule that reads another variable adds it here.
inline const std::vector<std::string> kEnvironmentNamesRead = {"DNSCACHEIP", "RBLSMTPD",
                                                               "RELAYCLIENT"};

// The read-only commands a reader runs. Exact argv only: the fixer accepts
// nothing else from the agent, so a compromised agent cannot make it run a
// command of its choosing.
bool is_allowed_read_command(const std::vector<std::string>& argv);

class PrivilegedReader {
 public:
  virtual ~PrivilegedReader() = default;
  // argv must pass is_allowed_read_command; the error names it otherwise.
  virtual Expected<CommandResult> run_read_command(const std::vector<std::string>& argv,
                                                   std::chrono::milliseconds timeout) = 0;
  virtual Expected<OwnerScan> scan_socket_owners(
      const std::unordered_map<std::uint32_t, int>& inode_groups) = 0;
  // An error when the process is gone or unreadable.
  virtual Expected<ProcessDetails> read_process(pid_t pid) = 0;
};

// Reads this process makes itself, with the privileges it has.
class LocalPrivilegedReader final : public PrivilegedReader {
 public:
  Expected<CommandResult> run_read_command(const std::vector<std::string>& argv,
                                           std::chrono::milliseconds timeout) override;
  Expected<OwnerScan> scan_socket_owners(
      const std::unordered_map<std::uint32_t, int>& inode_groups) override;
  Expected<ProcessDetails> read_process(pid_t pid) override;
};

// The installed reader, or a LocalPrivilegedReader.
PrivilegedReader& privileged_reader();

// Installs reader for this object's lifetime; the previous one comes back after.
class InstalledPrivilegedReader {
 public:
  explicit InstalledPrivilegedReader(PrivilegedReader& reader);
  ~InstalledPrivilegedReader();
  InstalledPrivilegedReader(const InstalledPrivilegedReader&) = delete;
  InstalledPrivilegedReader& operator=(const InstalledPrivilegedReader&) = delete;

 private:
  PrivilegedReader* previous_;
};

// /proc/PID/cmdline or environ split at its NULs.
std::vector<std::string> split_at_nuls(std::string_view raw);

// Reads PROC_ROOT/PID (cmdline, comm, environ filtered to kEnvironmentNamesRead);
// tests point proc_root at a fake /proc.
Expected<ProcessDetails> read_process_details(pid_t pid, const std::string& proc_root);

}  // namespace qharden
