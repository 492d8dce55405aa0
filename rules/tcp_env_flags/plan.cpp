// The fix: rewrite only tcp-env's option words (or insert them), and add
// `-= USERID` lines to xinetd services that do ident themselves. Each file is
// read again and parsed again, so the byte positions are those of the text the
// FileReplacement names as `before`; all fixes in one file become one change.
// A file is parsed once however many of its services fail, and services are
// found by line through an index, so planning stays linear in the changes per
// file (one file can hold tens of thousands of services).
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "config/config.h"
#include "engine/context.h"
#include "inventory/failing_commands.h"
#include "inventory/systemd_drop_in.h"
#include "inventory/systemd_units.h"
#include "parsers/inetd.h"
#include "parsers/systemd_unit.h"
#include "parsers/text_lines.h"
#include "parsers/xinetd.h"
#include "tcp_env_flags/tcp_env_flags.h"

namespace qharden {
namespace {

// Where to put options when tcp-env has none and nothing follows it.
struct FallbackInsertion {
  std::size_t offset = 0;
  std::string text;
};

struct LocatedCommand {
  std::vector<std::string> argv;
  std::vector<std::optional<WordLocation>> locations;
  std::optional<FallbackInsertion> fallback;
  // xinetd: where lines go inside the service block, and their indentation.
  std::size_t block_end = 0;
  std::string indentation;
};

bool only_blanks(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char each) { return std::isspace(static_cast<unsigned char>(each)); });
}

std::string changed_file_message(const std::string& file) {
  return file + " changed since it was audited; run the audit again";
}

// One file's text parsed once, with its services indexed by their first line.
class ParsedFile {
 public:
  ParsedFile(const std::string& file, std::string_view text) : file_(file), text_(text) {}

  Expected<LocatedCommand> locate(const ServiceCommand& command, const std::string& options_text) {
    switch (command.source) {
      case LaunchSource::xinetd:
        return locate_xinetd(command, options_text);
      case LaunchSource::inetd:
        return locate_inetd(command, options_text);
      case LaunchSource::systemd:
        return fail_with(command.subject + ": a systemd service is fixed with a drop-in");
      case LaunchSource::run_script:
        break;
    }
    return fail_with(command.subject + ": run scripts are tcpserver.flags' to fix");
  }

 private:
  Expected<LocatedCommand> locate_xinetd(const ServiceCommand& command,
                                         const std::string& options_text) {
    if (!xinetd_services_) {
      XinetdFile parsed = parse_xinetd_text(file_, text_);
      std::vector<XinetdSection> sections;
      for (XinetdItem& item : parsed.items) {
        if (auto* section = std::get_if<XinetdSection>(&item))
          sections.push_back(std::move(*section));
      }
      xinetd_services_ = resolve_xinetd_services(sections);
      // The first service on a line wins, as a scan in file order would find it.
      for (std::size_t index = xinetd_services_->size(); index-- > 0;)
        xinetd_by_line_[(*xinetd_services_)[index].line] = index;
    }
    auto found = xinetd_by_line_.find(command.line);
    if (found == xinetd_by_line_.end()) return fail_with(changed_file_message(command.file));
    const XinetdService& service = (*xinetd_services_)[found->second];
    XinetdCommandLine command_line = xinetd_command_line(service);
    LocatedCommand located{std::move(command_line.argv), std::move(command_line.locations),
                           std::nullopt, service.closing_offset, service.attribute_indentation};
    if (located.indentation.empty()) located.indentation = "\t";
    if (service.server_args_end) {
      located.fallback = FallbackInsertion{*service.server_args_end, " " + options_text};
    } else {
      located.fallback = FallbackInsertion{
          service.closing_offset, located.indentation + "server_args = " + options_text + "\n"};
    }
    return located;
  }

  Expected<LocatedCommand> locate_inetd(const ServiceCommand& command,
                                        const std::string& options_text) {
    if (!inetd_entries_) {
      inetd_entries_ = parse_inetd_text(file_, text_).entries;
      for (std::size_t index = inetd_entries_->size(); index-- > 0;)
        inetd_by_line_[(*inetd_entries_)[index].line] = index;
    }
    auto found = inetd_by_line_.find(command.line);
    if (found == inetd_by_line_.end()) return fail_with(changed_file_message(command.file));
    const InetdEntry& entry = (*inetd_entries_)[found->second];
    InetdCommandLine command_line = inetd_command_line(entry);
    LocatedCommand located{std::move(command_line.argv), std::move(command_line.locations),
                           std::nullopt, 0, ""};
    if (!entry.argument_locations.empty()) {
      const WordLocation& last = entry.argument_locations.back();
      located.fallback = FallbackInsertion{last.offset + last.length, " " + options_text};
    }
    return located;
  }

  const std::string& file_;
  std::string_view text_;
  std::optional<std::vector<XinetdService>> xinetd_services_;
  std::unordered_map<int, std::size_t> xinetd_by_line_;
  std::optional<std::vector<InetdEntry>> inetd_entries_;
  std::unordered_map<int, std::size_t> inetd_by_line_;
};

