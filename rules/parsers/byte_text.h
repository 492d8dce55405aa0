// Bytes carried inside JSON, which holds only UTF-8 text: file paths, command
// output and command lines are bytes on Linux, and a message between the agent
// and its fixer must carry them unchanged.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qharden {

bool is_valid_utf8(std::string_view bytes);

// The text with each invalid UTF-8 sequence replaced by U+FFFD, as the JSON
// report writes it (nlohmann's error_handler_t::replace), for places that
// take only UTF-8 and have no escape for a byte: D-Bus strings, Prometheus
// label values.
std::string with_invalid_utf8_replaced(std::string_view bytes);

std::string base64_encode(std::string_view bytes);
// nullopt for anything but canonical, padded base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace qharden
