#include "parsers/tcprules.h"

#include <algorithm>

namespace qharden {
namespace {

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// scan_ulong on an all-digit text; saturates, since only values up to 255 matter.
unsigned long number_of(std::string_view digits) {
  unsigned long value = 0;
  for (char digit : digits) {
    value = value * 10 + static_cast<unsigned long>(digit - '0');
    if (value > 100000) return 100000;
  }
  return value;
}

// The keys an address compiles to; false when tcprules rejects its range.
bool expand_address(const std::string& address, std::vector<std::string>& keys) {
  bool plain = address.find('=') == std::string::npos && address.find('@') == std::string::npos;
  std::size_t dash = address.find('-');
  if (!plain || dash == std::string::npos) {
    keys.push_back(address);
    return true;
  }
  std::size_t dot_before = address.rfind('.', dash);
  std::size_t left = dot_before == std::string::npos ? 0 : dot_before + 1;
  std::size_t right = address.find('.', dash + 1);
  if (right == std::string::npos) right = address.size();
  std::string_view bottom_text(address.data() + left, dash - left);
  std::string_view top_text(address.data() + dash + 1, right - dash - 1);
  if (!all_digits(bottom_text) || !all_digits(top_text)) return false;
  unsigned long top = std::min(number_of(top_text), 255UL);
  for (unsigned long number = number_of(bottom_text); number <= top; ++number) {
    keys.push_back(address.substr(0, left) + std::to_string(number) + address.substr(right));
  }
  return true;
}

// ",NAME=<d>value<d>" repeated to the end; false when tcprules would reject it.
bool read_variables(std::string_view rest,
                    std::vector<std::pair<std::string, std::string>>& variables) {
  while (!rest.empty()) {
    if (rest.front() != ',') return false;
    rest.remove_prefix(1);
    std::size_t equals = rest.find('=');
    if (equals == std::string_view::npos || equals == 0) return false;
    std::string name(rest.substr(0, equals));
    rest.remove_prefix(equals + 1);
    if (rest.empty()) return false;
    char delimiter = rest.front();
    rest.remove_prefix(1);
    std::size_t closing = rest.find(delimiter);
    if (closing == std::string_view::npos) return false;
    variables.emplace_back(std::move(name), std::string(rest.substr(0, closing)));
    rest.remove_prefix(closing + 1);
  }
  return true;
}

std::string printable(std::string_view text) {
  std::string shown;
  for (char character : text.substr(0, 200)) {
    unsigned char byte = static_cast<unsigned char>(character);
    shown += byte < 0x20 || byte == 0x7f ? '?' : character;
  }
  return shown;
}

}  // namespace

bool TcprulesSource::compiles() const {
  return std::none_of(problems.begin(), problems.end(),
                      [](const TcprulesProblem& problem) { return problem.fatal; });
}

std::string tcprules_data(bool deny,
                          const std::vector<std::pair<std::string, std::string>>& variables) {
  std::string data;
  if (deny) data += std::string("D\0", 2);
  for (const auto& [name, value] : variables) {
    data += "+" + name + "=" + value;
    data += '\0';
  }
  return data;
}

bool read_tcprules_data(std::string_view data, bool& deny,
                        std::vector<std::pair<std::string, std::string>>& variables) {
  deny = false;
  variables.clear();
  bool understood = true;
  while (!data.empty()) {
    std::size_t end = data.find('\0');
    if (end == std::string_view::npos) return false;  // tcprules ends every instruction with NUL
    std::string_view instruction = data.substr(0, end);
    data.remove_prefix(end + 1);
    if (instruction == "D") {
      deny = true;
    } else if (!instruction.empty() && instruction.front() == '+') {
      std::size_t equals = instruction.find('=');
      if (equals == std::string_view::npos) {
        understood = false;
        continue;
      }
      variables.emplace_back(std::string(instruction.substr(1, equals - 1)),
                             std::string(instruction.substr(equals + 1)));
    } else {
      understood = false;  // tcpserver ignores it; it is not what tcprules writes
    }
  }
  return understood;
}

TcprulesSource parse_tcprules_text(const std::string& file, std::string_view text) {
  TcprulesSource source;
  source.file = file;
  int number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto problem = [&](bool fatal, const std::string& why) {
      source.problems.push_back(TcprulesProblem{
          number, fatal,
          file + ":" + std::to_string(number) + ": " + why + ": " + printable(line)});
    };
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      problem(false, "no ':' in the line, so tcprules skips it");
      continue;
    }
    TcpRule rule;
    rule.line = number;
    rule.address = std::string(line.substr(0, colon));
    std::string_view rest = line.substr(colon + 1);
    if (rest.substr(0, 4) == "deny") {
      rule.deny = true;
      rest.remove_prefix(4);
    } else if (rest.substr(0, 5) == "allow") {
      rest.remove_prefix(5);
    } else {
      problem(true, "tcprules cannot parse this line (neither allow nor deny after ':')");
      continue;
    }
    if (!read_variables(rest, rule.variables)) {
      problem(true, "tcprules cannot parse this line (expected ,NAME=<d>value<d> after " +
                        std::string(rule.deny ? "deny" : "allow") + ")");
      continue;
    }
    if (!expand_address(rule.address, rule.keys)) {
      problem(true, "tcprules cannot parse this line (a range needs digits on both sides of '-')");
      continue;
    }
    if (source.rules.size() >= kTcprulesMaximumRules) {
      problem(false, "more than " + std::to_string(kTcprulesMaximumRules) +
                         " rules; the rest are not read");
      break;
    }
    rule.data = tcprules_data(rule.deny, rule.variables);
    source.rules.push_back(std::move(rule));
  }
  return source;
}

}  // namespace qharden
