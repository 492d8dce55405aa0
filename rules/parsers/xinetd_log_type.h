// xinetd's log_type attribute, as its log_type_parser reads it:
//   FILE path [soft-limit [hard-limit]]   limits: digits, then k/K or m/M
//   SYSLOG facility [level]               names of its nvlists.c
// compared without case (xinetd's EQ is strcasecmp). A service whose log_type
// is rejected is disabled; a rejected one in `defaults` stops xinetd.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace qharden {

// Why xinetd would reject these values, or nothing when it takes them.
std::optional<std::string> xinetd_log_type_problem(const std::vector<std::string>& values);

}  // namespace qharden
