// The run-script reader must take any bytes: every word it reports lies inside
// the text, lines are counted from 1, and unwrapping never reads past argv.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "parsers/shell_words.h"

namespace {

void check_location(const qharden::WordLocation& location, std::size_t text_size) {
  if (location.offset > text_size || location.length > text_size - location.offset) {
    __builtin_trap();
  }
  if (location.line < 1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::ShellScript script = qharden::parse_shell_script("fuzz/run", text);
  for (const qharden::ShellCommand& command : script.commands) {
    if (command.line < 1) __builtin_trap();
    for (const qharden::ShellWord& word : command.words) check_location(word.location, size);
    for (const qharden::ShellAssignment& assignment : command.assignments) {
      check_location(assignment.location, size);
    }
  }
  for (const qharden::ShellProblem& problem : script.problems) {
    if (problem.line < 1 || problem.message.empty()) __builtin_trap();
  }
  qharden::ResolvedScript resolved = qharden::resolve_programs(script);
  for (const qharden::ProgramCommand& program : resolved.commands) {
    if (program.argv.empty()) __builtin_trap();
    for (const qharden::ShellWord& word : program.argv) check_location(word.location, size);
  }
  return 0;
}
