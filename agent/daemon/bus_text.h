// D-Bus strings must be valid UTF-8, or sd-bus refuses the whole message
// ("Failed to serialize a string value") and the caller is blamed with
// InvalidArgs. What the engine reports quotes bytes: file names, comments,
// file content in a diff. Every string the agent puts on the bus goes through
// bus_text, so a Latin-1 file name costs one character, not the reply.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "parsers/byte_text.h"

namespace qharden::agent {

// Invalid sequences become U+FFFD, by the same code that cleans GetReport's
// JSON (nlohmann's error_handler_t::replace), so both show a name alike.
inline std::string bus_text(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string quoted = nlohmann::json(std::string(text))
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

}  // namespace qharden::agent
