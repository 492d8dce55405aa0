// The --config path as given (never under --root), checked before it is read.
#pragma once

#include <optional>
#include <string>

namespace qharden {

// Why PATH cannot be a config file: a folder, which an ifstream opens and
// reads as empty, so the built-in defaults would be used unasked, or a device
// such as /dev/zero, read without end. nullopt otherwise: a missing file is
// left to the reader's message, and /dev/null or a pipe
// (`qharden config check <(generate)`) are read as files.
std::optional<std::string> config_path_problem(const std::string& path);

}  // namespace qharden
