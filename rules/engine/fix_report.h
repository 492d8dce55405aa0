// plan --json and apply --json: what automation (the Ansible module) reads
// instead of the text. Schema 1; the field names are a contract (design.md).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/fix.h"
#include "engine/report.h"

namespace qharden {

// The body of one change as `qharden plan` prints it: a unified diff, the
// sysctl write, or the command with its undo.
std::string describe_change(const PlannedChange& change);

// --detailed-exitcode: 0 nothing to do, 2 changes pending, 1 any refusal.
int plan_detailed_exit_code(const PlanResult& plan);

nlohmann::json plan_json(const ReportHeader& header, const PlanResult& plan);

// exit_code: 0 everything applied and verified (or nothing to do), else 1.
nlohmann::json apply_json(const ReportHeader& header, const ApplyResult& applied);

}  // namespace qharden
