#pragma once

#include <string>

namespace qharden {

// `qharden status`: what the running agent reports over D-Bus. Exit 0 when
// compliant, 1 when not, 3 when the agent cannot be reached.
int run_status_command(const std::string& bus);

}  // namespace qharden
