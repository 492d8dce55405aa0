// What the agent keeps: the fixes the journal shows applied and not rolled
// back (engine/kept_changes.h). Apply opts in, rollback opts out; the agent
// itself never decides to fix anything.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon/bus.h"
#include "daemon/manager.h"

namespace qharden::agent {

void Manager::refresh_kept() {
  Expected<std::vector<JournalChange>> changes = journal_reader_->changes();
  if (!changes) {
    // Unreadable (a state dir left 0700 by an older qharden, say): nothing is
    // kept, which is the safe side, and the operator is told once.
    if (journal_problem_ != changes.error().message) {
      journal_problem_ = changes.error().message;
      spdlog::error("cannot read the change journal, so no applied fix is kept: {}",
                    journal_problem_);
    }
    changes = std::vector<JournalChange>{};
  } else if (!journal_problem_.empty()) {
    spdlog::info("the change journal is readable again");
    journal_problem_.clear();
  }
  std::vector<KeptChange> kept = qharden::kept_changes(*changes);
  if (kept == kept_) return;
  bool ident_was_kept = keeps_rule(kIdentRuleId);
  // A re-apply only renews change ids; the log tells when what is kept changes.
  if (kept_subjects(kept) != kept_subjects(kept_)) log_kept(kept);
  kept_ = std::move(kept);
  if (object_) object_->announce_properties({"KeptChanges"});
  // The periodic netfilter check runs only while the ident rule is kept.
  if (event_ != nullptr && ident_was_kept != keeps_rule(kIdentRuleId)) arm_netfilter_check();
}

// The watch goes on first and the journal is read after, so an apply that
// finishes in between is read now, and one that finishes later is seen.
void Manager::journal_changed() {
  if (config_.agent.watch) watcher_.update(host_->root(), watch_list(config_, files_read_));
  refresh_kept();
}

void Manager::log_kept(const std::vector<KeptChange>& kept) const {
  if (kept.empty()) {
    spdlog::info("keeping no applied fix: drift is reported, nothing is re-applied");
    return;
  }
  std::string listed;
  for (const KeptChange& change : kept) {
    listed += (listed.empty() ? "" : ", ") + change.rule + " " + change.subject;
  }
  spdlog::info("keeping {} applied fix(es): {}", kept.size(), listed);
}

bool Manager::keeps(std::string_view rule_id, std::string_view subject) const {
  return std::any_of(kept_.begin(), kept_.end(), [&](const KeptChange& change) {
    return change.rule == rule_id && change.subject == subject;
  });
}

// A Plesk rewrite is repaired by a fixer that starts only after the debounce
// and the drift audit, so the fixer's start-up (most of the window under
// systemd's sandbox) is begun at the first inotify event instead, for files
// of rules whose fixes are kept and may be re-applied.
void Manager::start_fixer_early(unsigned topics) {
  if (early_fixer_ || std::chrono::steady_clock::now() < own_writes_until_) return;
  const auto& reapply = config_.agent.reapply;
  bool wanted = false;
  for (const std::string& rule_id : rules_for_topics(topics)) {
    if (keeps_rule(rule_id) &&
        std::find(reapply.begin(), reapply.end(), rule_id) != reapply.end() &&
        !limiter_.stopped(rule_id)) {
      wanted = true;
    }
  }
  if (!wanted) return;
  Expected<std::unique_ptr<FixerSession>> started = fixer_->start();
  // Not fatal: the re-apply starts its own fixer and reports the same error.
  if (started) early_fixer_ = std::move(*started);
}

void Manager::fixer_call_ended() {
  // Its renames reach inotify before its answer; those still queued are read
  // in the next turn of the loop.
  own_writes_until_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
}

bool Manager::keeps_rule(std::string_view rule_id) const {
  return std::any_of(kept_.begin(), kept_.end(),
                     [&](const KeptChange& change) { return change.rule == rule_id; });
}

}  // namespace qharden::agent
