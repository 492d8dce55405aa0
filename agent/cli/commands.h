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

struct FixOutputOptions {
  bool json = false;                // plan/apply --json: one JSON object on stdout
  bool detailed_exit_code = false;  // plan: 0 nothing to do, 2 pending, 1 a refusal
};

int run_audit_command(const CommonOptions& options);
int run_rules_command();
int run_plan_command(const CommonOptions& options, const FixOutputOptions& output);
int run_apply_command(const CommonOptions& options, bool reload, const FixOutputOptions& output);
// `qharden config check FILE`: 0 valid, 3 with FILE:LINE:COLUMN on stderr.
int run_config_check_command(const std::string& file);
int run_rollback_command(const CommonOptions& options, const std::string& change_id, bool force);
int run_history_command(const CommonOptions& options);
int run_explain_command(const std::string& rule_id);

}  // namespace qharden
