// Placeholder while the rule is written; replaced in the same issue.
#include <memory>

#include "engine/pending_rule.h"

namespace qharden {

std::unique_ptr<Rule> make_sysctl_tcp_fin_timeout_rule() {
  RuleInfo info;
  info.id = "sysctl.tcp-fin-timeout";
  info.severity = Severity::warning;
  return std::make_unique<PendingRule>(info, "in progress");
}

}  // namespace qharden
