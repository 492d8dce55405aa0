#include "parsers/systemd_unit.h"

#include <algorithm>
#include <cstdint>

#include "parsers/text_lines.h"

namespace qharden {
namespace {

constexpr std::string_view kWhitespace = " \t\n\r";  // systemd's WHITESPACE

bool is_comment_start(char character) {
  return character == '#' || character == ';';
}

// A line's bytes without its '\n' and, for CRLF files, the '\r' before it.
std::string_view line_content(std::string_view text, const TextLine& line) {
  std::string_view content = text.substr(line.offset, line.length);
  if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
  return content;
}

// systemd's test: the line ends in a '\' that is not itself escaped.
bool ends_in_continuation(std::string_view content) {
  bool escaped = false;
  for (char character : content) escaped = !escaped && character == '\\';
  return escaped;
}

// One logical line: physical lines joined, each continuation '\' a space.
struct LogicalLine {
  std::string text;
  std::vector<SystemdAssignment::Piece> pieces;
  int last_line = 0;  // systemd names this line in its warnings
};

std::size_t file_offset(const std::vector<SystemdAssignment::Piece>& pieces, std::size_t index) {
  auto after = std::upper_bound(pieces.begin(), pieces.end(), index,
                                [](std::size_t value, const SystemdAssignment::Piece& piece) {
                                  return value < piece.logical;
                                });
  const SystemdAssignment::Piece& piece = *(after - 1);
  return piece.offset + (index - piece.logical);
}

int line_of(const std::vector<SystemdAssignment::Piece>& pieces, std::size_t index) {
  auto after = std::upper_bound(pieces.begin(), pieces.end(), index,
                                [](std::size_t value, const SystemdAssignment::Piece& piece) {
                                  return value < piece.logical;
                                });
  return (after - 1)->line;
}

class SystemdUnitParser {
 public:
  SystemdUnitParser(const std::string& file, std::string_view text) : text_(text) {
    result_.file = file;
  }

  SystemdUnitFile parse() {
    LogicalLine logical;
    bool continuing = false;
    for (const TextLine& line : split_lines(text_)) {
      std::string_view content = line_content(text_, line);
      if (continuing) {
        // systemd skips comment lines inside a continued line; a blank line
        // is no comment and ends it (checked with systemd-analyze verify, 252).
        std::size_t first = content.find_first_not_of(kWhitespace);
        if (first != std::string_view::npos && is_comment_start(content[first])) continue;
      } else {
        logical = LogicalLine{};
      }
      // systemd reads lines up to 1 MiB, continued ones too; beyond that the
      // unit fails to load (systemd-analyze verify: "No buffer space available").
      if (logical.text.size() + content.size() > kSystemdMaximumLineBytes) {
        problem(line.number, true, "line longer than 1 MiB; systemd refuses to load the unit");
        return std::move(result_);
      }
      logical.pieces.push_back({logical.text.size(), line.offset, line.number});
      logical.text.append(content);
      logical.last_line = line.number;
      continuing = ends_in_continuation(content);
      if (continuing) {
        logical.text.back() = ' ';
        continue;
      }
      parse_logical_line(logical);
    }
    // A '\' on the last line: systemd parses what it has.
    if (continuing) parse_logical_line(logical);
    return std::move(result_);
  }

 private:
  void problem(int line, bool fatal, const std::string& message) {
    result_.problems.push_back(
        {line, fatal, result_.file + ":" + std::to_string(line) + ": " + message});
  }

  void parse_logical_line(const LogicalLine& logical) {
    std::string_view whole = logical.text;
    std::size_t begin = whole.find_first_not_of(kWhitespace);
    if (begin == std::string_view::npos) return;
    std::size_t end = whole.find_last_not_of(kWhitespace) + 1;
    std::string_view content = whole.substr(begin, end - begin);
    int line = logical.last_line;
    if (is_comment_start(content.front())) return;
    if (content.front() == '[') {
      if (content.size() < 2 || content.back() != ']') {
        problem(line, true,
                "invalid section header `" + std::string(content) +
                    "` (no closing ']'); systemd refuses to load the unit");
        return;
      }
      result_.sections.push_back({std::string(content.substr(1, content.size() - 2)), line, {}});
      return;
    }
    if (result_.sections.empty()) {
      problem(line, false, "assignment outside of any section; systemd ignores it");
      return;
    }
    std::size_t equals = content.find('=');
    if (equals == std::string_view::npos) {
      problem(line, false,
              "missing '=' in `" + std::string(content) + "`; systemd ignores the line");
      return;
    }
    if (equals == 0) {
      problem(line, false, "missing key name before '='; systemd ignores the line");
      return;
    }
    std::string_view key = content.substr(0, equals);
    key = key.substr(0, key.find_last_not_of(kWhitespace) + 1);
    std::size_t value_start = begin + equals + 1;
    std::size_t value_end = begin + content.size();
    value_start = std::min(value_end, whole.find_first_not_of(kWhitespace, value_start));
    SystemdAssignment assignment;
    assignment.key = std::string(key);
    assignment.value = std::string(whole.substr(value_start, value_end - value_start));
    assignment.pieces = logical.pieces;
    assignment.value_start = value_start;
    std::size_t first = file_offset(logical.pieces, value_start);
    std::size_t last_index = value_end > value_start ? value_end - 1 : value_start;
    std::size_t last =
        value_end > value_start ? file_offset(logical.pieces, last_index) + 1 : first;
    // An empty value at the very end of the logical line sits just past it.
    assignment.location = WordLocation{first, static_cast<std::uint32_t>(last - first),
                                       line_of(logical.pieces, value_start)};
    assignment.last_line = line_of(logical.pieces, last_index);
    result_.sections.back().assignments.push_back(std::move(assignment));
  }

