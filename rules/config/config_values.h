#pragma once

#include <string>

#include <toml++/toml.h>

#include "config/config.h"

namespace qharden {

// Reads every key into Config, each from overrides when set there, else from
// the defaults, and checks its value. Errors name the file, line and column of
// the offending value.
Expected<Config> read_config_values(const toml::table& defaults, const toml::table& overrides,
                                    const std::string& override_name);

// Known rule ids, for checking agent.reapply.
bool is_known_rule_id(std::string_view id);

}  // namespace qharden
