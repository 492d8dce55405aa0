#pragma once

#include <optional>
#include <string>
#include <vector>

namespace qharden {

struct CommonOptions {
  std::string root = "/";
  std::optional<std::string> config_file;
  std::vector<std::string> rule_ids;
  bool offline = false;
  std::string format = "text";
};

int run_audit_command(const CommonOptions& options);
int run_rules_command();
int run_explain_command(const std::string& rule_id);

}  // namespace qharden
