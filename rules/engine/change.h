// What a rule's plan proposes. The engine applies, journals and undoes these,
// so a rule never writes to the host itself.
#pragma once

#include <string>
#include <variant>
#include <vector>

namespace qharden {

// Replace a whole file. `before` is the content the plan was made from: apply
// refuses when the file no longer holds it (someone rewrote it in between).
struct FileReplacement {
  std::string host_path;
  std::string before;
  std::string after;
  bool create = false;  // the file does not exist yet (a drop-in of our own)
};

// Write a runtime sysctl ("net/ipv4/tcp_fin_timeout").
struct SysctlWrite {
  std::string slash_key;
  std::string before;
  std::string after;
};

// Run a command; undo_argv reverses it. What the command made can vanish
// without qharden (a reboot or a firewall reload flushes the ruleset): when
// `listing_argv` runs and no line of its output holds `present_marker` as a
// word, it is gone, so a failed undo had nothing left to do and an apply cut
// short can be told applied from not. Empty: nothing to list it by.
struct CommandRun {
  std::vector<std::string> argv;
  std::vector<std::string> undo_argv;
  std::vector<std::string> listing_argv;
  std::string present_marker;
};

struct PlannedChange {
  std::string rule;
  std::string subject;
  std::string summary;  // one line for the operator
  std::variant<FileReplacement, SysctlWrite, CommandRun> action;
};

}  // namespace qharden