  std::string_view text_;
  SystemdUnitFile result_;
};

void append_utf8(std::uint32_t code, std::string& out) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
    return;
  }
  int continuation_bytes = code < 0x800 ? 1 : code < 0x10000 ? 2 : 3;
  static constexpr unsigned char kLead[] = {0, 0xC0, 0xE0, 0xF0};
  out.push_back(static_cast<char>(kLead[continuation_bytes] | (code >> (6 * continuation_bytes))));
  for (int shift = 6 * (continuation_bytes - 1); shift >= 0; shift -= 6) {
    out.push_back(static_cast<char>(0x80 | ((code >> shift) & 0x3F)));
  }
}

// Decodes one escape after a '\' at `position` in `value`; returns its length
// (the '\' included) or 0 when it is not one systemd knows.
std::size_t decode_escape(std::string_view value, std::size_t position, std::string& out) {
  if (position + 1 >= value.size()) return 0;
  char next = value[position + 1];
  static constexpr std::string_view kFrom = "abfnrtvs\\\"' ;";
  static constexpr std::string_view kTo = "\a\b\f\n\r\t\v \\\"' ;";
  if (std::size_t found = kFrom.find(next); found != std::string_view::npos) {
    out.push_back(kTo[found]);
    return 2;
  }
  auto digit_value = [](char character, int base) -> int {
    if (character >= '0' && character <= '9' && character - '0' < base) return character - '0';
    if (base == 16 && character >= 'a' && character <= 'f') return character - 'a' + 10;
    if (base == 16 && character >= 'A' && character <= 'F') return character - 'A' + 10;
    return -1;
  };
  int base = next == 'x' || next == 'u' || next == 'U' ? 16 : 8;
  std::size_t digits = next == 'x' ? 2 : next == 'u' ? 4 : next == 'U' ? 8 : 3;
  std::size_t first = base == 16 ? position + 2 : position + 1;
  if (first + digits > value.size()) return 0;
  std::uint32_t code = 0;
  for (std::size_t index = first; index < first + digits; ++index) {
    int digit = digit_value(value[index], base);
    if (digit < 0) return 0;
    code = code * static_cast<std::uint32_t>(base) + static_cast<std::uint32_t>(digit);
  }
  // systemd refuses a NUL, octal above 255 and what is no Unicode character.
  if (code == 0 || (base == 8 && code > 255) || code > 0x10FFFF) return 0;
  if (next == 'u' || next == 'U') {
    if (code >= 0xD800 && code <= 0xDFFF) return 0;
    append_utf8(code, out);
  } else {
    out.push_back(static_cast<char>(code));
  }
  return first + digits - position;
}

}  // namespace

bool SystemdUnitFile::loads() const {
  return std::none_of(problems.begin(), problems.end(),
                      [](const SystemdUnitProblem& problem) { return problem.fatal; });
}

SystemdUnitFile parse_systemd_unit_text(const std::string& file, std::string_view text) {
  return SystemdUnitParser(file, text).parse();
}

std::vector<const SystemdAssignment*> systemd_list(const SystemdUnitFile& unit,
                                                   std::string_view section, std::string_view key) {
  std::vector<const SystemdAssignment*> list;
  for (const SystemdSection& candidate : unit.sections) {
    if (candidate.name != section) continue;
    for (const SystemdAssignment& assignment : candidate.assignments) {
      if (assignment.key != key) continue;
      if (assignment.value.empty()) {
        list.clear();
      } else {
        list.push_back(&assignment);
      }
    }
  }
  return list;
}

const SystemdAssignment* systemd_last(const SystemdUnitFile& unit, std::string_view section,
                                      std::string_view key) {
  const SystemdAssignment* last = nullptr;
  for (const SystemdSection& candidate : unit.sections) {
    if (candidate.name != section) continue;
    for (const SystemdAssignment& assignment : candidate.assignments) {
      if (assignment.key == key) last = &assignment;
    }
  }
  return last != nullptr && !last->value.empty() ? last : nullptr;
}

std::size_t systemd_value_offset(const SystemdAssignment& assignment, std::size_t index) {
  return file_offset(assignment.pieces, assignment.value_start + index);
}

