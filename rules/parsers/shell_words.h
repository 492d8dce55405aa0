// Reads a daemontools/runit run script the way /bin/sh would split it, far
// enough to know which program it ends up running with which arguments and
// environment. Nothing is expanded: "$LOCAL" and `id -u` stay literal words, so
// a rule can say "this comes from a variable" instead of guessing its value.
// Every word keeps its place in the file so a fix can insert bytes next to it
// without rewriting anything else.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "inventory/inventory.h"

namespace qharden {

struct ShellWord {
  std::string text;            // after quote removal and line-continuation joining
  WordLocation location;       // the word as written, quotes included
  bool quoted = false;         // a quote or backslash appeared: never a reserved word
  bool has_expansion = false;  // $..., `...`: the run-time value is unknown
};

struct ShellAssignment {
  std::string name;
  std::string value;
  WordLocation location;
  bool has_expansion = false;
};

// One simple command: a pipeline or list is split into its parts.
struct ShellCommand {
  std::vector<ShellAssignment> assignments;  // leading NAME=value words
  std::vector<ShellWord> words;              // reserved words and redirections removed
  int line = 0;                              // line of the first word or assignment
};

struct ShellProblem {
  int line = 0;
  std::string message;
};

struct ShellScript {
  std::string file;
  std::vector<ShellCommand> commands;
  std::vector<ShellProblem> problems;
};

ShellScript parse_shell_script(std::string_view file_name, std::string_view text);

// The environment a command starts with, as steps in the order a shell and the
// wrappers apply them. Directories are read by the caller, through the Host.
struct EnvironmentChange {
  enum class Kind { set, unset, clear, read_directory };
  Kind kind = Kind::set;
  std::string name;   // set and unset
  std::string value;  // set: the value; read_directory: the directory as written
};

// A command with its exec-style wrappers (envdir, softlimit, chpst, ...)
// unwrapped: argv starts at the program that finally runs.
struct ProgramCommand {
  std::vector<ShellWord> argv;
  std::vector<std::string> wrappers;  // as unwrapped, outermost first ("softlimit")
  std::vector<EnvironmentChange> environment;
  int line = 0;
};

struct ResolvedScript {
  std::vector<ProgramCommand> commands;
  std::vector<ShellProblem> problems;  // wrappers used wrongly, envdirs from variables
};

// Follows `export`, `unset` and `set -a` from line to line, and unwraps each
// command that runs a program. Commands left without a program (`exec 2>&1`,
// plain assignments, shell built-ins that only change state) are not returned.
ResolvedScript resolve_programs(const ShellScript& script);

}  // namespace qharden
