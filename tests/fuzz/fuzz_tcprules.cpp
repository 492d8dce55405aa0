// Any byte string read as a tcprules source must parse without crashing; every
// rule keeps its line, every range expands to at most 256 keys, and the data
// it predicts reads back to the same rule.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parsers/tcprules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  qharden::TcprulesSource source = qharden::parse_tcprules_text("/etc/tcp.smtp", text);
  int previous_line = 0;
  for (const qharden::TcpRule& rule : source.rules) {
    if (rule.line <= previous_line) __builtin_trap();
    previous_line = rule.line;
    if (rule.keys.size() > 256) __builtin_trap();
    // A NUL inside a name or value ends tcpserver's instruction early, as it
    // would in the real cdb, so the data reads back the same only without one.
    bool has_nul = false;
    for (const auto& [name, value] : rule.variables) {
      has_nul =
          has_nul || name.find('\0') != std::string::npos || value.find('\0') != std::string::npos;
    }
    bool deny = false;
    std::vector<std::pair<std::string, std::string>> variables;
    bool understood = qharden::read_tcprules_data(rule.data, deny, variables);
    if (!has_nul && (!understood || deny != rule.deny || variables != rule.variables)) {
      __builtin_trap();
    }
  }
  for (const qharden::TcprulesProblem& problem : source.problems) {
    if (problem.line < 1 || problem.message.rfind("/etc/tcp.smtp:", 0) != 0) __builtin_trap();
  }
  return 0;
}
