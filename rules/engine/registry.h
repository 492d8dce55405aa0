#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"
#include "engine/rule.h"

namespace qharden {

// Every rule, in the order of the design's table.
const std::vector<std::unique_ptr<Rule>>& all_rules();
std::vector<std::string_view> all_rule_ids();
const Rule* find_rule(std::string_view id);

// Resolves --rule arguments; an unknown id is an error naming it. Empty = all.
Expected<std::vector<const Rule*>> select_rules(const std::vector<std::string>& ids);

}  // namespace qharden
