// Any byte string, read as a systemd unit file, must parse without crashing or
// hanging; every value and every command word must point at its own bytes in
// the input (a fix rewrites those bytes), and every line number must be one of
// the input's lines.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parsers/systemd_unit.h"
#include "parsers/text_lines.h"

namespace {

// The file byte behind one byte of a value: the same byte, or the '\' of a
// continuation that the joined line holds as a space.
bool same_byte(std::string_view text, std::size_t offset, char value_byte) {
  if (offset >= text.size()) return false;
  return text[offset] == value_byte || (value_byte == ' ' && text[offset] == '\\');
}

void check_span(std::string_view text, const qharden::WordLocation& location, int last_line,
                int line_count, std::string_view bytes) {
  if (location.offset + location.length > text.size()) __builtin_trap();
  if (location.line < 1 || location.line > last_line || last_line > line_count) __builtin_trap();
  if (location.line == last_line && text.substr(location.offset, location.length) != bytes) {
    __builtin_trap();
  }
  if (!bytes.empty() && (!same_byte(text, location.offset, bytes.front()) ||
                         !same_byte(text, location.offset + location.length - 1, bytes.back()))) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  int line_count = static_cast<int>(qharden::split_lines(text).size());
  const std::string file = "/etc/systemd/system/fuzz@.service";
  qharden::SystemdUnitFile unit = qharden::parse_systemd_unit_text(file, text);
  for (const qharden::SystemdUnitProblem& problem : unit.problems) {
    if (problem.line < 1 || problem.line > line_count) __builtin_trap();
    if (problem.message.rfind(file + ":" + std::to_string(problem.line) + ": ", 0) != 0) {
      __builtin_trap();
    }
  }
  for (const qharden::SystemdSection& section : unit.sections) {
    if (section.line < 1 || section.line > line_count) __builtin_trap();
    for (const qharden::SystemdAssignment& assignment : section.assignments) {
      if (assignment.key.empty()) __builtin_trap();
      check_span(text, assignment.location, assignment.last_line, line_count, assignment.value);
      for (std::size_t index = 0; index < assignment.value.size(); ++index) {
        if (!same_byte(text, qharden::systemd_value_offset(assignment, index),
                       assignment.value[index])) {
          __builtin_trap();
        }
      }
      qharden::Expected<qharden::SystemdCommandLine> command =
          qharden::split_systemd_command(file, assignment);
      if (!command) {
        if (command.error().message.rfind(file + ":", 0) != 0) __builtin_trap();
        continue;
      }
      check_span(text, command->program.location, command->program.last_line, line_count,
                 command->program.written);
      if (command->argv.empty()) __builtin_trap();
      for (const qharden::SystemdCommandWord& word : command->argv) {
        check_span(text, word.location, word.last_line, line_count, word.written);
        if (word.location.offset < assignment.location.offset ||
            word.location.offset + word.location.length >
                assignment.location.offset + assignment.location.length) {
          __builtin_trap();
        }
      }
    }
  }
  // The list rules only ever return assignments of that key.
  for (const qharden::SystemdAssignment* assignment :
       qharden::systemd_list(unit, "Service", "ExecStart")) {
    if (assignment->key != "ExecStart" || assignment->value.empty()) __builtin_trap();
  }
  return 0;
}
