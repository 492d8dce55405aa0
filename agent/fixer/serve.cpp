#include "fixer/serve.h"

#include <algorithm>

#include "config/config.h"
#include "engine/fix.h"
#include "engine/registry.h"
#include "fixer/protocol.h"
#include "host/host.h"
#include "host/privileged_reads.h"
#include "journal/journal.h"

namespace qharden::fixer {
namespace {

// Bounds on what one request may ask, so that a confused or hostile agent
// cannot make the fixer hold or run without limit.
constexpr std::size_t kMaximumRules = 64;
constexpr std::size_t kMaximumCommands = 16;
constexpr std::size_t kMaximumInodes = 4 * 1024 * 1024;

Served refuse(const std::string& message) {
  return {encode_error(message), "refused: " + message};
}

std::string outcome_summary(const std::vector<ChangeOutcome>& outcomes) {
  std::string text;
  for (const ChangeOutcome& outcome : outcomes) {
    text +=
        (text.empty() ? "" : "; ") + outcome.rule + " " + outcome.subject + ": " + outcome.outcome;
  }
  return text.empty() ? "nothing to do" : text;
}

Served serve_apply(const Request& request, const RootedHost& host, const Config& config) {
  if (request.rules.size() > kMaximumRules) return refuse("more than 64 rules");
  Expected<std::vector<const Rule*>> rules = select_rules(request.rules);
  if (!rules) return refuse(rules.error().message);
  if (request.only_kept) {
    // A re-apply keeps only what the operator applied, and only for rules the
    // operator let the agent keep (agent.reapply), whatever the agent asks.
    for (const std::string& rule : request.rules) {
      const auto& reapply = config.agent.reapply;
      if (std::find(reapply.begin(), reapply.end(), rule) == reapply.end()) {
        return refuse(rule + " is not in agent.reapply of " + config.source +
                      ", so it is not re-applied");
      }
    }
  }
  FixSelection selection{*rules, request.rules_named, false, request.only_kept};
  if (selection.rules.empty()) {
    for (const auto& rule : all_rules()) selection.rules.push_back(rule.get());
  }
  Expected<ApplyResult> applied =
      apply_fixes(host, config, selection, ApplyOptions{request.reload});
  if (!applied) return refuse(applied.error().message);
  std::string summary = outcome_summary(applied->outcomes);
  if (!applied->change_id.empty()) summary = "change " + applied->change_id + ": " + summary;
  return {encode_apply_result(*applied), summary};
}

Served serve_rollback(const Request& request, const RootedHost& host, const Config& config) {
  if (!request.change_id.empty() && !is_valid_change_id(request.change_id)) {
    return refuse("change_id \"" + request.change_id + "\" is not a change id");
  }
  Expected<RollbackResult> rolled = rollback_change(host, config, request.change_id, false);
  if (!rolled) return refuse(rolled.error().message);
  return {encode_rollback_result(*rolled),
          "rolled back " + rolled->change_id + ": " + outcome_summary(rolled->restored)};
}

Served serve_read_commands(const Request& request) {
  if (request.commands.size() > kMaximumCommands) return refuse("more than 16 commands");
  for (const auto& argv : request.commands) {
    if (!is_allowed_read_command(argv)) {
      return refuse(describe_argv(argv) + ": not one of the read-only commands qharden runs");
    }
  }
  LocalPrivilegedReader reader;
  std::vector<Expected<CommandResult>> results;
  std::string summary;
  for (const auto& argv : request.commands) {
    results.push_back(reader.run_read_command(argv, std::chrono::milliseconds(request.timeout_ms)));
    summary += (summary.empty() ? "read " : ", ") + describe_argv(argv);
  }
  return {encode_command_results(results), summary};
}

Served serve_socket_owners(const Request& request) {
  if (request.inode_groups.size() > kMaximumInodes) return refuse("too many inodes");
  std::unordered_map<std::uint32_t, int> inode_groups(request.inode_groups.begin(),
                                                      request.inode_groups.end());
  LocalPrivilegedReader reader;
  Expected<OwnerScan> scan = reader.scan_socket_owners(inode_groups);
  if (!scan) return refuse(scan.error().message);
  return {encode_owner_scan(*scan), "owners of " + std::to_string(inode_groups.size()) +
                                        " sockets: " + std::to_string(scan->holdings.size()) +
                                        " holdings"};
}

Served serve_read_process(const Request& request) {
  LocalPrivilegedReader reader;
  Expected<ProcessDetails> details = reader.read_process(request.pid);
  if (!details) return refuse(details.error().message);
  return {encode_process_details(*details), "read process " + std::to_string(request.pid)};
}

}  // namespace

Served serve_request(std::string_view request_text, const FixerSettings& settings) {
  Expected<Request> request = decode_request(request_text);
  if (!request) return refuse(request.error().message);
  // The fixer's root and config are its own (command line or unit), never the
  // agent's word: a fixer started by systemd serves / only.
  if (request->root != settings.root) {
    return refuse("this fixer serves root " + settings.root + ", not " + request->root +
                  " (start qhardend with the fixer's --root, or the fixer with the agent's)");
  }
  if (request->config_file != settings.config_file) {
    return refuse("this fixer reads config " + settings.config_file.value_or("(default)") +
                  ", not " + request->config_file.value_or("(default)"));
  }
  bool is_read = request->operation == Operation::read_commands ||
                 request->operation == Operation::socket_owners ||
                 request->operation == Operation::read_process;
  if (is_read && settings.serves == Serves::fixes) {
    return refuse(std::string(to_string(request->operation)) +
                  ": this is qharden's fixer, which only fixes; reads go to qharden-reader");
  }
  if (!is_read && settings.serves == Serves::reads) {
    return refuse(std::string(to_string(request->operation)) +
                  ": this is qharden's reader, which changes nothing; fixes go to qharden-fixer");
  }
  Served served;
  switch (request->operation) {
    case Operation::read_commands:
      served = serve_read_commands(*request);
      break;
    case Operation::socket_owners:
      served = serve_socket_owners(*request);
      break;
    case Operation::read_process:
      served = serve_read_process(*request);
      break;
    case Operation::apply:
    case Operation::rollback: {
      Expected<RootedHost> host = RootedHost::open(settings.root);
      if (!host) return refuse(host.error().message);
      Expected<Config> config = load_config(settings.config_file, *host);
      if (!config) return refuse("config: " + config.error().message);
      served = request->operation == Operation::apply ? serve_apply(*request, *host, *config)
                                                      : serve_rollback(*request, *host, *config);
      break;
    }
  }
  served.summary = std::string(to_string(request->operation)) + " for " + request->caller + ": " +
                   served.summary;
  return served;
}

}  // namespace qharden::fixer
