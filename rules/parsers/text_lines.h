// Lines and blank-separated words of a config file, each with its byte
// position, so that a fix can later rewrite exactly the bytes it means to.
// Shared by the xinetd and inetd parsers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "inventory/inventory.h"

namespace qharden {

struct TextLine {
  std::size_t offset = 0;  // first byte of the line
  std::size_t length = 0;  // without the '\n'
  int number = 0;          // 1-based
};

struct LocatedWord {
  std::string text;
  WordLocation location;
};

// Every line of text; a final line without '\n' counts, an empty tail does not.
std::vector<TextLine> split_lines(std::string_view text);

// The words of one line, split on any of `blanks` (xinetd and inetd split on
// space and tab only, so a '\r' stays part of a word as it does for them).
std::vector<LocatedWord> split_located_words(std::string_view text, const TextLine& line,
                                             std::string_view blanks = " \t");

// The 1-based line of the first NUL byte, or 0 when there is none. Config files
// never hold NUL, so one means a binary file was dropped into a config folder.
int first_nul_line(std::string_view text);

// xinetd's test for the `{` and `}` lines: that character alone, blanks around it.
bool line_holds_only(std::string_view line, char character);

// The basename of a path-like word ("/var/qmail/bin/tcp-env" -> "tcp-env").
std::string_view path_basename(std::string_view word);

}  // namespace qharden
