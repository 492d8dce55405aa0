// openbsd-inetd's inetd.conf, read the way its getconfigent() reads it:
//
//   service socktype proto wait|nowait[.max] user[.group] server argv0 args...
//
// A line starting with '#' is a comment (update-inetd's `#<off># ` lines are
// just comments to inetd); words split on space and tab only; when an entry's
// words run out at the end of a line and the next line starts with a space or
// tab, the entry goes on there. Needs no Host, so tests and the fuzzer can
// drive it from a string.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inventory/inventory.h"

namespace qharden {

inline constexpr std::size_t kInetdMaximumLineBytes = 1022;  // fgets into char[1024]
inline constexpr std::size_t kInetdMaximumArguments = 20;    // MAXARGV

struct InetdEntry {
  int line = 0;         // the entry's first line
  int last_line = 0;    // its last continuation line
  std::string service;  // as written, "127.0.0.1:smtp" included
  WordLocation service_location;
  std::string socket_type;
  std::string protocol;
  std::string wait;
  WordLocation wait_location;  // "nowait.5": a fix rewrites this word
  std::string user;
  std::string server;  // the program path, or "internal"
  WordLocation server_location;
  std::vector<std::string> arguments;  // argv as written, argv[0] first
  std::vector<WordLocation> argument_locations;
};

struct InetdProblem {
  int line = 0;
  std::string message;
};

struct InetdFile {
  std::string file;
  std::vector<InetdEntry> entries;
  std::vector<InetdProblem> problems;
  std::vector<int> switched_off_lines;  // `#<off>#` lines: update-inetd disabled them
};

InetdFile parse_inetd_text(const std::string& file, std::string_view text);

struct InetdCommandLine {
  std::vector<std::string> argv;  // argv[0] is the program that runs
  std::vector<std::optional<WordLocation>> locations;
  bool tcpd_wrapped = false;
};

// The server path then argv[1...]; a tcpd-wrapped line runs its argv[0]
// instead (tcp-env is then argv[0]). Empty for internal services.
InetdCommandLine inetd_command_line(const InetdEntry& entry);

}  // namespace qharden
