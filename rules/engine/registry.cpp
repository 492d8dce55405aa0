#include "engine/registry.h"

namespace qharden {

// One line per rule: its folder defines make_<name>_rule().
#define QHARDEN_RULES(RULE)    \
  RULE(resolv_nameservers)     \
  RULE(tcp_env_flags)          \
  RULE(tcpserver_flags)        \
  RULE(firewall_ident_reject)  \
  RULE(rblsmtpd_sources)       \
  RULE(sysctl_tcp_fin_timeout) \
  RULE(sysctl_tcp_keepalive)   \
  RULE(sockets_stuck)          \
  RULE(smtp_greeting)          \
  RULE(smtp_open_relay)        \
  RULE(listener_burst_limits)  \
  RULE(smtp_identity)          \
  RULE(dnsbl_self)

#define QHARDEN_DECLARE_FACTORY(name) std::unique_ptr<Rule> make_##name##_rule();
QHARDEN_RULES(QHARDEN_DECLARE_FACTORY)
#undef QHARDEN_DECLARE_FACTORY

const std::vector<std::unique_ptr<Rule>>& all_rules() {
  static const std::vector<std::unique_ptr<Rule>> rules = [] {
    std::vector<std::unique_ptr<Rule>> list;
#define QHARDEN_ADD_RULE(name) list.push_back(make_##name##_rule());
    QHARDEN_RULES(QHARDEN_ADD_RULE)
#undef QHARDEN_ADD_RULE
    return list;
  }();
  return rules;
}

std::vector<std::string_view> all_rule_ids() {
  std::vector<std::string_view> ids;
  for (const auto& rule : all_rules()) ids.push_back(rule->info().id);
  return ids;
}

const Rule* find_rule(std::string_view id) {
  for (const auto& rule : all_rules()) {
    if (rule->info().id == id) return rule.get();
  }
  return nullptr;
}

Expected<std::vector<const Rule*>> select_rules(const std::vector<std::string>& ids) {
  std::vector<const Rule*> selected;
  if (ids.empty()) {
    for (const auto& rule : all_rules()) selected.push_back(rule.get());
    return selected;
  }
  for (const std::string& id : ids) {
    const Rule* rule = find_rule(id);
    if (rule == nullptr) {
      std::string known;
      for (std::string_view each : all_rule_ids())
        known += (known.empty() ? "" : ", ") + std::string(each);
      return fail_with("--rule " + id + ": unknown rule id (known: " + known + ")");
    }
    bool already = false;
    for (const Rule* chosen : selected) already = already || chosen == rule;
    if (!already) selected.push_back(rule);
  }
  return selected;
}

void Rule::check_each(AuditContext& context, const FindingSink& sink) const {
  for (Finding& finding : check(context)) sink(std::move(finding));
}

std::vector<Finding> StreamingRule::check(AuditContext& context) const {
  std::vector<Finding> findings;
  check_each(context, [&findings](Finding&& finding) { findings.push_back(std::move(finding)); });
  return findings;
}

Finding make_finding(const RuleInfo& info, std::string subject, Status status,
                     std::string message) {
  Finding finding;
  finding.rule = std::string(info.id);
  finding.subject = std::move(subject);
  finding.status = status;
  finding.severity = info.severity;
  finding.message = std::move(message);
  return finding;
}

}  // namespace qharden
