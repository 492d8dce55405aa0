#include "daemon/fixer_reader.h"

namespace qharden::agent {
namespace {

// What read_netfilter may ask for, apart from firewall-cmd, which starts a
// Python interpreter and is only asked for when firewalld is on the bus.
const std::vector<std::vector<std::string>> kNetfilterReads = {
    {"iptables-legacy-save"},         {"iptables-nft-save"},  {"iptables-save"},
    {"ip6tables-legacy-save"},        {"ip6tables-nft-save"}, {"ip6tables-save"},
    {"nft", "-j", "list", "ruleset"},
};

}  // namespace

Expected<CommandResult> FixerPrivilegedReader::run_read_command(
    const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (auto known = answers_.find(argv); known != answers_.end()) return known->second;
  fixer::Request request = client_.request(fixer::Operation::read_commands, "agent read");
  request.commands.push_back(argv);
  if (std::find(kNetfilterReads.begin(), kNetfilterReads.end(), argv) != kNetfilterReads.end()) {
    for (const auto& other : kNetfilterReads) {
      if (other != argv && !answers_.contains(other) && !find_program(other.front()).empty()) {
        request.commands.push_back(other);
      }
    }
  }
  request.timeout_ms = timeout.count();
  ++fixer_runs_;
  // Each command gets its timeout, one after the other.
  auto total = timeout * static_cast<long>(request.commands.size()) + fixer::kClientGrace;
  Expected<std::string> response =
      client_.exchange(request, std::chrono::duration_cast<std::chrono::milliseconds>(total));
  if (!response) return Unexpected(response.error());
  Expected<std::vector<Expected<CommandResult>>> results = fixer::decode_command_results(*response);
  if (!results) return Unexpected(results.error());
  if (results->size() != request.commands.size()) {
    return fail_with("the fixer answered " + std::to_string(results->size()) + " of " +
                     std::to_string(request.commands.size()) + " commands");
  }
  for (std::size_t index = 0; index < results->size(); ++index) {
    answers_.insert_or_assign(request.commands[index], (*results)[index]);
  }
  return answers_.at(argv);
}

Expected<OwnerScan> FixerPrivilegedReader::scan_socket_owners(
    const std::unordered_map<std::uint32_t, int>& inode_groups) {
  fixer::Request request = client_.request(fixer::Operation::socket_owners, "agent read");
  request.inode_groups.assign(inode_groups.begin(), inode_groups.end());
  ++fixer_runs_;
  Expected<std::string> response = client_.exchange(request, fixer::kClientGrace * 6);
  if (!response) return Unexpected(response.error());
  return fixer::decode_owner_scan(*response);
}

Expected<ProcessDetails> FixerPrivilegedReader::read_process(pid_t pid) {
  fixer::Request request = client_.request(fixer::Operation::read_process, "agent read");
  request.pid = pid;
  ++fixer_runs_;
  Expected<std::string> response = client_.exchange(request, fixer::kClientGrace);
  if (!response) return Unexpected(response.error());
  return fixer::decode_process_details(*response);
}

}  // namespace qharden::agent
