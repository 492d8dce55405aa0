#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "engine/finding.h"
#include "host/host.h"
#include "inventory/inventory.h"

namespace qharden {

class Rule;

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

 private:
  std::unique_ptr<ServiceInventory> inventory_;
  std::map<std::string, std::vector<Finding>, std::less<>> findings_by_rule_;
};

}  // namespace qharden
