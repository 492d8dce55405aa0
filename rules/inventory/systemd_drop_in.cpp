#include "inventory/systemd_drop_in.h"

#include <utility>

#include "config/config.h"
#include "host/host.h"
#include "parsers/systemd_unit.h"

namespace qharden {

std::string qharden_drop_in_path(const Config& config, const std::string& unit,
                                 std::string_view rule) {
  const std::vector<std::string>& folders = config.paths.systemd_unit_dirs;
  std::string folder = folders.empty() ? "/etc/systemd/system" : folders.front();
  return folder + "/" + unit + ".d/99-qharden-" + std::string(rule) + ".conf";
}

std::string qharden_drop_in_text(std::string_view rule, std::string_view section,
                                 const std::vector<DropInSetting>& settings) {
  std::string text = "# Written by `qharden apply` for " + std::string(rule) +
                     "; `qharden rollback` removes it.\n"
                     "# Named to sort after the unit's other drop-ins, so these values win.\n"
                     "[" +
                     std::string(section) + "]\n";
  for (const DropInSetting& setting : settings) text += setting.key + "=" + setting.value + "\n";
  return text;
}

namespace {

// The settings qharden's drop-in holds now, in file order, the last value of
// each key; refused when the file holds more than qharden writes.
Expected<std::vector<DropInSetting>> settings_in_drop_in(const std::string& path,
                                                         std::string_view text,
                                                         std::string_view section) {
  SystemdUnitFile parsed = parse_systemd_unit_text(path, text);
  if (!parsed.problems.empty()) {
    return fail_with(parsed.problems.front().message +
                     "; qharden rewrites only the drop-in it wrote: fix or remove it by hand");
  }
  std::vector<DropInSetting> settings;
  for (const SystemdSection& each : parsed.sections) {
    if (each.name != section) {
      return fail_with(path + ":" + std::to_string(each.line) + ": [" + each.name +
                       "] is not what qharden writes here; edit or remove the file by hand");
    }
    for (const SystemdAssignment& assignment : each.assignments) {
      bool replaced = false;
      for (DropInSetting& setting : settings) {
        if (setting.key == assignment.key) {
          setting.value = assignment.value;
          replaced = true;
        }
      }
      if (!replaced) settings.push_back({assignment.key, assignment.value});
    }
  }
  return settings;
}

}  // namespace

Expected<std::optional<PlannedChange>> plan_qharden_drop_in(
    const Host& host, const Config& config, std::string_view rule, const std::string& unit,
    std::string_view section, const std::vector<DropInSetting>& settings, bool keep_other_settings,
    std::string summary) {
  std::string path = qharden_drop_in_path(config, unit, rule);
  Expected<FileStatus> status = host.status(path, false);
  if (!status) return Unexpected(status.error());
  if (status->kind == FileKind::symlink) {
    return fail_with(path +
                     ": is a symlink; qharden never writes through a symlink. Remove it, "
                     "or put the settings there by hand");
  }
  if (status->kind != FileKind::missing && status->kind != FileKind::regular) {
    return fail_with(path + ": not a regular file; qharden leaves it as it is");
  }
  bool exists = status->kind == FileKind::regular;
  std::string before;
  std::vector<DropInSetting> merged;
  if (exists) {
    Expected<std::string> text = host.read_file(path);
    if (!text) return Unexpected(text.error());
    before = std::move(*text);
    Expected<std::vector<DropInSetting>> held = settings_in_drop_in(path, before, section);
    if (!held) return Unexpected(held.error());
    if (keep_other_settings) merged = std::move(*held);
  }
  for (const DropInSetting& setting : settings) {
    if (!keep_other_settings) {
      merged.push_back(setting);
      continue;
    }
    bool replaced = false;
    for (DropInSetting& each : merged) {
      if (each.key == setting.key) {
        each.value = setting.value;
        replaced = true;
      }
    }
    if (!replaced) merged.push_back(setting);
  }
  std::string after = qharden_drop_in_text(rule, section, merged);
  if (exists && after == before) return std::optional<PlannedChange>();
  PlannedChange change;
  change.rule = std::string(rule);
  change.subject = path;
  change.summary = std::move(summary);
  change.summary +=
      host.root() == "/"
          ? "; then systemd's daemon-reload"
          : "; no daemon-reload is requested under --root (the system bus is the live host's): "
            "run `systemctl daemon-reload` in that system";
  change.action = FileReplacement{path, std::move(before), std::move(after), !exists};
  return std::optional<PlannedChange>(std::move(change));
}

}  // namespace qharden
