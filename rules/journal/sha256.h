#pragma once

#include <string>
#include <string_view>

namespace qharden {

// Lower-case hex SHA-256, used to tell whether a file still holds what a plan
// read or what a change wrote.
std::string sha256_hex(std::string_view bytes);

}  // namespace qharden
