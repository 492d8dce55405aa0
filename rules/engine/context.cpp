#include "engine/context.h"

#include <exception>

#include "engine/registry.h"

namespace qharden {

const ServiceInventory& AuditContext::inventory() {
  if (!inventory_) {
    inventory_ = std::make_unique<ServiceInventory>(collect_service_inventory(host, config));
  }
  return *inventory_;
}

const std::vector<Finding>& AuditContext::findings_of(std::string_view rule_id) {
  auto known = findings_by_rule_.find(rule_id);
  if (known != findings_by_rule_.end()) return known->second;
  std::vector<Finding> findings;
  if (const Rule* rule = find_rule(rule_id)) {
    try {
      findings = rule->check(*this);
    } catch (const std::exception& exception) {
      findings.push_back(make_finding(rule->info(), std::string(rule_id), Status::error,
                                      std::string("internal error: ") + exception.what()));
    }
  }
  return findings_by_rule_.insert_or_assign(std::string(rule_id), std::move(findings))
      .first->second;
}

void AuditContext::remember_findings(std::string_view rule_id,
                                     const std::vector<Finding>& findings) {
  findings_by_rule_.insert_or_assign(std::string(rule_id), findings);
}

}  // namespace qharden
