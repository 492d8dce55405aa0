#include "parsers/getopt.h"

namespace qharden {

GetoptResult parse_options(const std::vector<std::string>& words, std::string_view optstring) {
  GetoptResult result;
  std::size_t index = 0;
  while (index < words.size()) {
    const std::string& word = words[index];
    if (word == "--") {
      ++index;
      break;
    }
    if (word.size() < 2 || word[0] != '-') break;
    std::size_t position = 1;
    bool consumed_next = false;
    while (position < word.size()) {
      char letter = word[position];
      std::size_t spec = optstring.find(letter);
      if (letter == ':' || spec == std::string_view::npos) {
        if (!result.error) result.error = std::string("unknown option -") + letter;
        ParsedOption unknown;
        unknown.letter = '?';
        unknown.word_index = index;
        result.options.push_back(unknown);
        ++position;
        continue;
      }
      ParsedOption option;
      option.letter = letter;
      option.word_index = index;
      bool takes_argument = spec + 1 < optstring.size() && optstring[spec + 1] == ':';
      if (takes_argument) {
        if (position + 1 < word.size()) {
          option.argument = word.substr(position + 1);
        } else if (index + 1 < words.size()) {
          option.argument = words[index + 1];
          consumed_next = true;
        } else if (!result.error) {
          result.error = std::string("option -") + letter + " needs an argument";
        }
        result.options.push_back(option);
        break;
      }
      result.options.push_back(option);
      ++position;
    }
    index += consumed_next ? 2 : 1;
  }
  result.first_operand = index;
  return result;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t start = text.find_first_not_of(" \t\r\n", position);
    if (start == std::string_view::npos) break;
    std::size_t end = text.find_first_of(" \t\r\n", start);
    if (end == std::string_view::npos) end = text.size();
    words.emplace_back(text.substr(start, end - start));
    position = end;
  }
  return words;
}

bool tcp_env_options_disable_ident(std::string_view options) {
  std::vector<std::string> words = split_words(options);
  GetoptResult parsed = parse_options(words, "rRt:");
  if (parsed.error || parsed.first_operand != words.size()) return false;
  bool ident_off = false;
  for (const ParsedOption& option : parsed.options) {
    if (option.letter == 'R') ident_off = true;
    if (option.letter == 'r') ident_off = false;
  }
  return ident_off;
}

}  // namespace qharden
