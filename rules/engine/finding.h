#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace qharden {

enum class Status { pass, fail, error, skip };
enum class Severity { info, warning, critical };

std::string_view to_string(Status status);
std::string_view to_string(Severity severity);
std::optional<Severity> severity_from_string(std::string_view text);

struct Finding {
  std::string rule;
  std::string subject;
  Status status = Status::skip;
  Severity severity = Severity::info;
  bool fixable = false;
  std::string message;
  nlohmann::json evidence = nlohmann::json::object();
};

struct StatusCounts {
  int pass = 0;
  int fail = 0;
  int error = 0;
  int skip = 0;
};

StatusCounts count_statuses(const std::vector<Finding>& findings);

// The audit's verdict, added up one finding at a time (an audit that writes
// each finding as it goes keeps only this).
class FindingTally {
 public:
  void add(const Finding& finding);
  const StatusCounts& counts() const { return counts_; }
  int exit_code() const;
  std::string_view overall_status() const;

 private:
  StatusCounts counts_;
  bool critical_failure_ = false;
  bool warning_failure_ = false;
};

// Monitoring-plugin precedence from the design: 2 critical failure, else 1 warning
// failure, else 3 error, else 0. Info failures never change the code.
int audit_exit_code(const std::vector<Finding>& findings);

// "fail" if any finding fails, else "error" if any errs, else "pass".
std::string_view overall_status(const std::vector<Finding>& findings);

}  // namespace qharden
