// The second half of shell_words.h: following the script's variables from line
// to line and unwrapping the programs that only set something up and then exec
// their arguments (daemontools, runit and coreutils wrappers).
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>

#include "parsers/getopt.h"
#include "parsers/shell_words.h"

namespace qharden {
namespace {

std::string_view base_name(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_variable_name(std::string_view text) {
  if (text.empty() || !(std::isalpha(static_cast<unsigned char>(text[0])) || text[0] == '_')) {
    return false;
  }
  for (char character : text) {
    if (!(std::isalnum(static_cast<unsigned char>(character)) || character == '_')) return false;
  }
  return true;
}

struct ScriptState {
  std::map<std::string, std::string> variables;
  std::set<std::string> exported;
  bool export_all = false;  // set -a
};

// PATH=/opt/bin:$PATH after the script set PATH itself: $PATH is that value,
// not the inherited one. Other expansions stay as written.
std::string with_own_path(const std::string& name, const std::string& value,
                          const ScriptState& state) {
  auto previous = state.variables.find("PATH");
  if (name != "PATH" || previous == state.variables.end()) return value;
  std::string result;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t colon = std::min(value.find(':', start), value.size());
    std::string part = value.substr(start, colon - start);
    if (part == "$PATH" || part == "${PATH}") part = previous->second;
    result += (start == 0 ? "" : ":") + part;
    start = colon + 1;
  }
  return result;
}

// Built-ins that only change the script's own state: `export`, `unset`,
// `set -a`, and lines that are nothing but assignments. True when handled.
bool apply_state_command(const ShellCommand& command, ScriptState& state) {
  if (command.words.empty()) {
    for (const ShellAssignment& assignment : command.assignments) {
      state.variables[assignment.name] = with_own_path(assignment.name, assignment.value, state);
      // PATH comes from the environment the script starts with, and sh keeps
      // an inherited variable exported when it is assigned.
      if (state.export_all || assignment.name == "PATH") state.exported.insert(assignment.name);
    }
    return true;
  }
  const ShellWord& first = command.words.front();
  if (first.quoted) return false;
  if (first.text == "export" || first.text == "readonly") {
    bool exporting = first.text == "export";
    for (std::size_t index = 1; index < command.words.size(); ++index) {
      const std::string& word = command.words[index].text;
      std::size_t equals = word.find('=');
      std::string name = word.substr(0, equals);
      if (!is_variable_name(name)) continue;
      if (equals != std::string::npos) {
        state.variables[name] = with_own_path(name, word.substr(equals + 1), state);
      }
      if (exporting) state.exported.insert(name);
    }
    return true;
  }
  if (first.text == "unset") {
    for (std::size_t index = 1; index < command.words.size(); ++index) {
      state.variables.erase(command.words[index].text);
      state.exported.erase(command.words[index].text);
    }
    return true;
  }
  if (first.text == "set") {
    for (std::size_t index = 1; index < command.words.size(); ++index) {
      const std::string& word = command.words[index].text;
      if (word == "--" || word.size() < 2 || (word[0] != '-' && word[0] != '+')) break;
      if (word.find('a') != std::string::npos) state.export_all = word[0] == '-';
    }
    return true;
  }
  return false;
}

class Unwrapper {
 public:
  Unwrapper(std::vector<ShellWord> words, ProgramCommand& command,
            std::vector<ShellProblem>& problems)
      : words_(std::move(words)), command_(command), problems_(problems) {}

  // Leaves command_.argv at the program that finally runs, or empty.
  void run() {
    if (index_ < words_.size() && !words_[index_].quoted && words_[index_].text == "exec") {
      ++index_;
      // bash's `exec -a NAME`, `-c`, `-l` change only argv[0] or the environment.
      while (index_ < words_.size() && words_[index_].text.size() > 1 &&
             words_[index_].text[0] == '-') {
        index_ += words_[index_].text == "-a" ? 2 : 1;
      }
    }
    while (index_ < words_.size() && unwrap_one()) {
    }
    if (index_ < words_.size()) {
      command_.argv.assign(words_.begin() + static_cast<std::ptrdiff_t>(index_), words_.end());
    } else if (!command_.wrappers.empty() && !abandoned_) {
      problem(command_.wrappers.back() + " has no program to run");
    }
  }

 private:
  bool unwrap_one() {
    std::string name(base_name(words_[index_].text));
    if (name == "envdir" || name == "s6-envdir") {
      read_directory(index_ + 1, name);
      index_ += 2;
    } else if (name == "envuidgid" || name == "setuidgid" || name == "s6-setuidgid") {
      index_ += 2;
    } else if (name == "softlimit") {
      skip_options("a:c:d:f:l:m:o:p:r:s:t:", name);
    } else if (name == "setlock") {
      skip_options("nNxX", name);
      ++index_;  // the lock file
    } else if (name == "fghack" || name == "pgrphack" || name == "nohup") {
      ++index_;
    } else if (name == "chpst") {
      unwrap_chpst();
    } else if (name == "argv0") {
      // argv0 REALNAME ZERO ARGS...: REALNAME runs; ZERO is only its argv[0].
      if (index_ + 2 < words_.size()) {
        words_.erase(words_.begin() + static_cast<std::ptrdiff_t>(index_ + 2));
      }
      ++index_;
    } else if (name == "env") {
      unwrap_env();
    } else if (name == "nice") {
      unwrap_nice();
    } else if (name == "command" && !words_[index_].quoted) {
      ++index_;
      if (index_ < words_.size() && words_[index_].text == "-p") ++index_;
    } else {
      return false;
    }
    command_.wrappers.push_back(name);
    if (index_ > words_.size()) index_ = words_.size();
    return true;
  }

