#include "engine/finding.h"

namespace qharden {

std::string_view to_string(Status status) {
  switch (status) {
    case Status::pass:
      return "pass";
    case Status::fail:
      return "fail";
    case Status::error:
      return "error";
    case Status::skip:
      return "skip";
  }
  return "error";
}

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::info:
      return "info";
    case Severity::warning:
      return "warning";
    case Severity::critical:
      return "critical";
  }
  return "critical";
}

std::optional<Severity> severity_from_string(std::string_view text) {
  if (text == "info") return Severity::info;
  if (text == "warning") return Severity::warning;
  if (text == "critical") return Severity::critical;
  return std::nullopt;
}

StatusCounts count_statuses(const std::vector<Finding>& findings) {
  StatusCounts counts;
  for (const Finding& finding : findings) {
    switch (finding.status) {
      case Status::pass:
        ++counts.pass;
        break;
      case Status::fail:
        ++counts.fail;
        break;
      case Status::error:
        ++counts.error;
        break;
      case Status::skip:
        ++counts.skip;
        break;
    }
  }
  return counts;
}

int audit_exit_code(const std::vector<Finding>& findings) {
  bool critical_failure = false;
  bool warning_failure = false;
  bool any_error = false;
  for (const Finding& finding : findings) {
    if (finding.status == Status::fail) {
      if (finding.severity == Severity::critical) critical_failure = true;
      if (finding.severity == Severity::warning) warning_failure = true;
    }
    if (finding.status == Status::error) any_error = true;
  }
  if (critical_failure) return 2;
  if (warning_failure) return 1;
  if (any_error) return 3;
  return 0;
}

std::string_view overall_status(const std::vector<Finding>& findings) {
  StatusCounts counts = count_statuses(findings);
  if (counts.fail > 0) return "fail";
  if (counts.error > 0) return "error";
  return "pass";
}

}  // namespace qharden
