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

void FindingTally::add(const Finding& finding) {
  switch (finding.status) {
    case Status::pass:
      ++counts_.pass;
      break;
    case Status::fail:
      ++counts_.fail;
      if (finding.severity == Severity::critical) critical_failure_ = true;
      if (finding.severity == Severity::warning) warning_failure_ = true;
      break;
    case Status::error:
      ++counts_.error;
      break;
    case Status::skip:
      ++counts_.skip;
      break;
  }
}

int FindingTally::exit_code() const {
  if (critical_failure_) return 2;
  if (warning_failure_) return 1;
  if (counts_.error > 0) return 3;
  return 0;
}

std::string_view FindingTally::overall_status() const {
  if (counts_.fail > 0) return "fail";
  if (counts_.error > 0) return "error";
  return "pass";
}

namespace {

FindingTally tally_of(const std::vector<Finding>& findings) {
  FindingTally tally;
  for (const Finding& finding : findings) tally.add(finding);
  return tally;
}

}  // namespace

StatusCounts count_statuses(const std::vector<Finding>& findings) {
  return tally_of(findings).counts();
}

int audit_exit_code(const std::vector<Finding>& findings) {
  return tally_of(findings).exit_code();
}

std::string_view overall_status(const std::vector<Finding>& findings) {
  return tally_of(findings).overall_status();
}

}  // namespace qharden
