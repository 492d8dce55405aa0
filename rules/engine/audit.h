#pragma once

#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/finding.h"
#include "engine/rule.h"

namespace qharden {

struct AuditResult {
  std::vector<Finding> findings;
  std::string started_at;  // ISO 8601 UTC
  double duration_ms = 0;
};

// Runs each rule's check; a rule that throws becomes an `error` finding rather
// than ending the audit, so one broken rule never hides the others.
AuditResult run_audit(AuditContext& context, const std::vector<const Rule*>& rules);

// What an audit that hands its findings on keeps of them.
struct AuditSummary {
  FindingTally tally;
  std::string started_at;  // ISO 8601 UTC
  double duration_ms = 0;
};

// The same audit, each finding handed to `sink` in report order as soon as
// its rule makes it: `qharden audit` writes them as it goes, so the
// findings of 100,000 services are never all held (issue 15: audit memory).
// A rule that throws midway has handed on what it made before its error
// finding; the duration includes the sink's own time (writing the report).
AuditSummary run_audit_each(AuditContext& context, const std::vector<const Rule*>& rules,
                            const FindingSink& sink);

}  // namespace qharden