namespace {

struct SplitWords {
  std::vector<SystemdCommandWord> words;
  bool more_commands = false;
  bool unknown_escapes = false;
};

// Words with '…' and "…" quoting and C-style escapes, as systemd's
// extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) reads them. In a
// command line a lone unquoted ';' ends the first command.
Expected<SplitWords> split_words(const std::string& file, const SystemdAssignment& assignment,
                                 bool command_line) {
  std::string_view value = assignment.value;
  auto failure = [&](std::size_t index, const std::string& message) {
    int line = line_of(assignment.pieces, assignment.value_start + index);
    return fail_with(file + ":" + std::to_string(line) + ": " + assignment.key + "=: " + message);
  };
  SplitWords command;
  std::vector<SystemdCommandWord>& words = command.words;
  std::size_t position = 0;
  while (true) {
    position = std::min(value.size(), value.find_first_not_of(kWhitespace, position));
    if (position == value.size()) break;
    std::size_t start = position;
    std::string text;
    char quote = 0;
    bool any_quote = false;
    while (position < value.size()) {
      char character = value[position];
      if (quote == 0 && kWhitespace.find(character) != std::string_view::npos) break;
      if (character == '\\') {
        std::size_t length = decode_escape(value, position, text);
        if (length == 0) {
          // systemd warns "Ignoring unknown escape sequences" and keeps the '\'
          // and the next byte as written (systemd-analyze verify, 252).
          command.unknown_escapes = true;
          length = std::min<std::size_t>(2, value.size() - position);
          text.append(value.substr(position, length));
        }
        position += length;
      } else if (quote == 0 && (character == '"' || character == '\'')) {
        quote = character;
        any_quote = true;
        ++position;
      } else if (character == quote) {
        quote = 0;
        ++position;
      } else {
        text.push_back(character);
        ++position;
      }
    }
    if (quote != 0) return failure(start, "unterminated quote");
    // A lone unquoted ';' separates commands (older units still use it).
    if (command_line && !any_quote && value.substr(start, position - start) == ";") {
      command.more_commands = true;
      break;
    }
    SystemdCommandWord word;
    word.text = std::move(text);
    word.written = std::string(value.substr(start, position - start));
    std::size_t first = systemd_value_offset(assignment, start);
    std::size_t last = systemd_value_offset(assignment, position - 1) + 1;
    word.location = WordLocation{first, static_cast<std::uint32_t>(last - first),
                                 line_of(assignment.pieces, assignment.value_start + start)};
    word.last_line = line_of(assignment.pieces, assignment.value_start + position - 1);
    words.push_back(std::move(word));
  }
  return command;
}

}  // namespace

Expected<std::vector<SystemdCommandWord>> split_systemd_words(const std::string& file,
                                                              const SystemdAssignment& assignment) {
  Expected<SplitWords> split = split_words(file, assignment, false);
  if (!split) return Unexpected(split.error());
  return std::move(split->words);
}

Expected<SystemdCommandLine> split_systemd_command(const std::string& file,
                                                   const SystemdAssignment& assignment) {
  auto failure = [&](std::size_t index, const std::string& message) {
    int line = line_of(assignment.pieces, assignment.value_start + index);
    return fail_with(file + ":" + std::to_string(line) + ": " + assignment.key + "=: " + message);
  };
  Expected<SplitWords> split = split_words(file, assignment, true);
  if (!split) return Unexpected(split.error());
  SystemdCommandLine command;
  command.more_commands = split->more_commands;
  command.unknown_escapes = split->unknown_escapes;
  std::vector<SystemdCommandWord>& words = split->words;
  if (words.empty()) return failure(0, "no command");
  // The prefixes are read from the first word after unquoting, so "-/bin/a"
  // in quotes has one too (systemd-analyze verify, 252). '-', '@' and ':' at
  // most once each; '+' or up to two '!', not both ("+!" leaves a path that
  // starts with '!').
  SystemdCommandWord& first = words.front();
  std::size_t prefix_length = 0;
  auto seen = [&](char prefix) {
    return static_cast<std::size_t>(
        std::count(command.prefixes.begin(), command.prefixes.end(), prefix));
  };
  while (prefix_length < first.text.size()) {
    char character = first.text[prefix_length];
    bool accepted = false;
    if (character == '-' || character == '@' || character == ':') accepted = seen(character) == 0;
    if (character == '+') accepted = seen('+') == 0 && seen('!') == 0;
    if (character == '!') accepted = seen('+') == 0 && seen('!') < 2;
    if (!accepted) break;
    command.prefixes.push_back(character);
    ++prefix_length;
  }
  first.text.erase(0, prefix_length);
  // Written plainly, the prefixes leave the word's location; quoted or
  // escaped, the word keeps its bytes as written.
  if (first.written.compare(0, prefix_length, command.prefixes) == 0) {
    first.written.erase(0, prefix_length);
    first.location.offset += prefix_length;
    first.location.length -= prefix_length;
  }
  if (first.text.empty()) return failure(0, "empty executable name");
  bool separate_argv0 = command.prefixes.find('@') != std::string::npos;
  if (separate_argv0 && words.size() < 2) return failure(0, "'@' needs the program and argv[0]");
  command.program = words.front();
  command.argv.assign(words.begin() + (separate_argv0 ? 1 : 0), words.end());
  return command;
}

}  // namespace qharden
