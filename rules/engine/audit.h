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

}  // namespace qharden
