#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "engine/change_steps.h"
#include "engine/fix.h"
#include "engine/journal_retention.h"
#include "engine/kept_changes.h"
#include "engine/reload.h"
#include "engine/replan.h"
#include "host/host.h"
#include "journal/lock.h"

namespace qharden {
namespace {

// The daemons that serve a changed file: xinetd for its own files, inetd for
// inetd.conf, and xinetd too where Debian's INETD_COMPAT makes it serve that.
std::set<std::string> daemons_serving(AuditContext& context, const std::string& host_path) {
  std::set<std::string> daemons;
  const ServiceInventory& inventory = context.inventory();
  const Config::Paths& paths = context.config.paths;
  auto add_inetd = [&] {
    daemons.insert("inetd");
    if (inventory.xinetd_serves_inetd_conf) daemons.insert("xinetd");
  };
  if (host_path == paths.xinetd_conf) daemons.insert("xinetd");
  if (host_path == paths.inetd_conf) add_inetd();
  for (const ServiceCommand& command : inventory.commands) {
    if (command.file != host_path) continue;
    switch (command.source) {
      case LaunchSource::xinetd:
        daemons.insert("xinetd");
        break;
      case LaunchSource::inetd:
        add_inetd();
        break;
      // A unit file is never edited; its drop-ins are, below. A run script's
      // service is restarted by its operator.
      case LaunchSource::systemd:
      case LaunchSource::run_script:
        break;
    }
  }
  // A drop-in qharden writes for a socket or service unit.
  for (const std::string& folder : paths.systemd_unit_dirs) {
    if (host_path.size() > folder.size() && host_path.compare(0, folder.size(), folder) == 0 &&
        host_path[folder.size()] == '/') {
      daemons.insert("systemd");
    }
  }
  return daemons;
}

ChangeOutcome outcome_of(const PlannedChange& planned, const StepOutcome& step) {
  ChangeOutcome outcome;
  switch (step.result) {
    case StepResult::applied:
      outcome = make_outcome(planned.rule, planned.subject, "applied");
      break;
    case StepResult::unchanged:
      outcome = make_outcome(planned.rule, planned.subject, "unchanged");
      break;
    case StepResult::refused:
      outcome = make_outcome(planned.rule, planned.subject, "refused", step.message);
      break;
    case StepResult::failed:
      outcome = make_outcome(planned.rule, planned.subject, "failed", step.message);
      break;
  }
  outcome.change = std::make_shared<const PlannedChange>(planned);
  return outcome;
}

// The same change with a new result: what was planned stays with it.
ChangeOutcome relabeled(const ChangeOutcome& outcome, std::string result, std::string reason) {
  ChangeOutcome changed =
      make_outcome(outcome.rule, outcome.subject, std::move(result), std::move(reason));
  changed.change = outcome.change;
  return changed;
}

// Undoes the rule's entries of this change, newest first.
std::string undo_rule(const RootedHost& host, Journal& journal, JournalChange& change,
                      const std::string& rule) {
  std::string problems;
  for (auto entry = change.entries.rbegin(); entry != change.entries.rend(); ++entry) {
    if (entry->rule != rule || entry->state != "applied") continue;
    Outcome undone = undo_entry(host, journal, change, *entry, false);
    if (!undone) problems += (problems.empty() ? "" : "; ") + undone.error().message;
  }
  return problems;
}

// Why no reload is requested at all: --offline or --no-reload; empty when it is.
std::string reload_skipped(bool offline, const ApplyOptions& options) {
  if (offline) return "--offline";
  if (!options.reload) return "--no-reload";
  return "";
}

// Reloads each daemon whose files changed; `not_loaded` gets, per rule, what
// systemd shows that the rule's drop-ins did not do.
void reload_all(const RootedHost& host, const Config& config, const std::set<std::string>& daemons,
                const std::string& skipped, const std::vector<DropInExpectation>& expectations,
                ApplyResult& result, std::map<std::string, std::string>* not_loaded) {
  for (const std::string& daemon : daemons) {
    if (!skipped.empty()) {
      result.notes.push_back(daemon == "systemd"
                                 ? "systemd: daemon-reload not requested (" + skipped +
                                       "); run `systemctl daemon-reload` for the drop-in to "
                                       "take effect"
                                 : daemon + ": not reloaded (" + skipped +
                                       "); reload it by hand for the change to take effect");
      continue;
    }
    ReloadOutcome reloaded = reload_by_name(host, config, daemon, expectations);
    result.notes.push_back(reloaded.message);
    if (reloaded.failed) result.all_succeeded = false;
    if (not_loaded != nullptr) {
      for (auto& [rule, problem] : reloaded.rules_not_loaded) (*not_loaded)[rule] = problem;
    }
  }
}

}  // namespace

ChangeOutcome make_outcome(std::string rule, std::string subject, std::string result,
                           std::string reason) {
  std::string line = result;
  if (result == "undone") {
    line = "undone, " + reason;
  } else if (result == "rolled-back") {
    line = "rolled back: " + reason;
  } else if (result == "restored") {
    line = "restored " + reason;
  } else if (!reason.empty()) {
    line += ": " + reason;
  }
  return {std::move(rule), std::move(subject), std::move(line), std::move(result),
          std::move(reason)};
}

std::string state_directory(const RootedHost& host, const Config& config) {
  return path_under_root(host.root(), config.paths.state_dir);
}

Expected<ApplyResult> apply_fixes(const RootedHost& host, const Config& config,
                                  const FixSelection& selection, const ApplyOptions& options) {
  Expected<StateLock> lock =
      StateLock::acquire(state_directory(host, config), config.paths.lock_wait_s);
  if (!lock) return Unexpected(lock.error());
  Journal journal(state_directory(host, config));
  settle_interrupted_changes(host, journal);

  ApplyResult result;
  // Planned inside the lock, from what is on disk now.
  AuditContext context(host, config, selection.offline);
  PlanResult plan = make_plan(context, selection);
  if (selection.only_kept) {
    Expected<std::vector<JournalChange>> history = journal.list();
    if (!history) return Unexpected(history.error());
    std::set<std::pair<std::string, std::string>> kept = kept_subjects(kept_changes(*history));
    std::set<std::string> kept_rules;
    for (const auto& [rule, subject] : kept) kept_rules.insert(rule);
    std::size_t planned = plan.changes.size();
    std::erase_if(plan.changes, [&kept](const PlannedChange& change) {
      return kept.count({change.rule, change.subject}) == 0;
    });
    if (plan.changes.size() != planned) {
      result.notes.push_back(std::to_string(planned - plan.changes.size()) +
                             " change(s) left alone: never applied, or rolled back");
    }
    // A finding counts after the apply only when its own fix is all kept:
    // planned alone, every change it needs is one the operator applied.
    std::map<std::string, std::pair<const Rule*, std::vector<Finding>>> audited;
    for (const Rule* rule : selection.rules) {
      std::string id(rule->info().id);
      bool wanted = std::any_of(plan.planned_findings.begin(), plan.planned_findings.end(),
                                [&id](const auto& covered) { return covered.first == id; });
      if (wanted) audited[id] = {rule, run_audit(context, {rule}).findings};
    }
    std::erase_if(plan.planned_findings, [&](const std::pair<std::string, std::string>& covered) {
      auto found = audited.find(covered.first);
      if (found == audited.end()) return true;
      std::vector<Finding> alone;
      for (const Finding& finding : found->second.second) {
        if (finding.subject == covered.second && finding.status == Status::fail) {
          alone.push_back(finding);
        }
      }
      Expected<std::vector<PlannedChange>> own = found->second.first->plan(context, alone);
      if (!own || own->empty()) return true;
      return std::any_of(own->begin(), own->end(), [&kept](const PlannedChange& change) {
        return kept.count({change.rule, change.subject}) == 0;
      });
    });
    // A refusal matters only for a rule with something to keep.
    std::erase_if(plan.refusals, [&kept_rules](const std::string& refusal) {
      return kept_rules.count(refusal.substr(0, refusal.find(": "))) == 0;
    });
  }
  for (const std::string& refusal : plan.refusals) {
    std::size_t colon = refusal.find(": ");
    result.outcomes.push_back(
        make_outcome(refusal.substr(0, colon), "", "refused", refusal.substr(colon + 2)));
    result.all_succeeded = false;
  }
  if (plan.changes.empty()) {
    result.notes.push_back(plan.failing_fixable == 0
                               ? "nothing to do: no selected rule has a fixable failure"
                               : "nothing to do");
    return result;
  }

  Expected<JournalChange> begun = journal.begin_change(host.root());
  if (!begun) return Unexpected(begun.error());
  JournalChange change = std::move(*begun);
  result.change_id = change.id;

  std::vector<std::string> rule_order;
  for (const PlannedChange& planned : plan.changes) {
    if (std::find(rule_order.begin(), rule_order.end(), planned.rule) == rule_order.end()) {
      rule_order.push_back(planned.rule);
    }
  }
  std::set<std::string> rules_changed;
  std::set<std::string> daemons;
  std::vector<DropInExpectation> drop_ins_written;
  std::map<std::string, std::string> written_this_run;  // host path -> the text written
  for (const std::string& rule : rule_order) {
    std::vector<ChangeOutcome> outcomes;
    bool rule_failed = false;
    std::vector<PlannedChange> rule_changes =
        changes_for_rule(host, config, selection, plan, rule, written_this_run, result.notes);
    // What this map said before this rule, to put back when the rule is undone.
    std::map<std::string, std::optional<std::string>> before_rule;
    for (const PlannedChange& planned : rule_changes) {
      StepOutcome step = apply_planned_change(host, journal, change, planned);
      outcomes.push_back(outcome_of(planned, step));
      if (step.result == StepResult::refused || step.result == StepResult::failed) {
        rule_failed = true;
        // The rule's earlier files are undone below: their lines must not read "applied".
        std::string because = "because " + planned.subject + " was " +
                              (step.result == StepResult::refused ? "refused" : "not written");
        for (ChangeOutcome& earlier : outcomes) {
          if (earlier.result == "applied") {
            earlier = relabeled(earlier, "undone", because);
          }
        }
        break;
      }
      if (step.result == StepResult::applied) {
        rules_changed.insert(rule);
        if (const auto* file = std::get_if<FileReplacement>(&planned.action)) {
          auto earlier = written_this_run.find(file->host_path);
          before_rule.emplace(file->host_path, earlier == written_this_run.end()
                                                   ? std::nullopt
                                                   : std::optional<std::string>(earlier->second));
          written_this_run[file->host_path] = file->after;
          for (const std::string& daemon : daemons_serving(context, file->host_path)) {
            daemons.insert(daemon);
            if (daemon == "systemd") drop_ins_written.push_back({rule, file->host_path, true});
          }
        }
      }
    }
    if (rule_failed) {
      // A rule's fix lands whole or not at all; other rules' fixes stand.
      std::string problems = undo_rule(host, journal, change, rule);
      rules_changed.erase(rule);
      for (const auto& [path, text] : before_rule) {
        if (text) {
          written_this_run[path] = *text;
        } else {
          written_this_run.erase(path);
        }
      }
      if (!problems.empty())
        outcomes.push_back(make_outcome(rule, "", "failed", "undo: " + problems));
      result.all_succeeded = false;
    }
    result.outcomes.insert(result.outcomes.end(), outcomes.begin(), outcomes.end());
  }

  // Only rules whose fix still stands: a rule undone above wrote nothing.
  std::erase_if(drop_ins_written, [&rules_changed](const DropInExpectation& expected) {
    return rules_changed.count(expected.rule) == 0;
  });
  std::string skipped = reload_skipped(selection.offline, options);
  std::map<std::string, std::string> not_loaded;
  // Journaled before the signals go out: a run killed during verification
  // is settled as interrupted, and its rollback must still reload them.
  change.reloads.assign(daemons.begin(), daemons.end());
  (void)journal.save(change);
  reload_all(host, config, daemons, skipped, drop_ins_written, result, &not_loaded);

  // Re-audit what was touched, from a fresh read: a fix that did not produce
  // pass is undone and reported, never left claiming success. Newest rule
  // first, and a later rule that wrote on top of a failing rule's file is
  // undone before it, so that every undo finds the text it wrote.
  AuditContext verification(host, config, selection.offline);
  bool undone_any = false;
  std::set<std::string> undone_rules;
  auto files_written_by = [&change](const std::string& rule) {
    std::set<std::string> files;
    for (const JournalEntry& entry : change.entries) {
      if (entry.rule == rule && entry.kind == "file" && entry.state == "applied")
        files.insert(entry.target);
    }
    return files;
  };
  auto relabel = [&result](const std::string& rule, const std::string& problems,
                           const std::string& result_if_undone, const std::string& reason) {
    for (ChangeOutcome& outcome : result.outcomes) {
      if (outcome.rule != rule || outcome.result != "applied") continue;
      outcome =
          problems.empty()
              ? relabeled(outcome, result_if_undone, reason)
              : relabeled(outcome, "failed",
                          reason + "; the undo failed, so the fix is still in place: " + problems);
    }
  };
  for (auto rule = rule_order.rbegin(); rule != rule_order.rend(); ++rule) {
    if (rules_changed.count(*rule) == 0 || undone_rules.count(*rule) > 0) continue;
    const Rule* checked = nullptr;
    for (const Rule* candidate : selection.rules) {
      if (candidate->info().id == *rule) checked = candidate;
    }
    if (checked == nullptr) continue;
    AuditResult after = run_audit(verification, {checked});
    std::string still_failing;
    if (auto found = not_loaded.find(*rule); found != not_loaded.end())
      still_failing = found->second;
    for (const Finding& finding : after.findings) {
      // Fixable or not: a fix that now meets a refusal still did not pass.
      if (finding.status == Status::fail &&
          plan.planned_findings.count({finding.rule, finding.subject}) > 0) {
        still_failing +=
            (still_failing.empty() ? "" : "; ") + finding.subject + ": " + finding.message;
      }
    }
    if (still_failing.empty()) {
      result.notes.push_back(*rule + ": verified, passes after the fix");
      continue;
    }
    std::set<std::string> files = files_written_by(*rule);
    for (auto later = rule_order.rbegin(); *later != *rule; ++later) {
      if (rules_changed.count(*later) == 0 || undone_rules.count(*later) > 0) continue;
      std::set<std::string> later_files = files_written_by(*later);
      auto shared = std::find_if(later_files.begin(), later_files.end(),
                                 [&files](const std::string& file) { return files.count(file); });
      if (shared == later_files.end()) continue;
      std::string problems = undo_rule(host, journal, change, *later);
      undone_rules.insert(*later);
      relabel(*later, problems, "undone",
              "because " + *rule + " also fixed " + *shared + " and still failed");
    }
    std::string problems = undo_rule(host, journal, change, *rule);
    undone_rules.insert(*rule);
    relabel(*rule, problems, "rolled-back", "still failing after the fix: " + still_failing);
    result.all_succeeded = false;
    undone_any = true;
  }
  if (undone_any && skipped.empty()) {
    std::vector<DropInExpectation> drop_ins_removed;
    for (const DropInExpectation& written : drop_ins_written) {
      bool undone = std::any_of(
          result.outcomes.begin(), result.outcomes.end(), [&written](const ChangeOutcome& outcome) {
            return outcome.rule == written.rule && outcome.subject == written.path &&
                   (outcome.result == "rolled-back" || outcome.result == "undone");
          });
      // A drop-in that was rewritten, not created, is back to its old text,
      // which systemd still lists: only a created one must be gone.
      bool created = std::any_of(change.entries.begin(), change.entries.end(),
                                 [&written](const JournalEntry& entry) {
                                   return entry.target == written.path && !entry.existed;
                                 });
      if (undone && created) drop_ins_removed.push_back({written.rule, written.path, false});
    }
    reload_all(host, config, daemons, skipped, drop_ins_removed, result, nullptr);
  }

  change.reloads.assign(daemons.begin(), daemons.end());
  bool any_applied =
      std::any_of(change.entries.begin(), change.entries.end(),
                  [](const JournalEntry& entry) { return entry.state == "applied"; });
  change.status = !any_applied ? "failed" : result.all_succeeded ? "applied" : "partial";
  result.changed_anything = any_applied;
  Outcome saved = journal.save(change);
  if (!saved) {
    result.notes.push_back("journal: " + saved.error().message);
    result.all_succeeded = false;
  }
  // Retention only after this change is settled, so it can never be the one
  // removed; a failure here costs disk, not the fix, so it is only reported.
  Expected<RetentionResult> pruned =
      prune_journal(journal, static_cast<std::size_t>(config.paths.journal_keep_changes));
  if (!pruned) {
    result.notes.push_back("journal retention: " + pruned.error().message);
  } else if (pruned->removed > 0) {
    result.notes.push_back("journal: removed the " + std::to_string(pruned->removed) +
                           " oldest change(s) beyond paths.journal_keep_changes = " +
                           std::to_string(config.paths.journal_keep_changes));
  }
  if (!any_applied &&
      std::all_of(result.outcomes.begin(), result.outcomes.end(),
                  [](const ChangeOutcome& outcome) { return outcome.result == "unchanged"; })) {
    result.notes.push_back("nothing to do: every change was already in place");
  }
  return result;
}

}  // namespace qharden
