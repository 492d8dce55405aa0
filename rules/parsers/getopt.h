// Option parsing as djb's sgetopt does it (tcp-env, tcpserver and rblsmtpd all
// use it): bundled letters ("-vRHl0"), an option argument either attached
// ("-t0") or in the next word ("-t 0"), "--" ends the options, and the first
// word that is not an option ends them too (no permutation, unlike glibc).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qharden {

struct ParsedOption {
  char letter = 0;
  std::optional<std::string> argument;
  std::size_t word_index = 0;  // the word the letter appeared in
};

struct GetoptResult {
  std::vector<ParsedOption> options;
  std::size_t first_operand = 0;     // index of the first word after the options
  std::optional<std::string> error;  // an unknown letter or a missing argument
};

// words excludes argv[0].
GetoptResult parse_options(const std::vector<std::string>& words, std::string_view optstring);

// Splits on blanks, for option strings written in config.
std::vector<std::string> split_words(std::string_view text);

// tcp-env's getopt "rRt:": true when the words leave ident off (a later -r undoes
// -R) and nothing but valid options is present.
bool tcp_env_options_disable_ident(std::string_view options);

}  // namespace qharden