  // Wrapper options are short; the bound keeps a chain of thousands of wrappers
  // from costing quadratic time.
  std::vector<std::string> texts_after(std::size_t start) const {
    constexpr std::size_t kMaximumOptionWords = 64;
    std::vector<std::string> texts;
    for (std::size_t index = start; index < words_.size() && texts.size() < kMaximumOptionWords;
         ++index) {
      texts.push_back(words_[index].text);
    }
    return texts;
  }

  GetoptResult skip_options(std::string_view optstring, const std::string& name) {
    GetoptResult parsed = parse_options(texts_after(index_ + 1), optstring);
    if (parsed.error) problem(name + ": " + *parsed.error);
    index_ += 1 + parsed.first_operand;
    return parsed;
  }

  void unwrap_chpst() {
    GetoptResult parsed = skip_options("u:U:b:e:/:C:n:l:L:m:d:o:p:f:c:r:t:vP012", "chpst");
    std::size_t base = index_ - parsed.first_operand;
    for (const ParsedOption& option : parsed.options) {
      if (option.letter != 'e' || !option.argument) continue;
      // The argument is in the option's word ("-eenv") or in the next one.
      std::size_t word_index = base + option.word_index;
      bool has_expansion = words_[word_index].has_expansion;
      if (word_index + 1 < words_.size() && words_[word_index + 1].text == *option.argument) {
        has_expansion = has_expansion || words_[word_index + 1].has_expansion;
      }
      add_directory(*option.argument, has_expansion, "chpst -e");
    }
  }

  // GNU env: -i/- clears, -u NAME unsets, NAME=value sets, then the program.
  void unwrap_env() {
    ++index_;
    bool options_done = false;
    while (index_ < words_.size()) {
      const std::string& word = words_[index_].text;
      if (!options_done && (word == "-i" || word == "-" || word == "--ignore-environment")) {
        command_.environment.push_back({EnvironmentChange::Kind::clear, "", ""});
        options_done = options_done || word == "-";
      } else if (!options_done && (word == "-u" || word == "--unset") &&
                 index_ + 1 < words_.size()) {
        ++index_;
        command_.environment.push_back({EnvironmentChange::Kind::unset, words_[index_].text, ""});
      } else if (!options_done && word.rfind("--unset=", 0) == 0) {
        command_.environment.push_back({EnvironmentChange::Kind::unset, word.substr(8), ""});
      } else if (!options_done && word.size() > 2 && word.rfind("-u", 0) == 0) {
        command_.environment.push_back({EnvironmentChange::Kind::unset, word.substr(2), ""});
      } else if (!options_done && word == "--") {
        options_done = true;
      } else if (!options_done && (word == "-S" || word.rfind("--split-string", 0) == 0)) {
        problem("env -S is not followed: the program it runs is unknown");
        abandoned_ = true;
        index_ = words_.size();
        return;
      } else if (!options_done && word.size() > 1 && word[0] == '-') {
        if (word == "-C" || word == "--chdir") ++index_;
      } else if (std::size_t equals = word.find('='); equals != std::string::npos && equals > 0) {
        options_done = true;
        command_.environment.push_back(
            {EnvironmentChange::Kind::set, word.substr(0, equals), word.substr(equals + 1)});
      } else {
        return;
      }
      ++index_;
    }
  }

  void unwrap_nice() {
    ++index_;
    if (index_ >= words_.size()) return;
    const std::string& word = words_[index_].text;
    if (word == "-n") {
      index_ += 2;
    } else if (word.size() > 1 && word[0] == '-') {
      ++index_;
    }
  }

  void read_directory(std::size_t word_index, const std::string& wrapper) {
    if (word_index >= words_.size()) return;
    add_directory(words_[word_index].text, words_[word_index].has_expansion, wrapper);
  }

  void add_directory(const std::string& directory, bool has_expansion, const std::string& wrapper) {
    if (has_expansion) {
      problem(wrapper + " " + directory +
              ": the directory comes from the shell at run time, so its variables are unknown");
      return;
    }
    command_.environment.push_back({EnvironmentChange::Kind::read_directory, "", directory});
  }

  void problem(std::string message) {
    problems_.push_back(ShellProblem{command_.line, std::move(message)});
  }

  std::vector<ShellWord> words_;
  std::size_t index_ = 0;
  bool abandoned_ = false;  // a wrapper qharden cannot follow; already reported
  ProgramCommand& command_;
  std::vector<ShellProblem>& problems_;
};

}  // namespace

ResolvedScript resolve_programs(const ShellScript& script) {
  ResolvedScript resolved;
  ScriptState state;
  for (const ShellCommand& command : script.commands) {
    if (apply_state_command(command, state)) continue;
    ProgramCommand program;
    program.line = command.line;
    for (const std::string& name : state.exported) {
      auto variable = state.variables.find(name);
      if (variable == state.variables.end()) continue;
      program.environment.push_back({EnvironmentChange::Kind::set, name, variable->second});
    }
    for (const ShellAssignment& assignment : command.assignments) {
      program.environment.push_back({EnvironmentChange::Kind::set, assignment.name,
                                     with_own_path(assignment.name, assignment.value, state)});
    }
    Unwrapper(command.words, program, resolved.problems).run();
    if (!program.argv.empty()) resolved.commands.push_back(std::move(program));
  }
  return resolved;
}

}  // namespace qharden
