// D-Bus strings must be valid UTF-8, or sd-bus refuses the whole message
// ("Failed to serialize a string value") and the caller is blamed with
// InvalidArgs. What the engine reports quotes bytes: file names, comments,
// file content in a diff. Every string the agent puts on the bus goes through
// bus_text, so a Latin-1 file name costs one character, not the reply.
#pragma once

#include <string>
#include <string_view>

#include "parsers/byte_text.h"

namespace qharden::agent {

// Invalid sequences become U+FFFD, as GetReport's JSON shows them.
inline std::string bus_text(std::string_view text) {
  return with_invalid_utf8_replaced(text);
}

}  // namespace qharden::agent
