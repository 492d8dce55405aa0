#include "tcpserver_flags/tcpserver_options.h"

#include "parsers/getopt.h"

namespace qharden {
namespace {

bool looks_like_variable(const std::string& word) {
  return word.find('$') != std::string::npos || word.find('`') != std::string::npos;
}

// tcpserver reads -t with scan_ulong: the leading digits, 0 when there are none.
int leading_seconds(const std::string& text) {
  long long value = 0;
  for (char character : text) {
    if (character < '0' || character > '9') break;
    value = value * 10 + (character - '0');
    if (value > 1000000) break;
  }
  return static_cast<int>(value);
}

}  // namespace

TcpserverOptions read_tcpserver_options(const std::vector<std::string>& words_after_program,
                                        TcpserverBuild build) {
  TcpserverOptions result;
  GetoptResult parsed =
      parse_options(words_after_program,
                    build == TcpserverBuild::ipv6 ? kTcpserverIpv6Optstring : kTcpserverOptstring);
  result.error = parsed.error;
  result.only_ipv6_build_takes_them =
      parsed.error && build != TcpserverBuild::ipv6 &&
      !parse_options(words_after_program, kTcpserverIpv6Optstring).error;
  for (std::size_t index = 0; index < parsed.first_operand; ++index) {
    result.words.push_back(words_after_program[index]);
    if (looks_like_variable(words_after_program[index])) result.options_from_variables = true;
  }
  if (parsed.first_operand < words_after_program.size() &&
      looks_like_variable(words_after_program[parsed.first_operand])) {
    result.options_from_variables = true;
  }
  for (const ParsedOption& option : parsed.options) {
    std::size_t last_word = option.word_index;
    const std::string& word = words_after_program[option.word_index];
    if (option.argument && word.back() == option.letter &&
        option.word_index + 1 < parsed.first_operand &&
        words_after_program[option.word_index + 1] == *option.argument) {
      last_word = option.word_index + 1;  // "-t 0": the argument is the next word
    }
    if (!result.last_option_word || *result.last_option_word < last_word) {
      result.last_option_word = last_word;
    }
    if (option.letter == 'R') {
      result.ident_disabled = true;
      result.r_undoes_capital_r = false;
    }
    if (option.letter == 'r') {
      result.r_undoes_capital_r = result.r_undoes_capital_r || result.ident_disabled;
      result.ident_disabled = false;
      result.has_ident_enabling_option = true;
    }
    if (option.letter == 't' && option.argument) {
      result.ident_timeout_seconds = leading_seconds(*option.argument);
    }
  }
  return result;
}

}  // namespace qharden
