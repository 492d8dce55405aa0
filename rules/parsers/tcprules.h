// The text source of a tcpserver rules cdb, as ucspi-tcp 0.88's tcprules reads
// it (checked against the real tcprules 1:0.88-7):
//
//   - each line is cut at '\n' and its trailing ' '/'\t' are dropped ('\r' is
//     kept, and then the line does not parse); empty lines and lines starting
//     with '#' are skipped; a line without ':' is skipped without a word;
//   - the address is everything before the first ':', as written (no case
//     folding, blanks kept); the rest is "allow" or "deny", then any number of
//     ",NAME=<d>value<d>" where <d> is the character after '=';
//   - an address with no '=' and no '@' and a '-' is a range: the digits
//     after the last '.' before the '-' up to the digits before the next '.'
//     ("1.2.3.37-53", "10.2-3."), one key per number, numbers above 255
//     dropped; a non-digit there makes the line fail;
//   - anything else fails the whole run: tcprules exits 100 and leaves the cdb
//     alone, so the running rules are the old ones.
// There is no CIDR: "10.0.0.0/8" becomes the literal key "10.0.0.0/8", which
// tcpserver never looks up.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qharden {

struct TcpRule {
  int line = 0;
  std::string address;  // as written
  bool deny = false;
  std::vector<std::pair<std::string, std::string>> variables;  // in order
  std::vector<std::string> keys;                               // the cdb keys it compiles to
  std::string data;  // the cdb data: "D\0" for deny, then "+NAME=value\0" each
};

struct TcprulesProblem {
  int line = 0;
  bool fatal = true;    // tcprules rejects the file; false: a line it skips silently
  std::string message;  // "FILE:LINE: ..."
};

struct TcprulesSource {
  std::string file;
  std::vector<TcpRule> rules;  // file order
  std::vector<TcprulesProblem> problems;
  bool compiles() const;  // no fatal problem: tcprules would write the cdb
};

// Bounds what a hostile file can make us hold: ranges give at most 256 keys
// each, and lines beyond this many rules are reported, not kept.
inline constexpr std::size_t kTcprulesMaximumRules = 100000;

TcprulesSource parse_tcprules_text(const std::string& file, std::string_view text);

// The cdb data tcprules writes for one rule.
std::string tcprules_data(bool deny,
                          const std::vector<std::pair<std::string, std::string>>& variables);

// Reads cdb data back: deny, and the variables in order. False when the data
// is not what tcprules writes.
bool read_tcprules_data(std::string_view data, bool& deny,
                        std::vector<std::pair<std::string, std::string>>& variables);

}  // namespace qharden
