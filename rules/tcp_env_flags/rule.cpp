// Placeholder while the rule is written; replaced in the same issue.
#include <memory>

#include "engine/pending_rule.h"

namespace qharden {

std::unique_ptr<Rule> make_tcp_env_flags_rule() {
  RuleInfo info;
  info.id = "tcp-env.flags";
  info.severity = Severity::critical;
  return std::make_unique<PendingRule>(info, "in progress");
}

}  // namespace qharden
