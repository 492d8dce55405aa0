// What the agent and its fixer say to each other: one request, one response,
// each a JSON document sent whole and ended by closing (or half-closing) the
// stream. The fixer (qharden-fixer) is the only part of the agent that keeps
// privileges: it applies, rolls back and re-applies fixes, and makes the reads
// an unprivileged agent cannot (host/privileged_reads.h). Every operation is
// one of a few fixed kinds with checked arguments; the agent cannot name a
// file to write or a command to run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/expected.h"
#include "engine/fix.h"
#include "host/command.h"
#include "host/privileged_reads.h"
#include "host/process_sockets.h"

namespace qharden::fixer {

inline constexpr int kProtocolVersion = 1;
// Large enough for `nft -j list ruleset` of a big firewalld host and an owner
// scan of every stuck socket; small enough that a runaway peer is cut off.
inline constexpr std::size_t kMaximumMessageBytes = 64 * 1024 * 1024;
// A fixer runs for at most this long: an apply waits up to paths.lock_wait_s
// for the lock, reloads daemons and re-audits what it touched (DNS probes).
inline constexpr std::chrono::seconds kTimeLimit{300};
// The agent waits this much longer before it gives up on the fixer.
inline constexpr std::chrono::seconds kClientGrace{10};

enum class Operation { apply, rollback, read_commands, socket_owners, read_process };
std::string_view to_string(Operation operation);

struct Request {
  Operation operation = Operation::apply;
  // Must be the fixer's own: a fixer started by systemd serves / with its
  // default config, and refuses an agent that watches something else.
  std::string root = "/";
  std::optional<std::string> config_file;
  std::string caller;  // for the log: "D-Bus Apply from :1.42 (uid 0)", "drift re-apply"
  // apply
  std::vector<std::string> rules;
  bool rules_named = false;
  bool only_kept = false;
  bool reload = true;
  // rollback ("" = the last change)
  std::string change_id;
  // read_commands: each must pass is_allowed_read_command
  std::vector<std::vector<std::string>> commands;
  std::int64_t timeout_ms = 20000;
  // socket_owners: (inode, group)
  std::vector<std::pair<std::uint32_t, int>> inode_groups;
  // read_process
  pid_t pid = 0;
};

std::string encode_request(const Request& request);
// The error names the field that is missing or wrong.
Expected<Request> decode_request(std::string_view text);

// A response is {"ok": true, "result": ...} or {"ok": false, "error": "..."}.
std::string encode_error(const std::string& message);
std::string encode_apply_result(const ApplyResult& result);
std::string encode_rollback_result(const RollbackResult& result);
std::string encode_command_results(const std::vector<Expected<CommandResult>>& results);
std::string encode_owner_scan(const OwnerScan& scan);
std::string encode_process_details(const ProcessDetails& details);

// Each returns the fixer's error as an error too.
Expected<ApplyResult> decode_apply_result(std::string_view text);
Expected<RollbackResult> decode_rollback_result(std::string_view text);
Expected<std::vector<Expected<CommandResult>>> decode_command_results(std::string_view text);
Expected<OwnerScan> decode_owner_scan(std::string_view text);
Expected<ProcessDetails> decode_process_details(std::string_view text);

}  // namespace qharden::fixer
