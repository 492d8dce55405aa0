// Cuts a text into blocks of whole lines, the way Host::read_file_in_blocks
// cuts a file, so that tests and fuzz targets can feed the xinetd parser the
// same text cut anywhere and compare the parses.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qharden::testing {

// Hands `text` to `each` in blocks of `lines_per_block` whole lines; 0 hands
// it over as one block. A last line without '\n' ends the last block.
template <typename Visitor>
void visit_line_blocks(std::string_view text, std::size_t lines_per_block, const Visitor& each) {
  if (lines_per_block == 0) {
    each(text);
    return;
  }
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = start;
    for (std::size_t line = 0; line < lines_per_block && end < text.size(); ++line) {
      std::size_t newline = text.find('\n', end);
      end = newline == std::string_view::npos ? text.size() : newline + 1;
    }
    each(text.substr(start, end - start));
    start = end;
  }
}

}  // namespace qharden::testing
