#include "inventory/systemd_drop_in.h"

#include <algorithm>
#include <utility>

#include "config/config.h"
#include "host/host.h"
#include "inventory/systemd_units.h"
#include "parsers/systemd_unit.h"

namespace qharden {

std::string qharden_drop_in_name(std::string_view rule) {
  return "zz-qharden-" + std::string(rule) + ".conf";
}

std::string qharden_drop_in_path(const Config& config, const std::string& unit,
                                 std::string_view rule) {
  const std::vector<std::string>& folders = config.paths.systemd_unit_dirs;
  std::string folder = folders.empty() ? "/etc/systemd/system" : folders.front();
  return folder + "/" + unit + ".d/" + qharden_drop_in_name(rule);
}

std::string qharden_drop_in_text(std::string_view rule, std::string_view section,
                                 const std::vector<DropInSetting>& settings) {
  std::string text = "# Written by `qharden apply` for " + std::string(rule) +
                     "; `qharden rollback` removes it.\n"
                     "# Named to sort after the unit's other drop-ins (systemd applies them in\n"
                     "# file-name order), so these values win.\n"
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

std::string parent_folder(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::string file_name(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A drop-in that sorts after qharden's and sets one of its keys would win over
// qharden's value (systemd applies drop-ins in file-name order, the last value
// of a key winning), so the fix would be written and then fail re-verification.
// Refused beforehand instead, naming that file and line.
Outcome no_later_drop_in_sets(const Host& host, const Config& config, const std::string& unit,
                              const std::string& own_path, std::string_view section,
                              const std::vector<DropInSetting>& settings) {
  std::vector<InventoryProblem> ignored;
  SystemdUnitDirectories directories(host, config.paths.systemd_unit_dirs, ignored);
  SystemdUnitLocation location = directories.locate(unit);
  std::string own_name = file_name(own_path);
  for (const std::string& drop_in : location.drop_ins) {
    if (drop_in == own_path || file_name(drop_in) <= own_name) continue;
    Expected<std::string> text = host.read_file(drop_in);
    if (!text) return Unexpected(text.error());
    SystemdUnitFile parsed = parse_systemd_unit_text(drop_in, *text);
    for (const SystemdSection& each : parsed.sections) {
      if (each.name != section) continue;
      for (const SystemdAssignment& assignment : each.assignments) {
        bool ours = std::any_of(
            settings.begin(), settings.end(),
            [&](const DropInSetting& setting) { return setting.key == assignment.key; });
        if (!ours) continue;
        return fail_with(drop_in + ":" + std::to_string(assignment.location.line) + ": sets " +
                         assignment.key + "= and sorts after " + own_name +
                         ", so systemd would apply it last and qharden's value would not take "
                         "effect; change it there by hand, or rename that drop-in to sort "
                         "before " +
                         own_name);
      }
    }
  }
  return Done{};
}

}  // namespace

Expected<std::optional<PlannedChange>> plan_qharden_drop_in(
    const Host& host, const Config& config, std::string_view rule, const std::string& unit,
    std::string_view section, const std::vector<DropInSetting>& settings, bool keep_other_settings,
    std::string summary) {
  std::string path = qharden_drop_in_path(config, unit, rule);
  std::string folder = parent_folder(path);
  Expected<FileStatus> folder_status = host.status(folder, false);
  if (!folder_status) return Unexpected(folder_status.error());
  if (folder_status->kind == FileKind::symlink) {
    return fail_with(folder +
                     ": is a symlink; qharden never writes through a symlink. Replace it with "
                     "a folder, or put the settings there by hand");
  }
  if (folder_status->kind != FileKind::missing && folder_status->kind != FileKind::directory) {
    return fail_with(folder + ": not a folder; systemd skips it, and qharden leaves it as it is");
  }
  Outcome unshadowed = no_later_drop_in_sets(host, config, unit, path, section, settings);
  if (!unshadowed) return Unexpected(unshadowed.error());
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
