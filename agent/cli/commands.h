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
int run_plan_command(const CommonOptions& options);
int run_apply_command(const CommonOptions& options, bool reload);
int run_rollback_command(const CommonOptions& options, const std::string& change_id, bool force);
int run_history_command(const CommonOptions& options);
int run_explain_command(const std::string& rule_id);

}  // namespace qharden
