// Placeholder while the rule is written; replaced in the same issue.
#include <memory>

#include "engine/pending_rule.h"

namespace qharden {

std::unique_ptr<Rule> make_resolv_nameservers_rule() {
  RuleInfo info;
  info.id = "resolv.nameservers";
  info.severity = Severity::critical;
  return std::make_unique<PendingRule>(info, "in progress");
}

}  // namespace qharden
