#pragma once

#include <string>
#include <string_view>

namespace qharden {

// `diff -u` style text between two versions of host_path, three lines of
// context. Empty when they are equal.
std::string unified_diff(const std::string& host_path, std::string_view before,
                         std::string_view after, bool before_exists = true);

}  // namespace qharden
