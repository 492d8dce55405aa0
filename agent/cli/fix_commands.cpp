#include <iostream>

#include "cli/command_setup.h"
#include "cli/commands.h"
#include "engine/fix.h"
#include "engine/fix_report.h"
#include "engine/registry.h"
#include "host/host.h"
#include "journal/journal.h"

namespace qharden {
namespace {

FixSelection selection_of(const CommandSetup& setup, const CommonOptions& options) {
  return FixSelection{setup.rules, !options.rule_ids.empty(), options.offline};
}

ReportHeader header_of(const CommandSetup& setup, const CommonOptions& options) {
  return ReportHeader{QHARDEN_VERSION, local_host_name(), setup.host.root(), options.offline};
}

// File content need not be UTF-8; the encoder replaces what is not, so a
// message or a note with stray bytes never aborts the output.
void print_json(const nlohmann::json& document) {
  std::cout << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

}  // namespace

int run_plan_command(const CommonOptions& options, const FixOutputOptions& output) {
  std::optional<CommandSetup> setup = prepare_command(options);
  if (!setup) return 3;
  AuditContext context(setup->host, setup->config, options.offline);
  PlanResult plan = make_plan(context, selection_of(*setup, options));
  if (output.json) {
    print_json(plan_json(header_of(*setup, options), plan));
  } else {
    std::cout << render_plan(plan);
  }
  return output.detailed_exit_code ? plan_detailed_exit_code(plan) : 0;
}

int run_apply_command(const CommonOptions& options, bool reload, const FixOutputOptions& output) {
  std::optional<CommandSetup> setup = prepare_command(options);
  if (!setup) return 3;
  Expected<ApplyResult> applied =
      apply_fixes(setup->host, setup->config, selection_of(*setup, options), ApplyOptions{reload});
  if (!applied) {
    std::cerr << "qharden: apply: " << applied.error().message << '\n';
    if (output.json) {
      // Nothing was started (the lock was busy, the journal unreadable): still
      // one JSON answer, so a caller never has to parse the text.
      ApplyResult nothing;
      nothing.all_succeeded = false;
      nothing.notes.push_back(applied.error().message);
      print_json(apply_json(header_of(*setup, options), nothing));
    }
    return 1;
  }
  if (output.json) {
    print_json(apply_json(header_of(*setup, options), *applied));
    return applied->all_succeeded ? 0 : 1;
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
  // Bad usage, as over D-Bus (InvalidArgs): the id could never name a change.
  if (!change_id.empty() && !is_valid_change_id(change_id)) {
    std::cerr << "qharden: rollback: " << change_id
              << ": not a change id (see `qharden history`)\n";
    return 3;
  }
  std::optional<CommandSetup> setup = prepare_command(options);
  if (!setup) return 3;
  Expected<RollbackResult> rolled = rollback_change(setup->host, setup->config, change_id, force);
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
  std::optional<CommandSetup> setup = prepare_command(options);
  if (!setup) return 3;
  Expected<std::vector<JournalChange>> history = change_history(setup->host, setup->config);
  if (!history) {
    std::cerr << "qharden: history: " << history.error().message << '\n';
    return 1;
  }
  if (history->empty())
    std::cout << "no changes recorded in " << state_directory(setup->host, setup->config) << '\n';
  for (const JournalChange& change : *history) {
    std::cout << change.id << "  " << change.created_at << "  " << change.status;
    if (!change.rolled_back_at.empty()) std::cout << " at " << change.rolled_back_at;
    std::cout << '\n';
    for (const JournalEntry& entry : change.entries) {
      std::cout << "  " << entry.state << "  " << entry.rule << "  " << entry.kind << "  "
                << entry.target;
      if (!entry.error.empty()) std::cout << "  (" << entry.error << ")";
      if (!entry.note.empty()) std::cout << "  (" << entry.note << ")";
      std::cout << '\n';
    }
  }
  return 0;
}

}  // namespace qharden
