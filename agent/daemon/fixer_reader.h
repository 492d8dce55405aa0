// The privileged reads (host/privileged_reads.h) of an unprivileged agent,
// made by its fixer. Each fixer run costs a process (a unit instance under
// systemd), so netfilter is read in one run per job: the first read asks for
// every netfilter tool installed, and the answers serve the rest of the job
// (an audit reads both families, plan reads them again).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "daemon/fixer_client.h"
#include "host/privileged_reads.h"

namespace qharden::agent {

class FixerPrivilegedReader final : public PrivilegedReader {
 public:
  explicit FixerPrivilegedReader(const FixerClient& client) : client_(client) {}

  Expected<CommandResult> run_read_command(const std::vector<std::string>& argv,
                                           std::chrono::milliseconds timeout) override;
  Expected<OwnerScan> scan_socket_owners(
      const std::unordered_map<std::uint32_t, int>& inode_groups) override;
  Expected<ProcessDetails> read_process(pid_t pid) override;

  // A new job sees netfilter as it is now, not as the last job saw it.
  void forget() { answers_.clear(); }
  std::size_t fixer_runs() const { return fixer_runs_; }

 private:
  const FixerClient& client_;
  std::map<std::vector<std::string>, Expected<CommandResult>> answers_;
  std::size_t fixer_runs_ = 0;
};

}  // namespace qharden::agent
