// qmail's control files as notqmail 1.09 reads them (control.c):
//
//   control_readfile  every line, trailing '\n', ' ' and '\t' cut, empty lines
//                     and lines starting with '#' skipped, leading blanks kept
//   control_readline  the first line only, trailing blanks cut
//
// A missing file (ENOENT) and an unreadable one are different answers: qmail
// falls back to a default for the first, and qmail-smtpd stops with "421 unable
// to read controls" for the second. Domain lists are compared in lower case,
// as constmap does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qharden {

class Host;

enum class ControlState { missing, unreadable, present };

struct ControlFile {
  std::string path;  // host path
  ControlState state = ControlState::missing;
  std::vector<std::string> lines;  // control_readfile's entries, as written
  std::string error;               // why it is unreadable
};

// control_readfile's entries of a file's text. A NUL inside a line ends an
// entry as well, because qmail keeps the entries NUL-separated.
std::vector<std::string> control_file_lines(std::string_view text);

// control_readline: the first line with its trailing blanks cut.
std::string control_first_line(std::string_view text);

// Reads host_path through the host, keeping missing and unreadable apart.
ControlFile read_control_file(const Host& host, const std::string& host_path);

std::string lower_case_ascii(std::string_view text);

// The domains of virtualdomains: "domain:prepend" and ".domain:prepend" give
// the domain (with its leading dot); "user@domain:prepend" entries name a
// single address and give none. Lower case.
std::vector<std::string> virtualdomains_domains(const std::vector<std::string>& lines);

}  // namespace qharden
