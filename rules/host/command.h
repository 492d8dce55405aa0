#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engine/expected.h"

namespace qharden {

struct CommandResult {
  int exit_code = -1;
  std::string standard_output;
  std::string standard_error;
};

// Runs argv with posix_spawn (never a shell), with stdin from /dev/null, under
// a timeout after which the child is killed. A missing program, a non-zero exit
// or a timeout is an error that carries the command and its stderr.
Expected<CommandResult> run_command(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// "iptables -I OUTPUT ..." for messages and plans; words with blanks quoted.
std::string describe_argv(const std::vector<std::string>& argv);

// Searches PATH-like folders for a program; empty when absent.
std::string find_program(const std::string& name);

}  // namespace qharden
