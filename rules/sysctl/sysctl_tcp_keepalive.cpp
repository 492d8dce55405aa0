// Placeholder while the rule is written; replaced in the same issue.
#include <memory>

#include "engine/pending_rule.h"

namespace qharden {

std::unique_ptr<Rule> make_sysctl_tcp_keepalive_rule() {
  RuleInfo info;
  info.id = "sysctl.tcp-keepalive";
  info.severity = Severity::info;
  return std::make_unique<PendingRule>(info, "in progress");
}

}  // namespace qharden