// Replaces the option words after tcp-env with options_text: the first option
// word becomes options_text, the others go together with the blanks before
// them. With no option words, options_text goes in front of tcp-env's first
// operand.
Outcome tcp_env_edits(const LocatedCommand& located, std::string_view text, const std::string& file,
                      const std::string& options_text, std::vector<TextEdit>& edits) {
  std::optional<std::size_t> tcp_env = find_program_word(located.argv, "tcp-env");
  if (!tcp_env) return fail_with(changed_file_message(file));
  std::vector<std::string> after(located.argv.begin() + static_cast<long>(*tcp_env) + 1,
                                 located.argv.end());
  TcpEnvOptions options = read_tcp_env_options(after);
  if (options.passes()) return Done{};
  std::size_t first = *tcp_env + 1;
  std::size_t count = options.option_words.size();
  for (std::size_t index = first; index < first + count; ++index) {
    if (!located.locations[index]) return fail_with(file + ": tcp-env's options are not in it");
  }
  if (count == 0) {
    if (first < located.argv.size() && located.locations[first]) {
      edits.push_back(TextEdit{located.locations[first]->offset, 0, options_text + " "});
      return Done{};
    }
    if (*tcp_env > 0 && located.locations[*tcp_env]) {
      const WordLocation& word = *located.locations[*tcp_env];
      edits.push_back(TextEdit{word.offset + word.length, 0, " " + options_text});
      return Done{};
    }
    if (!located.fallback) return fail_with(file + ": no place for tcp-env's options");
    edits.push_back(TextEdit{located.fallback->offset, 0, located.fallback->text});
    return Done{};
  }
  const WordLocation& first_word = *located.locations[first];
  edits.push_back(TextEdit{first_word.offset, first_word.length, options_text});
  for (std::size_t index = first + 1; index < first + count; ++index) {
    const WordLocation& previous = *located.locations[index - 1];
    const WordLocation& word = *located.locations[index];
    std::size_t start = previous.offset + previous.length;
    if (word.offset < start || !only_blanks(text.substr(start, word.offset - start))) {
      return fail_with(changed_file_message(file));
    }
    edits.push_back(TextEdit{start, word.offset + word.length - start, ""});
  }
  return Done{};
}

}  // namespace

// A socket-activated service: its unit is never edited. qharden's drop-in for
// the service empties ExecStart= and gives the effective line again, as
// written (prefixes, quoting, continuations and the other words kept) with
// only tcp-env's option words changed.
Expected<std::optional<PlannedChange>> plan_tcp_env_drop_in(AuditContext& context,
                                                            const RuleInfo& info,
                                                            const ServiceCommand& command,
                                                            const std::string& options_text) {
  Expected<std::string> text = context.host.read_file(command.file);
  if (!text) return Unexpected(text.error());
  SystemdUnitFile unit = parse_systemd_unit_text(command.file, *text);
  const SystemdAssignment* exec_start = nullptr;
  for (const SystemdSection& section : unit.sections) {
    if (section.name != "Service") continue;
    for (const SystemdAssignment& assignment : section.assignments) {
      if (assignment.key == "ExecStart" && assignment.location.line == command.line)
        exec_start = &assignment;
    }
  }
  if (exec_start == nullptr || exec_start->value.empty()) {
    return fail_with(changed_file_message(command.file));
  }
  if (command.details->exec_start_count > 1) {
    return fail_with(command.file + ":" + std::to_string(command.line) + ": " +
                     systemd_unit_name(command) + " is Type=oneshot with " +
                     std::to_string(command.details->exec_start_count) +
                     " ExecStart= lines, run in order; a drop-in must empty the list and give "
                     "every line again, and qharden's gives only this one. Write that drop-in "
                     "by hand");
  }
  std::optional<std::size_t> tcp_env = find_program_word(command.argv, "tcp-env");
  std::vector<std::string> after_tcp_env(
      command.argv.begin() + static_cast<long>(tcp_env.value_or(command.argv.size() - 1)) + 1,
      command.argv.end());
  std::size_t option_count = read_tcp_env_options(after_tcp_env).option_words.size();
  for (std::size_t index = 0; tcp_env && index <= option_count; ++index) {
    if (!command.locations[*tcp_env + index]) {
      return fail_with(command.file + ":" + std::to_string(command.line) +
                       ": tcp-env's options in ExecStart= come from a variable; put `ExecStart=` "
                       "and the corrected line in a drop-in for " +
                       systemd_unit_name(command) + " by hand");
    }
  }
  LocatedCommand located{command.argv, command.locations, std::nullopt, 0, ""};
  std::vector<TextEdit> edits;
  Outcome outcome = tcp_env_edits(located, *text, command.file, options_text, edits);
  if (!outcome) return Unexpected(outcome.error());
  if (edits.empty()) return std::optional<PlannedChange>();
  std::size_t start = exec_start->location.offset;
  std::size_t end = start + exec_start->location.length;
  for (TextEdit& edit : edits) {
    if (edit.offset < start || edit.offset + edit.length > end) {
      return fail_with(changed_file_message(command.file));
    }
    edit.offset -= start;
  }
  Expected<std::string> line =
      apply_text_edits(std::string_view(*text).substr(start, end - start), edits);
  if (!line) return fail_with(command.file + ": " + line.error().message);
  std::string unit_name = systemd_unit_name(command);
  return plan_qharden_drop_in(context.host, context.config, info.id, unit_name, "Service",
                              {{"ExecStart", ""}, {"ExecStart", *line}}, false,
                              unit_name + ": set tcp-env's options to " + options_text +
                                  " in ExecStart= (" + command.file + ":" +
                                  std::to_string(command.line) +
                                  ") through a drop-in; the unit file is left as it is");
}

