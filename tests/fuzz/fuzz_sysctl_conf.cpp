// Any byte string must parse without crashing, every reported line number must
// lie inside the input, and every key must already be in normalised form (a
// second normalisation changes nothing, except for the one ambiguous shape the
// header names), so precedence compares like with like.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parsers/sysctl_conf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::SysctlConfFile file = qharden::parse_sysctl_conf("/etc/sysctl.d/fuzz.conf", text);
  std::size_t line_count = 1;
  for (char character : text) line_count += character == '\n' ? 1 : 0;
  int previous_line = 0;
  for (const qharden::SysctlAssignment& assignment : file.assignments) {
    if (assignment.line <= previous_line ||
        static_cast<std::size_t>(assignment.line) > line_count) {
      __builtin_trap();
    }
    previous_line = assignment.line;
    if (assignment.key.empty()) __builtin_trap();
    std::size_t first_separator = assignment.key.find_first_of("./");
    bool first_component_has_literal_dot =
        first_separator != std::string::npos && assignment.key[first_separator] == '/';
    if (!first_component_has_literal_dot &&
        qharden::normalize_sysctl_key(assignment.key) != assignment.key) {
      __builtin_trap();
    }
    if (!assignment.has_value && !assignment.value.empty()) __builtin_trap();
    (void)qharden::sysctl_key_to_proc_path(assignment.key);
  }
  for (const qharden::SysctlMalformedLine& malformed : file.malformed) {
    if (malformed.line < 1 || static_cast<std::size_t>(malformed.line) > line_count) {
      __builtin_trap();
    }
    if (malformed.text.size() > 4 * 80 + 3) __builtin_trap();
  }
  return 0;
}
