// One systemd unit file's text, read the way systemd's config_parse() reads it
// (systemd.syntax(7)):
//
//   - lines end at '\n' ("\r\n" too); each logical line is stripped of
//     whitespace at both ends; one starting with '#' or ';' is a comment;
//   - a line whose last character is an unescaped '\' goes on at the next line:
//     the '\' becomes a space; comment lines in between are skipped, a blank
//     line ends it;
//   - `[Name]` opens a section (a repeated name continues the same section);
//     `Key=value` splits at the first '=', both sides stripped;
//   - what systemd ignores with a warning (no '=', no key, an assignment before
//     any section) is a problem, and parsing goes on; a section header without
//     ']' or a line over 1 MiB makes systemd refuse the whole unit, so that
//     problem is fatal (checked with systemd-analyze verify, systemd 252).
// Which keys hold lists is systemd's business per key; the file keeps every
// assignment in order, and systemd_list()/systemd_last() apply the two rules.
// Needs no Host, so tests and the fuzzer can drive it from a string.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/expected.h"
#include "inventory/inventory.h"

namespace qharden {

inline constexpr std::size_t kSystemdMaximumLineBytes = 1024 * 1024;  // LONG_LINE_MAX

struct SystemdAssignment {
  std::string key;
  std::string value;  // stripped; continuation lines joined, each '\' turned into a space
  // The value's bytes in the file: the first byte to the last. Across a
  // continuation these bytes hold the '\' and line ends, so they differ from
  // `value`; a fix rewrites them as a whole.
  WordLocation location;
  int last_line = 0;  // the value's last line (== location.line without continuation)
  // Where each physical line's share of the logical line starts, so a position
  // in `value` maps back to a file byte (systemd_value_offset).
  struct Piece {
    std::size_t logical = 0;  // position in the joined logical line
    std::size_t offset = 0;   // its byte in the file
    int line = 0;
  };
  std::vector<Piece> pieces;
  std::size_t value_start = 0;  // `value`'s position in the joined logical line
};

struct SystemdSection {
  std::string name;  // without the brackets
  int line = 0;
  std::vector<SystemdAssignment> assignments;  // file order
};

struct SystemdUnitProblem {
  int line = 0;         // a continued line's last line, as systemd names it
  bool fatal = false;   // systemd refuses to load the unit
  std::string message;  // "FILE:LINE: ..."
};

struct SystemdUnitFile {
  std::string file;
  std::vector<SystemdSection> sections;  // one per header, file order
  std::vector<SystemdUnitProblem> problems;
  bool loads() const;  // no fatal problem
};

SystemdUnitFile parse_systemd_unit_text(const std::string& file, std::string_view text);

// A list key (ExecStart=, Environment=, ListenStream=): every assignment in
// every section of that name, in order, restarting after each empty one.
std::vector<const SystemdAssignment*> systemd_list(const SystemdUnitFile& unit,
                                                   std::string_view section, std::string_view key);

// A single-value key (Accept=, MaxConnections=): the last assignment, or
// nullptr when there is none or the last one is empty (back to the default).
const SystemdAssignment* systemd_last(const SystemdUnitFile& unit, std::string_view section,
                                      std::string_view key);

// The file byte of position `index` in assignment.value.
std::size_t systemd_value_offset(const SystemdAssignment& assignment, std::size_t index);

struct SystemdCommandWord {
  std::string text;     // unquoted and unescaped; %i and $VAR kept as written
  std::string written;  // as written (quotes and escapes kept; a continuation '\' is a space)
  WordLocation location;
  int last_line = 0;
};

// An Exec*= value split the way systemd splits command lines (systemd.service(5)
// "Command lines"): leading prefixes, then words with '…' and "…" quoting and
// C-style backslash escapes, quotes allowed inside a word.
struct SystemdCommandLine {
  std::string prefixes;                  // "-", "@", ":", "+", "!", "!!" as written, e.g. "-@"
  SystemdCommandWord program;            // the path systemd executes
  std::vector<SystemdCommandWord> argv;  // argv[0] first; with '@' that is the second word
  bool more_commands = false;            // a lone ';' word: further commands follow (not split)
  bool unknown_escapes = false;          // kept as written, as systemd does after a warning
};

// Fails with "FILE:LINE: ..." where systemd ignores the setting: an
// unterminated quote, no words, an empty program, '@' without argv[0]. Quoted
// or escaped prefixes count (systemd reads them after unquoting) but then stay
// inside the program word's location.
Expected<SystemdCommandLine> split_systemd_command(const std::string& file,
                                                   const SystemdAssignment& assignment);

// A value split into words the same way, without prefixes or ';' (Environment=).
// Fails with "FILE:LINE: ..." on an unterminated quote.
Expected<std::vector<SystemdCommandWord>> split_systemd_words(const std::string& file,
                                                              const SystemdAssignment& assignment);

}  // namespace qharden
