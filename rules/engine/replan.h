// Two rules of one apply may fix the same file (tcp-env.flags and
// listener.burst-limits both edit /etc/xinetd.d/smtp_psa). Each was planned
// against the file as it was before either, so the second would be refused as
// "changed since it was planned". It is planned again from the file as the
// first left it, but only when the file holds exactly what this apply wrote:
// another program's edit still refuses, by name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/fix.h"

namespace qharden {

class RootedHost;

// The changes to make for `rule`: its planned ones, or planned again when one
// of them rewrites a file that `written_this_run` (host path -> text written)
// shows an earlier rule of this apply changed. A note says so.
std::vector<PlannedChange> changes_for_rule(
    const RootedHost& host, const Config& config, const FixSelection& selection,
    const PlanResult& plan, const std::string& rule,
    const std::map<std::string, std::string>& written_this_run, std::vector<std::string>& notes);

}  // namespace qharden
