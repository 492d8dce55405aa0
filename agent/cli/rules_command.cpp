#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "engine/registry.h"

namespace qharden {

int run_rules_command() {
  std::printf("%-24s %-9s %-14s %s\n", "RULE", "SEVERITY", "FIX", "CHECKS");
  for (const auto& rule : all_rules()) {
    const RuleInfo& info = rule->info();
    std::string fix = !info.can_fix ? "no" : info.fixes_only_when_named ? "when named" : "yes";
    std::printf("%-24s %-9s %-14s %s\n", std::string(info.id).c_str(),
                std::string(to_string(info.severity)).c_str(), fix.c_str(),
                std::string(info.summary).c_str());
  }
  return 0;
}

int run_explain_command(const std::string& rule_id) {
  const Rule* rule = find_rule(rule_id);
  if (rule == nullptr) {
    std::cerr << "qharden: explain " << rule_id
              << ": unknown rule id; `qharden rules` lists them\n";
    return 3;
  }
  const RuleInfo& info = rule->info();
  std::cout << info.id << " (" << to_string(info.severity) << " when failing; fix: "
            << (!info.can_fix                ? "none"
                : info.fixes_only_when_named ? "only when named with --rule"
                                             : "yes")
            << ")\n\n"
            << info.summary << "\n\n"
            << info.explanation << "\n\nTouches: " << info.touches << '\n';
  return 0;
}

}  // namespace qharden
