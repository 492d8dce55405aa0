#include "rblsmtpd_sources/plan.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "host/host.h"
#include "inventory/systemd_units.h"
#include "rblsmtpd_sources/zones.h"

namespace qharden {
namespace {

struct OptionWords {
  char option = 0;
  std::string zone;  // lower case, no trailing dot, as the findings name it
  std::size_t first_word = 0;
  std::size_t last_word = 0;
  bool clustered = false;  // shares its word with other flags ("-cr zone")
};

std::string normalize_zone(std::string zone) {
  std::transform(zone.begin(), zone.end(), zone.begin(),
                 [](unsigned char byte) { return static_cast<char>(std::tolower(byte)); });
  if (!zone.empty() && zone.back() == '.') zone.pop_back();
  return zone;
}

// rblsmtpd's getopt "bBcCt:r:a:" over argv after the rblsmtpd word; returns the
// index of the first word after the options.
std::size_t walk_options(const std::vector<std::string>& argv, std::size_t program,
                         std::vector<OptionWords>& options) {
  std::size_t index = program + 1;
  while (index < argv.size()) {
    const std::string& word = argv[index];
    if (word == "--") return index + 1;
    if (word.size() < 2 || word[0] != '-') break;
    std::size_t start = index;
    for (std::size_t position = 1; position < word.size(); ++position) {
      char option = word[position];
      if (option != 'r' && option != 'a' && option != 't') continue;
      std::string value = word.substr(position + 1);
      if (value.empty() && index + 1 < argv.size()) value = argv[++index];
      if (option != 't') {
        options.push_back({option, normalize_zone(value), start, index, position != 1});
      }
      break;
    }
    ++index;
  }
  return index;
}

struct Removal {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// The word and the blanks before it, so the line keeps single spacing.
Removal removal_of(const std::string& text, const WordLocation& location) {
  std::size_t begin = location.offset;
  while (begin > 0 && (text[begin - 1] == ' ' || text[begin - 1] == '\t')) --begin;
  return {begin, location.offset + location.length};
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

bool is_bare_continuation(const std::string& line) {
  std::size_t content = line.find_first_not_of(" \t");
  return content != std::string::npos && line.compare(content, std::string::npos, "\\\n") == 0;
}

// A run-script line that held only rblsmtpd and its options would be left as
// a lone "\"; it goes. Word removal keeps every newline, so lines pair up.
std::string drop_emptied_continuations(const std::string& before, const std::string& after) {
  std::vector<std::string> old_lines = split_lines(before);
  std::vector<std::string> new_lines = split_lines(after);
  if (old_lines.size() != new_lines.size()) return after;
  std::string result;
  for (std::size_t index = 0; index < new_lines.size(); ++index) {
    if (is_bare_continuation(new_lines[index]) && !is_bare_continuation(old_lines[index])) continue;
    result += new_lines[index];
  }
  return result;
}

}  // namespace

Expected<std::vector<PlannedChange>> plan_dead_zone_removal(AuditContext& context,
                                                            const std::vector<Finding>& failing) {
  std::set<std::string> dead;
  for (const Finding& finding : failing) {
    if (finding.fixable) dead.insert(finding.subject);
  }
  struct FileEdit {
    std::vector<Removal> removals;
    std::vector<std::string> subjects;
    std::vector<std::string> notes;
  };
  std::map<std::string, FileEdit> edits;
  std::optional<std::string> systemd_refusal;
  for (const ServiceCommand& command : context.inventory().commands) {
    if (!command.enabled) continue;
    std::optional<std::size_t> program = find_program_word(command.argv, "rblsmtpd");
    if (!program) continue;
    std::vector<OptionWords> options;
    std::size_t options_end = walk_options(command.argv, *program, options);
    int remaining_lists = 0;
    std::vector<const OptionWords*> dropped;
    for (const OptionWords& option : options) {
      if (dead.count(option.zone) != 0) {
        dropped.push_back(&option);
      } else if (option.option == 'r') {
        ++remaining_lists;
      }
    }
    bool no_lists = std::none_of(options.begin(), options.end(),
                                 [](const OptionWords& option) { return option.option == 'r'; });
    // Options from a variable ("rblsmtpd $BLACKLIST qmail-smtpd") may hold the
    // only -r zones: dropping rblsmtpd and what is written of its options
    // would leave "$BLACKLIST qmail-smtpd", and tcpserver would run "-r".
    bool options_from_variable = holds_options_at_run_time(command, options_end);
    if (options_from_variable) {
      no_lists = false;
      remaining_lists = std::max(remaining_lists, 1);
    }
    bool implicit_dead = no_lists && dead.count("rbl.maps.vix.com") != 0;
    if (dropped.empty() && !implicit_dead) continue;
    // Never an edit of a unit file: the finding says so. A zone that an xinetd
    // or inetd service uses too is still dropped there; a plan with nothing
    // else to change refuses by name.
    if (command.source == LaunchSource::systemd) {
      if (!systemd_refusal) {
        systemd_refusal = systemd_fix_refusal(command.subject, systemd_unit_name(command),
                                              "`ExecStart=` and the line without the dead zones");
      }
      continue;
    }
    std::vector<std::size_t> words;
    std::string note;
    if (remaining_lists == 0) {
      for (std::size_t index = *program; index < options_end; ++index) words.push_back(index);
      note =
          "rblsmtpd and its options removed from " + command.subject + ": no -r zone would remain";
    } else {
      for (const OptionWords* option : dropped) {
        if (option->clustered) {
          return fail_with(command.subject + ": -" + std::string(1, option->option) + " " +
                           option->zone + " shares the word \"" + command.argv[option->first_word] +
                           "\" with other options; edit that command line by hand");
        }
        for (std::size_t index = option->first_word; index <= option->last_word; ++index)
          words.push_back(index);
      }
      note = "dropped from " + command.subject + ":";
      for (const OptionWords* option : dropped)
        note += " -" + std::string(1, option->option) + " " + option->zone;
    }
    for (std::size_t index : words) {
      if (index >= command.locations.size() || !command.locations[index]) {
        return fail_with(command.subject + ": the word \"" + command.argv[index] +
                         "\" is not written in " + command.file + " as such; edit it by hand");
      }
    }
    FileEdit& edit = edits[command.file];
    edit.subjects.push_back(command.subject);
    if (command.source == LaunchSource::run_script) {
      note += "; restart the service to take effect (svc -t or sv restart on its directory)";
    }
    edit.notes.push_back(note);
    for (std::size_t index : words) {
      const WordLocation& location = *command.locations[index];
      edit.removals.push_back({location.offset, location.offset + location.length});
    }
  }
  if (edits.empty() && systemd_refusal) return fail_with(*systemd_refusal);
  std::vector<PlannedChange> changes;
  for (auto& [file, edit] : edits) {
    Expected<std::string> before = context.host.read_file(file);
    if (!before) return fail_with(before.error().message);
    // One forward pass: an erase per removal moved the file's tail each time,
    // quadratic for many services in one file (issue 15). Widening looks only
    // at blanks before a word, which no other removal touches.
    std::sort(edit.removals.begin(), edit.removals.end(),
              [](const Removal& left, const Removal& right) { return left.begin < right.begin; });
    std::string after;
    after.reserve(before->size());
    std::size_t position = 0;
    for (const Removal& removal : edit.removals) {
      Removal widened = removal_of(
          *before,
          WordLocation{removal.begin, static_cast<std::uint32_t>(removal.end - removal.begin), 0});
      widened.begin = std::max(widened.begin, position);
      if (widened.end <= widened.begin) continue;
      after.append(*before, position, widened.begin - position);
      position = widened.end;
    }
    after.append(*before, position, std::string::npos);
    after = drop_emptied_continuations(*before, after);
    std::string summary;
    for (const std::string& note : edit.notes) summary += (summary.empty() ? "" : "; ") + note;
    std::string subject;
    for (const std::string& each : edit.subjects) subject += (subject.empty() ? "" : ", ") + each;
    changes.push_back(
        {"rblsmtpd.sources", subject, summary, FileReplacement{file, *before, after, false}});
  }
  return changes;
}

}  // namespace qharden
