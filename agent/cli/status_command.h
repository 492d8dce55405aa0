#pragma once

#include <cstdint>
#include <string>

namespace qharden {

// `qharden status`: what the running agent reports over D-Bus. Exit 0 when
// compliant, 1 when not, 3 when the agent cannot be reached.
int run_status_command(const std::string& bus);

// `qharden status --format nagios`: the monitoring-plugin line from the
// agent's last report; exit codes as audit's, 3 (UNKNOWN) when there is no
// agent, no finished audit, or one older than max_age_seconds (0: no limit).
int run_nagios_status(const std::string& bus, std::int64_t max_age_seconds);

}  // namespace qharden
