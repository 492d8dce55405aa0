// plan, apply, rollback and history: the design's safety contract on top of the
// rules' planned changes. Rules only describe changes; everything that touches
// the host happens here, journaled, under the state lock.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/audit.h"
#include "engine/change.h"
#include "engine/expected.h"
#include "engine/rule.h"
#include "journal/journal.h"

namespace qharden {

class RootedHost;

struct FixSelection {
  std::vector<const Rule*> rules;
  bool rules_named = false;  // --rule given: rules that fix only when named are included
  bool offline = false;
  // The agent's re-apply: only changes to a (rule, subject) the journal shows
  // applied and not rolled back (engine/kept_changes.h), decided under the
  // state lock so that a rollback running at the same time wins.
  bool only_kept = false;
};

struct PlanResult {
  std::vector<PlannedChange> changes;
  std::vector<std::string> refusals;  // "rule: why" for plans that could not be made
  std::vector<Finding> unfixed;       // failing findings no selected fix covers
  int failing_fixable = 0;
  // The failing findings whose rule planned changes for them: after apply,
  // only these decide whether a fix worked. Another subject of the same rule
  // that was left alone (never applied, in a re-apply of kept fixes) must not
  // make the fix that was applied be undone.
  std::set<std::pair<std::string, std::string>> planned_findings;  // (rule, subject)
};

// Audits the selection and asks each rule with fixable failures for its changes.
PlanResult make_plan(AuditContext& context, const FixSelection& selection);

// Unified diffs and exact argv, as `qharden plan` prints them.
std::string render_plan(const PlanResult& plan);

struct ChangeOutcome {
  std::string rule;
  std::string subject;
  std::string outcome;  // the operator's line: "applied", "refused: why", "undone, because ..."
  // For automation (apply --json): applied | unchanged | refused | failed | undone |
  // rolled-back (apply), restored (rollback); reason says why, empty when applied.
  std::string result;
  std::string reason;
  // What was planned (path, bytes before and after, or argv), for apply --json;
  // empty for a refusal of the whole rule.
  std::shared_ptr<const PlannedChange> change = nullptr;
};

// Builds the outcome and its operator line from the result word and the reason.
ChangeOutcome make_outcome(std::string rule, std::string subject, std::string result,
                           std::string reason = {});

struct ApplyResult {
  std::string change_id;          // empty when no change was started
  bool changed_anything = false;  // false: the journal records only failed attempts
  std::vector<ChangeOutcome> outcomes;
  std::vector<std::string> notes;  // reloads, verification, restart hints
  bool all_succeeded = true;
};

struct ApplyOptions {
  bool reload = true;
};

Expected<ApplyResult> apply_fixes(const RootedHost& host, const Config& config,
                                  const FixSelection& selection, const ApplyOptions& options);

struct RollbackResult {
  std::string change_id;
  std::vector<ChangeOutcome> restored;
  std::vector<std::string> notes;
};

// change_id empty = the last change that is not rolled back yet.
Expected<RollbackResult> rollback_change(const RootedHost& host, const Config& config,
                                         const std::string& change_id, bool force);

Expected<std::vector<JournalChange>> change_history(const RootedHost& host, const Config& config);

// Where the journal lives for this host: the state dir under the root.
std::string state_directory(const RootedHost& host, const Config& config);

}  // namespace qharden
