#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "engine/finding.h"
#include "engine/rule.h"
#include "host/host.h"
#include "inventory/inventory.h"

namespace qharden {

// What a rule sees: the host (under its root), the config, whether live state
// may be touched, and the service inventory parsed once for every rule.
struct AuditContext {
  AuditContext(const Host& host_in, const Config& config_in, bool offline_in)
      : host(host_in), config(config_in), offline(offline_in) {}

  const Host& host;
  const Config& config;
  bool offline = false;

  // xinetd, inetd and run-script command lines; parsed on first use.
  const ServiceInventory& inventory();

  // Another rule's findings in this audit: smtp.greeting names the rules that
  // cause a slow greeting from their verdicts. Findings a rule already produced
  // are reused; otherwise the rule is checked now, once, without being reported.
  const std::vector<Finding>& findings_of(std::string_view rule_id);
  // The audit's own run of a rule: checked once (unless findings_of already
  // did), kept for the rules after it, and handed to the report at the end, so
  // that 100,000 findings are never held twice (issue 15: audit memory).
  const std::vector<Finding>& check_rule(const Rule& rule);
  std::vector<Finding> take_findings(std::string_view rule_id);

  // The audit's own run of a rule, each finding handed to `sink` as it is
  // made and then dropped, unless keep_findings_of named the rule (a later
  // rule reads it) or findings_of already checked it. findings_of for a rule
  // that was not kept checks it again.
  void check_rule_each(const Rule& rule, const FindingSink& sink);
  void keep_findings_of(std::string_view rule_id);
  // Frees the inventory and the kept findings once the audit is done.
  void release();

 private:
  std::unique_ptr<ServiceInventory> inventory_;
  std::map<std::string, std::vector<Finding>, std::less<>> findings_by_rule_;
  std::set<std::string, std::less<>> kept_rules_;
};

}  // namespace qharden