Expected<std::string> apply_text_edits(std::string_view text, std::vector<TextEdit> edits) {
  std::stable_sort(edits.begin(), edits.end(), [](const TextEdit& left, const TextEdit& right) {
    return left.offset < right.offset;
  });
  std::string result;
  result.reserve(text.size() + 256);
  std::size_t position = 0;
  for (const TextEdit& edit : edits) {
    if (edit.offset < position || edit.offset + edit.length > text.size()) {
      return fail_with("overlapping or out-of-range edits");
    }
    result.append(text.substr(position, edit.offset - position));
    result.append(edit.replacement);
    position = edit.offset + edit.length;
  }
  result.append(text.substr(position));
  return result;
}

namespace {

std::vector<std::string> without_tcp_env_options(const std::vector<std::string>& argv) {
  std::optional<std::size_t> tcp_env = find_program_word(argv, "tcp-env");
  if (!tcp_env) return argv;
  std::vector<std::string> after(argv.begin() + static_cast<long>(*tcp_env) + 1, argv.end());
  std::size_t options = read_tcp_env_options(after).option_words.size();
  std::vector<std::string> kept(argv.begin(), argv.begin() + static_cast<long>(*tcp_env) + 1);
  kept.insert(kept.end(), after.begin() + static_cast<long>(options), after.end());
  return kept;
}

}  // namespace

bool tcp_env_drop_in_is_stale(const ServiceCommand& command) {
  const ServiceCommand* unit = command.details->under_qharden_drop_in.get();
  return unit != nullptr && (unit->argv.empty() || without_tcp_env_options(command.argv) !=
                                                       without_tcp_env_options(unit->argv));
}

const ServiceCommand& tcp_env_drop_in_source(const ServiceCommand& command) {
  bool from_unit =
      tcp_env_drop_in_is_stale(command) && !command.details->under_qharden_drop_in->argv.empty();
  return from_unit ? *command.details->under_qharden_drop_in : command;
}

Expected<std::vector<PlannedChange>> plan_tcp_env_fixes(AuditContext& context, const RuleInfo& info,
                                                        const std::vector<Finding>& failing) {
  const ServiceInventory& inventory = context.inventory();
  const std::string& options_text = context.config.tcp_env_flags.options;
  FailingCommands failing_commands = find_failing_commands(inventory, info, failing);

  std::vector<PlannedChange> changes;
  for (const std::string& file : failing_commands.files) {
    Expected<std::string> text = context.host.read_file(file);
    if (!text) return Unexpected(text.error());
    std::vector<TextEdit> edits;
    std::string summary;
    ParsedFile parsed(file, *text);
    for (const ServiceCommand* command : failing_commands.per_file[file]) {
      Expected<LocatedCommand> located = parsed.locate(*command, options_text);
      if (!located) return Unexpected(located.error());
      if (located->argv != command->argv) return fail_with(changed_file_message(file));
      std::size_t before = edits.size();
      Outcome outcome = tcp_env_edits(*located, *text, file, options_text, edits);
      if (!outcome) return Unexpected(outcome.error());
      std::string service_summary;
      if (edits.size() > before) service_summary = "set tcp-env's options to " + options_text;
      for (const std::string& attribute : command->details->xinetd_ident_attributes) {
        edits.push_back(
            TextEdit{located->block_end, 0, located->indentation + attribute + " -= USERID\n"});
        service_summary +=
            std::string(service_summary.empty() ? "" : ", ") + "add `" + attribute + " -= USERID`";
      }
      if (service_summary.empty()) continue;
      summary += (summary.empty() ? "" : "; ") + command->service + " (line " +
                 std::to_string(command->line) + "): " + service_summary;
    }
    Expected<std::string> after = apply_text_edits(*text, edits);
    if (!after) return fail_with(file + ": " + after.error().message);
    if (*after == *text) continue;
    PlannedChange change;
    change.rule = std::string(info.id);
    change.subject = file;
    change.summary = file + ": " + summary;
    change.action = FileReplacement{file, std::move(*text), std::move(*after), false};
    changes.push_back(std::move(change));
  }
  for (const ServiceCommand* command : failing_commands.systemd) {
    Expected<std::optional<PlannedChange>> drop_in =
        plan_tcp_env_drop_in(context, info, tcp_env_drop_in_source(*command), options_text);
    if (!drop_in) return Unexpected(drop_in.error());
    if (*drop_in) changes.push_back(std::move(**drop_in));
  }
  return changes;
}

}  // namespace qharden
