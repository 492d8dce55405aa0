// Any byte string read as inetd.conf must parse without crashing, and every
// located word must be exactly those bytes of the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "inventory/inventory.h"
#include "parsers/inetd.h"
#include "tcp_env_flags/tcp_env_flags.h"

namespace {

void check_location(std::string_view text, const qharden::WordLocation& location,
                    std::string_view word) {
  if (location.offset + location.length > text.size()) __builtin_trap();
  if (text.substr(location.offset, location.length) != word) __builtin_trap();
  if (location.line < 1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::InetdFile parsed = qharden::parse_inetd_text("/etc/inetd.conf", text);
  for (const qharden::InetdProblem& problem : parsed.problems) {
    if (problem.message.empty() || problem.line < 1) __builtin_trap();
  }
  for (const qharden::InetdEntry& entry : parsed.entries) {
    if (entry.arguments.size() > qharden::kInetdMaximumArguments) __builtin_trap();
    if (entry.line > entry.last_line) __builtin_trap();
    check_location(text, entry.server_location, entry.server);
    for (std::size_t index = 0; index < entry.arguments.size(); ++index) {
      check_location(text, entry.argument_locations[index], entry.arguments[index]);
    }
    qharden::InetdCommandLine command = qharden::inetd_command_line(entry);
    if (command.argv.size() != command.locations.size()) __builtin_trap();
    for (std::size_t index = 0; index < command.argv.size(); ++index) {
      if (!command.locations[index]) __builtin_trap();
      check_location(text, *command.locations[index], command.argv[index]);
    }
    std::optional<std::size_t> tcp_env = qharden::find_program_word(command.argv, "tcp-env");
    if (tcp_env) {
      std::vector<std::string> after(command.argv.begin() + static_cast<long>(*tcp_env) + 1,
                                     command.argv.end());
      qharden::read_tcp_env_options(after);
    }
  }
  return 0;
}
