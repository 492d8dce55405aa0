#include <iostream>

#include "cli/commands.h"
#include "engine/fix.h"
#include "engine/registry.h"
#include "host/host.h"

namespace qharden {
namespace {

struct Prepared {
  std::optional<RootedHost> host;
  std::optional<Config> config;
  FixSelection selection;
};

// Opens the root, loads the config and resolves --rule; prints the reason and
// returns nullopt on bad usage or config (exit 3).
std::optional<Prepared> prepare(const CommonOptions& options) {
  Expected<RootedHost> host = RootedHost::open(options.root);
  if (!host) {
    std::cerr << "qharden: " << host.error().message << '\n';
    return std::nullopt;
  }
  Expected<Config> config = load_config(options.config_file, *host);
  if (!config) {
    std::cerr << "qharden: config: " << config.error().message << '\n';
    return std::nullopt;
  }
  Expected<std::vector<const Rule*>> rules = select_rules(options.rule_ids);
  if (!rules) {
    std::cerr << "qharden: " << rules.error().message << '\n';
    return std::nullopt;
  }
  Prepared prepared;
  prepared.host.emplace(std::move(*host));
  prepared.config = std::move(*config);
  prepared.selection.rules = std::move(*rules);
  prepared.selection.rules_named = !options.rule_ids.empty();
  prepared.selection.offline = options.offline;
  return prepared;
}

}  // namespace

int run_plan_command(const CommonOptions& options) {
  std::optional<Prepared> prepared = prepare(options);
  if (!prepared) return 3;
  AuditContext context(*prepared->host, *prepared->config, options.offline);
  PlanResult plan = make_plan(context, prepared->selection);
  std::cout << render_plan(plan);
  return 0;
}

int run_apply_command(const CommonOptions& options, bool reload) {
  std::optional<Prepared> prepared = prepare(options);
  if (!prepared) return 3;
  Expected<ApplyResult> applied =
      apply_fixes(*prepared->host, *prepared->config, prepared->selection, ApplyOptions{reload});
  if (!applied) {
    std::cerr << "qharden: apply: " << applied.error().message << '\n';
    return 1;
  }
  for (const ChangeOutcome& outcome : applied->outcomes) {
    std::cout << outcome.rule << "  " << outcome.subject << "  " << outcome.outcome << '\n';
  }
  for (const std::string& note : applied->notes) std::cout << note << '\n';
  if (!applied->change_id.empty() && !applied->changed_anything) {
    std::cout << "nothing was changed (attempt recorded as " << applied->change_id
              << " in `qharden history`)\n";
  } else if (!applied->change_id.empty()) {
    std::cout << "change " << applied->change_id << " (undo: qharden rollback "
              << applied->change_id;
    if (options.root != "/") std::cout << " --root " << options.root;
    std::cout << ")\n";
  }
  return applied->all_succeeded ? 0 : 1;
}

int run_rollback_command(const CommonOptions& options, const std::string& change_id, bool force) {
  Expected<RootedHost> host = RootedHost::open(options.root);
  if (!host) {
    std::cerr << "qharden: " << host.error().message << '\n';
    return 3;
  }
  Expected<Config> config = load_config(options.config_file, *host);
  if (!config) {
    std::cerr << "qharden: config: " << config.error().message << '\n';
    return 3;
  }
  Expected<RollbackResult> rolled = rollback_change(*host, *config, change_id, force);
  if (!rolled) {
    std::cerr << "qharden: rollback: " << rolled.error().message << '\n';
    return 1;
  }
  for (const ChangeOutcome& restored : rolled->restored) {
    std::cout << restored.rule << "  " << restored.subject << "  " << restored.outcome << '\n';
  }
  for (const std::string& note : rolled->notes) std::cout << note << '\n';
  std::cout << "change " << rolled->change_id << " rolled back\n";
  return 0;
}

int run_history_command(const CommonOptions& options) {
  Expected<RootedHost> host = RootedHost::open(options.root);
  if (!host) {
    std::cerr << "qharden: " << host.error().message << '\n';
    return 3;
  }
  Expected<Config> config = load_config(options.config_file, *host);
  if (!config) {
    std::cerr << "qharden: config: " << config.error().message << '\n';
    return 3;
  }
  Expected<std::vector<JournalChange>> history = change_history(*host, *config);
  if (!history) {
    std::cerr << "qharden: history: " << history.error().message << '\n';
    return 1;
  }
  if (history->empty()) std::cout << "no changes recorded in " << state_directory(*host, *config) << '\n';
  for (const JournalChange& change : *history) {
    std::cout << change.id << "  " << change.created_at << "  " << change.status;
    if (!change.rolled_back_at.empty()) std::cout << " at " << change.rolled_back_at;
    std::cout << '\n';
    for (const JournalEntry& entry : change.entries) {
      std::cout << "  " << entry.state << "  " << entry.rule << "  " << entry.kind << "  "
                << entry.target;
      if (!entry.error.empty()) std::cout << "  (" << entry.error << ")";
      std::cout << '\n';
    }
  }
  return 0;
}

}  // namespace qharden
