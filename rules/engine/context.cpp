#include "engine/context.h"

#include <exception>

#include "engine/registry.h"
#include "engine/rule.h"

namespace qharden {

const ServiceInventory& AuditContext::inventory() {
  if (!inventory_) {
    inventory_ = std::make_unique<ServiceInventory>(collect_service_inventory(host, config));
  }
  return *inventory_;
}

namespace {

// What a rule that threw gives in place of (or after) its findings.
Finding internal_error_finding(const Rule& rule, const std::exception& exception) {
  return make_finding(rule.info(), std::string(rule.info().id), Status::error,
                      std::string("internal error: ") + exception.what());
}

std::vector<Finding> checked_findings(const Rule& rule, AuditContext& context) {
  try {
    return rule.check(context);
  } catch (const std::exception& exception) {
    return {internal_error_finding(rule, exception)};
  }
}

}  // namespace

const std::vector<Finding>& AuditContext::findings_of(std::string_view rule_id) {
  auto known = findings_by_rule_.find(rule_id);
  if (known != findings_by_rule_.end()) return known->second;
  std::vector<Finding> findings;
  if (const Rule* rule = find_rule(rule_id)) findings = checked_findings(*rule, *this);
  return findings_by_rule_.insert_or_assign(std::string(rule_id), std::move(findings))
      .first->second;
}

const std::vector<Finding>& AuditContext::check_rule(const Rule& rule) {
  auto known = findings_by_rule_.find(rule.info().id);
  if (known != findings_by_rule_.end()) return known->second;
  std::vector<Finding> findings = checked_findings(rule, *this);
  return findings_by_rule_.insert_or_assign(std::string(rule.info().id), std::move(findings))
      .first->second;
}

void AuditContext::release() {
  inventory_.reset();
  findings_by_rule_.clear();
}

void AuditContext::keep_findings_of(std::string_view rule_id) {
  kept_rules_.emplace(rule_id);
}

void AuditContext::check_rule_each(const Rule& rule, const FindingSink& sink) {
  std::string_view id = rule.info().id;
  if (findings_by_rule_.count(id) == 0 && kept_rules_.count(id) != 0) check_rule(rule);
  if (auto known = findings_by_rule_.find(id); known != findings_by_rule_.end()) {
    for (const Finding& finding : known->second) sink(Finding(finding));
    return;
  }
  // Only the rule's own failure becomes its error finding: one thrown by the
  // sink (writing the report) ends the audit as it would have anyway.
  bool sink_threw = false;
  try {
    rule.check_each(*this, [&sink, &sink_threw](Finding&& finding) {
      try {
        sink(std::move(finding));
      } catch (...) {
        sink_threw = true;
        throw;
      }
    });
  } catch (const std::exception& exception) {
    if (sink_threw) throw;
    // The findings already handed on stay: they were made before the failure.
    sink(internal_error_finding(rule, exception));
  }
}

std::vector<Finding> AuditContext::take_findings(std::string_view rule_id) {
  auto known = findings_by_rule_.find(rule_id);
  if (known == findings_by_rule_.end()) return {};
  std::vector<Finding> findings = std::move(known->second);
  findings_by_rule_.erase(known);
  return findings;
}

}  // namespace qharden
