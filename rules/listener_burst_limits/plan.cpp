// Each file is read and parsed again, so the byte positions are those of the
// text the FileReplacement names as `before`; all fixes in one file become one
// change, and the new text is parsed once more to prove it says what we meant.
// A file is parsed once before and once after however many of its services
// fail, so planning stays linear in the changes per file (issue 15: a Plesk
// host can hold thousands of services in one file, all below the cps bound).
#include "listener_burst_limits/plan.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

#include "engine/context.h"
#include "inventory/failing_commands.h"
#include "inventory/systemd_drop_in.h"
#include "inventory/systemd_units.h"
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

// An xinetd file's service sections and their limits, resolved within this
// file only (what a service sets itself does not depend on `defaults`). A
// service is found by its `service` line, then by its place among the file's
// services: edits add no sections, so that place holds in the new text while
// lines below an inserted line move.
struct ParsedXinetdFile {
  std::vector<XinetdSection> sections;
  XinetdLimits limits;
  std::vector<std::size_t> service_sections;  // index in sections, per service
  std::unordered_map<int, std::size_t> service_by_line;

  const XinetdSection& section(std::size_t service) const {
    return sections[service_sections[service]];
  }
};

ParsedXinetdFile parse_xinetd_file(const std::string& file, std::string_view text) {
  ParsedXinetdFile parsed;
  parsed.sections = sections_of(file, text);
  parsed.limits = resolve_xinetd_limits(parsed.sections);
  for (std::size_t index = 0; index < parsed.sections.size(); ++index) {
    const XinetdSection& section = parsed.sections[index];
    if (section.kind != XinetdSectionKind::service) continue;
    std::size_t service = parsed.service_sections.size();
    if (service < parsed.limits.services.size())
      parsed.service_by_line.emplace(section.line, service);
    parsed.service_sections.push_back(index);
  }
  return parsed;
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

}  // namespace

namespace {

// The edits that give one service its targets, against the parsed text.
void xinetd_limit_edits(const ParsedXinetdFile& parsed, std::size_t service,
                        const std::map<std::string, std::string>& targets,
                        std::vector<TextEdit>& edits) {
  const XinetdSection& section = parsed.section(service);
  for (const auto& [name, value] : targets) {
    const BurstLimitSetting* own = setting_named(parsed.limits.services[service], name);
    if (own != nullptr && own->from == "service") {
      // Replace the value words, and the blanks between them, as one span.
      const WordLocation& first = own->locations.front();
      const WordLocation& last = own->locations.back();
      edits.push_back(TextEdit{first.offset, last.offset + last.length - first.offset, value});
    } else {
      edits.push_back(TextEdit{section.closing_offset, 0,
                               indentation_of(section) + name + " = " + value + "\n"});
    }
  }
}

// The new text must give the service exactly the values meant.
Outcome check_read_back(const ParsedXinetdFile& reread, std::size_t service,
                        const std::map<std::string, std::string>& targets, const std::string& file,
                        const ServiceCommand& command) {
  const XinetdServiceLimits* limits =
      service < reread.limits.services.size() ? &reread.limits.services[service] : nullptr;
  for (const auto& [name, value] : targets) {
    const BurstLimitSetting* setting = limits ? setting_named(*limits, name) : nullptr;
    std::string words;
    if (setting != nullptr) {
      for (const std::string& word : setting->words) words += (words.empty() ? "" : " ") + word;
    }
    if (setting == nullptr || setting->from != "service" || words != value) {
      return fail_with(file + ": setting " + name + " = " + value + " for " + command.service +
                       " did not read back; edit it by hand");
    }
  }
  return Done{};
}

// The inetd edit for one entry; nothing when its limit is met.
Outcome inetd_limit_edit(const std::string& file, std::string_view text, const InetdEntry& entry,
                         const ServiceCommand& command, const Config::ListenerBurstLimits& bounds,
                         std::vector<TextEdit>& edits) {
  ListenerLimits limits = judge_inetd_limits(command, bounds);
  if (limits.error) return fail_with(file + ": " + *limits.error);
  if (limits.all_ok()) return Done{};
  const WordLocation& word = entry.wait_location;
  if (text.substr(word.offset, word.length) != entry.wait) {
    return fail_with(changed_file_message(file));
  }
  std::string base = entry.wait.substr(0, entry.wait.find('.'));
  edits.push_back(
      TextEdit{word.offset, word.length, base + "." + std::to_string(bounds.inetd_per_minute_min)});
  return Done{};
}

}  // namespace

Expected<std::optional<PlannedChange>> plan_socket_drop_in(AuditContext& context,
                                                           const RuleInfo& info,
                                                           const ServiceCommand& command) {
  ListenerLimits limits = judge_systemd_limits(command, context.config.listener_burst_limits);
  if (limits.error) return fail_with(command.subject + ": " + *limits.error);
  std::vector<DropInSetting> settings;
  std::string raised;
  for (const JudgedLimit& limit : limits.limits) {
    if (limit.ok) continue;
    settings.push_back({limit.name, std::to_string(limit.bound)});
    raised += (raised.empty() ? "" : " and ") + limit.name + "=" + std::to_string(limit.bound);
  }
  if (settings.empty()) return std::optional<PlannedChange>();
  return plan_qharden_drop_in(
      context.host, context.config, info.id, command.service, "Socket", settings, true,
      command.service + ": raise " + raised + " in a drop-in (the unit file is left as it is)");
}

