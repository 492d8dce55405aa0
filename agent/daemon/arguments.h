// Checks on what a D-Bus caller sends, kept free of sdbus so the unit tier can
// test them. Each message names the argument, as InvalidArgs replies must.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "engine/registry.h"
#include "journal/journal.h"

namespace qharden::agent {

// Bounds from the design: a caller cannot make the agent hold or log
// unbounded input.
inline constexpr std::size_t kMaximumRulesPerCall = 64;
inline constexpr std::size_t kMaximumArgumentBytes = 256;

// The reason the rule list is refused, or nullopt when every id is known.
inline std::optional<std::string> invalid_rule_ids(const std::vector<std::string>& rule_ids) {
  if (rule_ids.size() > kMaximumRulesPerCall) {
    return "rules: " + std::to_string(rule_ids.size()) + " ids given, at most " +
           std::to_string(kMaximumRulesPerCall) + " are accepted";
  }
  for (const std::string& rule_id : rule_ids) {
    if (rule_id.size() > kMaximumArgumentBytes) {
      return "rules: an id of " + std::to_string(rule_id.size()) + " bytes is longer than " +
             std::to_string(kMaximumArgumentBytes);
    }
    if (find_rule(rule_id) == nullptr) return "rules: unknown rule id \"" + rule_id + "\"";
  }
  return std::nullopt;
}

// Only the form is checked here; whether the change exists needs the journal.
inline std::optional<std::string> invalid_change_id(const std::string& change_id) {
  if (change_id.size() > kMaximumArgumentBytes) {
    return "change_id: " + std::to_string(change_id.size()) + " bytes is longer than " +
           std::to_string(kMaximumArgumentBytes);
  }
  if (!change_id.empty() && !is_valid_change_id(change_id)) {
    return "change_id: \"" + change_id + "\" is not a change id (see `qharden history`)";
  }
  return std::nullopt;
}

}  // namespace qharden::agent
