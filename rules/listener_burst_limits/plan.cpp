// Each file is read and parsed again, so the byte positions are those of the
// text the FileReplacement names as `before`; all fixes in one file become one
// change, and the new text is parsed once more to prove it says what we meant.
#include "listener_burst_limits/plan.h"

#include <algorithm>
#include <map>

#include "engine/context.h"
#include "listener_burst_limits/limits.h"
#include "parsers/inetd.h"
#include "parsers/xinetd.h"
#include "parsers/xinetd_limits.h"
#include "tcp_env_flags/tcp_env_flags.h"

namespace qharden {
namespace {

std::string changed_file_message(const std::string& file) {
  return file + " changed since it was audited; run the audit again";
}

const JudgedLimit* find_limit(const ListenerLimits& limits, const std::string& name) {
  for (const JudgedLimit& limit : limits.limits) {
    if (limit.name == name) return &limit;
  }
  return nullptr;
}

// The value words each failing xinetd attribute should get ("cps" -> "100 10").
std::map<std::string, std::string> xinetd_targets(const ListenerLimits& limits,
                                                  const Config::ListenerBurstLimits& bounds) {
  std::map<std::string, std::string> targets;
  const JudgedLimit* rate = find_limit(limits, "cps");
  const JudgedLimit* wait = find_limit(limits, "cps_wait");
  if (rate != nullptr && wait != nullptr && (!rate->ok || !wait->ok)) {
    std::int64_t new_rate = rate->ok ? rate->value.value_or(0) : bounds.xinetd_cps_min;
    std::int64_t new_wait = wait->ok ? wait->value.value_or(0) : bounds.xinetd_cps_wait_max;
    targets["cps"] = std::to_string(new_rate) + " " + std::to_string(new_wait);
  }
  for (const char* name : {"instances", "per_source"}) {
    const JudgedLimit* limit = find_limit(limits, name);
    if (limit == nullptr || limit->ok) continue;
    targets[name] =
        std::to_string(std::string_view(name) == "instances" ? bounds.xinetd_instances_min
                                                             : bounds.xinetd_per_source_min);
  }
  return targets;
}

std::vector<XinetdSection> sections_of(const std::string& file, std::string_view text) {
  std::vector<XinetdSection> sections;
  for (XinetdItem& item : parse_xinetd_text(file, text).items) {
    if (auto* section = std::get_if<XinetdSection>(&item)) sections.push_back(std::move(*section));
  }
  return sections;
}

// The service section at `line` and its limits, resolved within this file only:
// what the service sets itself does not depend on `defaults`.
struct LocatedService {
  const XinetdSection* section = nullptr;
  XinetdServiceLimits limits;
};

std::optional<LocatedService> locate_service(const std::vector<XinetdSection>& sections, int line) {
  XinetdLimits resolved = resolve_xinetd_limits(sections);
  std::size_t service_index = 0;
  for (const XinetdSection& section : sections) {
    if (section.kind != XinetdSectionKind::service) continue;
    if (section.line == line && service_index < resolved.services.size()) {
      return LocatedService{&section, resolved.services[service_index]};
    }
    ++service_index;
  }
  return std::nullopt;
}

const BurstLimitSetting* setting_named(const XinetdServiceLimits& limits, const std::string& name) {
  for (const BurstLimitSetting& setting : limits.settings) {
    if (setting.name == name) return &setting;
  }
  return nullptr;
}

std::string indentation_of(const XinetdSection& section) {
  for (auto attribute = section.attributes.rbegin(); attribute != section.attributes.rend();
       ++attribute) {
    if (!attribute->indentation.empty()) return attribute->indentation;
  }
  return "\t";
}

const ServiceCommand* find_command(const ServiceInventory& inventory, const Finding& finding) {
  for (const ServiceCommand& command : inventory.commands) {
    if (command.source == LaunchSource::run_script) continue;
    if (command.subject == finding.subject) return &command;
  }
  return nullptr;
}

}  // namespace

Expected<std::string> raise_xinetd_limits(const std::string& file, std::string_view text,
                                          const ServiceCommand& command,
                                          const Config::ListenerBurstLimits& bounds) {
  std::map<std::string, std::string> targets =
      xinetd_targets(judge_xinetd_limits(command, bounds), bounds);
  if (targets.empty()) return std::string(text);
  std::vector<XinetdSection> sections = sections_of(file, text);
  std::optional<LocatedService> located = locate_service(sections, command.line);
  if (!located) return fail_with(changed_file_message(file));
  std::vector<TextEdit> edits;
  for (const auto& [name, value] : targets) {
    const BurstLimitSetting* own = setting_named(located->limits, name);
    if (own != nullptr && own->from == "service") {
      // Replace the value words, and the blanks between them, as one span.
      const WordLocation& first = own->locations.front();
      const WordLocation& last = own->locations.back();
      edits.push_back(TextEdit{first.offset, last.offset + last.length - first.offset, value});
    } else {
      edits.push_back(TextEdit{located->section->closing_offset, 0,
                               indentation_of(*located->section) + name + " = " + value + "\n"});
    }
  }
  Expected<std::string> after = apply_text_edits(text, edits);
  if (!after) return fail_with(file + ": " + after.error().message);
  // The new text must give the service exactly the values meant.
  std::vector<XinetdSection> new_sections = sections_of(file, *after);
  std::optional<LocatedService> check = locate_service(new_sections, command.line);
  for (const auto& [name, value] : targets) {
    const BurstLimitSetting* setting = check ? setting_named(check->limits, name) : nullptr;
    std::string words;
    if (setting != nullptr) {
      for (const std::string& word : setting->words) words += (words.empty() ? "" : " ") + word;
    }
    if (setting == nullptr || setting->from != "service" || words != value) {
      return fail_with(file + ": setting " + name + " = " + value + " for " + command.service +
                       " did not read back; edit it by hand");
    }
  }
  return after;
}

Expected<std::string> raise_inetd_limit(const std::string& file, std::string_view text,
                                        const ServiceCommand& command,
                                        const Config::ListenerBurstLimits& bounds) {
  ListenerLimits limits = judge_inetd_limits(command, bounds);
  if (limits.error) return fail_with(file + ": " + *limits.error);
  if (limits.all_ok()) return std::string(text);
  InetdFile parsed = parse_inetd_text(file, text);
  for (const InetdEntry& entry : parsed.entries) {
    if (entry.line != command.line) continue;
    const WordLocation& word = entry.wait_location;
    if (text.substr(word.offset, word.length) != entry.wait) {
      return fail_with(changed_file_message(file));
    }
    std::string base = entry.wait.substr(0, entry.wait.find('.'));
    std::string replacement = base + "." + std::to_string(bounds.inetd_per_minute_min);
    return apply_text_edits(text, {TextEdit{word.offset, word.length, replacement}});
  }
  return fail_with(changed_file_message(file));
}

Expected<std::vector<PlannedChange>> plan_burst_limit_fixes(AuditContext& context,
                                                            const RuleInfo& info,
                                                            const std::vector<Finding>& failing) {
  const ServiceInventory& inventory = context.inventory();
  const Config::ListenerBurstLimits& bounds = context.config.listener_burst_limits;
  std::vector<std::string> files;  // in the order the findings name them
  std::map<std::string, std::vector<const ServiceCommand*>> commands_per_file;
  for (const Finding& finding : failing) {
    if (finding.rule != info.id || finding.status != Status::fail || !finding.fixable) continue;
    const ServiceCommand* command = find_command(inventory, finding);
    if (command == nullptr) continue;
    auto& commands = commands_per_file[command->file];
    if (commands.empty()) files.push_back(command->file);
    if (std::find(commands.begin(), commands.end(), command) == commands.end()) {
      commands.push_back(command);
    }
  }
  std::vector<PlannedChange> changes;
  for (const std::string& file : files) {
    Expected<std::string> before = context.host.read_file(file);
    if (!before) return Unexpected(before.error());
    std::string text = *before;
    std::string summary;
    // Bottom up, so that lines added to one service leave the `service` lines
    // of the services above it where the inventory saw them.
    std::vector<const ServiceCommand*>& commands = commands_per_file[file];
    std::stable_sort(commands.begin(), commands.end(),
                     [](const ServiceCommand* left, const ServiceCommand* right) {
                       return left->line > right->line;
                     });
    for (const ServiceCommand* command : commands) {
      Expected<std::string> after = command->source == LaunchSource::xinetd
                                        ? raise_xinetd_limits(file, text, *command, bounds)
                                        : raise_inetd_limit(file, text, *command, bounds);
      if (!after) return Unexpected(after.error());
      if (*after == text) continue;
      text = std::move(*after);
      summary += (summary.empty() ? "" : "; ") + command->service + " (line " +
                 std::to_string(command->line) + ")";
    }
    if (text == *before) continue;
    PlannedChange change;
    change.rule = std::string(info.id);
    change.subject = file;
    change.summary =
        file + ": raise the burst limits of " + summary + " to rules.\"listener.burst-limits\"";
    change.action = FileReplacement{file, std::move(*before), std::move(text), false};
    changes.push_back(std::move(change));
  }
  return changes;
}

}  // namespace qharden