Expected<std::string> raise_xinetd_limits(const std::string& file, std::string_view text,
                                          const ServiceCommand& command,
                                          const Config::ListenerBurstLimits& bounds) {
  std::map<std::string, std::string> targets =
      xinetd_targets(judge_xinetd_limits(command, bounds), bounds);
  if (targets.empty()) return std::string(text);
  ParsedXinetdFile parsed = parse_xinetd_file(file, text);
  auto found = parsed.service_by_line.find(command.line);
  if (found == parsed.service_by_line.end()) return fail_with(changed_file_message(file));
  std::vector<TextEdit> edits;
  xinetd_limit_edits(parsed, found->second, targets, edits);
  Expected<std::string> after = apply_text_edits(text, edits);
  if (!after) return fail_with(file + ": " + after.error().message);
  Outcome checked =
      check_read_back(parse_xinetd_file(file, *after), found->second, targets, file, command);
  if (!checked) return Unexpected(checked.error());
  return after;
}

Expected<std::string> raise_inetd_limit(const std::string& file, std::string_view text,
                                        const ServiceCommand& command,
                                        const Config::ListenerBurstLimits& bounds) {
  InetdFile parsed = parse_inetd_text(file, text);
  for (const InetdEntry& entry : parsed.entries) {
    if (entry.line != command.line) continue;
    std::vector<TextEdit> edits;
    Outcome outcome = inetd_limit_edit(file, text, entry, command, bounds, edits);
    if (!outcome) return Unexpected(outcome.error());
    return apply_text_edits(text, edits);
  }
  ListenerLimits limits = judge_inetd_limits(command, bounds);
  if (limits.error) return fail_with(file + ": " + *limits.error);
  if (limits.all_ok()) return std::string(text);
  return fail_with(changed_file_message(file));
}

Expected<std::vector<PlannedChange>> plan_burst_limit_fixes(AuditContext& context,
                                                            const RuleInfo& info,
                                                            const std::vector<Finding>& failing) {
  const ServiceInventory& inventory = context.inventory();
  const Config::ListenerBurstLimits& bounds = context.config.listener_burst_limits;
  FailingCommands failing_commands = find_failing_commands(inventory, info, failing);
  std::vector<PlannedChange> changes;
  for (const std::string& file : failing_commands.files) {
    Expected<std::string> before = context.host.read_file(file);
    if (!before) return Unexpected(before.error());
    const std::string& text = *before;
    std::string summary;
    // Summaries bottom up, as the services were once edited one at a time.
    std::vector<const ServiceCommand*>& commands = failing_commands.per_file[file];
    std::stable_sort(commands.begin(), commands.end(),
                     [](const ServiceCommand* left, const ServiceCommand* right) {
                       return left->line > right->line;
                     });
    // Every edit is made against the text as read; parsed once per kind.
    std::optional<ParsedXinetdFile> xinetd;
    std::optional<std::unordered_map<int, InetdEntry>> inetd;
    struct Raised {
      const ServiceCommand* command;
      std::size_t service;
      std::map<std::string, std::string> targets;
    };
    std::vector<Raised> raised;
    std::vector<TextEdit> edits;
    for (const ServiceCommand* command : commands) {
      std::size_t before_count = edits.size();
      if (command->source == LaunchSource::xinetd) {  // systemd was refused above
        std::map<std::string, std::string> targets =
            xinetd_targets(judge_xinetd_limits(*command, bounds), bounds);
        if (targets.empty()) continue;
        if (!xinetd) xinetd = parse_xinetd_file(file, text);
        auto found = xinetd->service_by_line.find(command->line);
        if (found == xinetd->service_by_line.end()) return fail_with(changed_file_message(file));
        xinetd_limit_edits(*xinetd, found->second, targets, edits);
        raised.push_back(Raised{command, found->second, std::move(targets)});
      } else {
        if (!inetd) {
          inetd.emplace();
          for (InetdEntry& entry : parse_inetd_text(file, text).entries) {
            int line = entry.line;
            inetd->emplace(line, std::move(entry));
          }
        }
        auto found = inetd->find(command->line);
        if (found == inetd->end()) {
          ListenerLimits limits = judge_inetd_limits(*command, bounds);
          if (limits.error) return fail_with(file + ": " + *limits.error);
          if (limits.all_ok()) continue;
          return fail_with(changed_file_message(file));
        }
        Outcome outcome = inetd_limit_edit(file, text, found->second, *command, bounds, edits);
        if (!outcome) return Unexpected(outcome.error());
      }
      if (edits.size() == before_count) continue;
      summary += (summary.empty() ? "" : "; ") + command->service + " (line " +
                 std::to_string(command->line) + ")";
    }
    if (edits.empty()) continue;
    Expected<std::string> after = apply_text_edits(text, edits);
    if (!after) return fail_with(file + ": " + after.error().message);
    if (!raised.empty()) {
      ParsedXinetdFile reread = parse_xinetd_file(file, *after);
      for (const Raised& each : raised) {
        Outcome checked = check_read_back(reread, each.service, each.targets, file, *each.command);
        if (!checked) return Unexpected(checked.error());
      }
    }
    if (*after == text) continue;
    PlannedChange change;
    change.rule = std::string(info.id);
    change.subject = file;
    change.summary =
        file + ": raise the burst limits of " + summary + " to rules.\"listener.burst-limits\"";
    change.action = FileReplacement{file, std::move(*before), std::move(*after), false};
    changes.push_back(std::move(change));
  }
  for (const ServiceCommand* command : failing_commands.systemd) {
    Expected<std::optional<PlannedChange>> drop_in = plan_socket_drop_in(context, info, *command);
    if (!drop_in) return Unexpected(drop_in.error());
    if (*drop_in) changes.push_back(std::move(**drop_in));
  }
  return changes;
}

}  // namespace qharden
