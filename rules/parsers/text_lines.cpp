#include "parsers/text_lines.h"

#include <algorithm>
#include <cctype>

namespace qharden {

std::vector<TextLine> split_lines(std::string_view text) {
  std::vector<TextLine> lines;
  std::size_t offset = 0;
  int number = 0;
  while (offset < text.size()) {
    std::size_t end = text.find('\n', offset);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(TextLine{offset, end - offset, ++number});
    offset = end + 1;
  }
  return lines;
}

std::vector<LocatedWord> split_located_words(std::string_view text, const TextLine& line,
                                             std::string_view blanks) {
  std::vector<LocatedWord> words;
  std::string_view content = text.substr(line.offset, line.length);
  std::size_t position = 0;
  while (position < content.size()) {
    std::size_t start = content.find_first_not_of(blanks, position);
    if (start == std::string_view::npos) break;
    std::size_t end = content.find_first_of(blanks, start);
    if (end == std::string_view::npos) end = content.size();
    LocatedWord word;
    word.text = std::string(content.substr(start, end - start));
    word.location =
        WordLocation{line.offset + start, static_cast<std::uint32_t>(end - start), line.number};
    words.push_back(std::move(word));
    position = end;
  }
  return words;
}

int first_nul_line(std::string_view text) {
  std::size_t nul = text.find('\0');
  if (nul == std::string_view::npos) return 0;
  return 1 +
         static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(nul), '\n'));
}

bool line_holds_only(std::string_view line, char character) {
  bool seen = false;
  for (char each : line) {
    if (std::isspace(static_cast<unsigned char>(each))) continue;
    if (each != character || seen) return false;
    seen = true;
  }
  return seen;
}

std::string_view path_basename(std::string_view word) {
  std::size_t slash = word.rfind('/');
  return slash == std::string_view::npos ? word : word.substr(slash + 1);
}

}  // namespace qharden
