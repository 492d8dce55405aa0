// Where systemd finds a unit and its drop-ins, read through the Host.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "host/host.h"
#include "inventory/systemd_units.h"

namespace qharden {
namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// systemd skips hidden files when it lists units and drop-ins
// (conf_files_list(), hidden_or_backup_file()): an editor's ".x.conf.swp" or
// an operator's ".disabled.conf" is never applied, so it is never read here.
bool hidden(std::string_view name) {
  return !name.empty() && name.front() == '.';
}

std::string base_name(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// systemd's drop-in folder names for one unit, most specific first: the unit's
// own, then its dash prefixes ("qmail-smtpd@.service" -> "qmail-.service.d").
// The type's own folder ("service.d") comes apart, as the least specific.
std::vector<std::string> named_drop_in_folders(const std::string& name) {
  std::vector<std::string> folders{name + ".d"};
  std::size_t dot = name.rfind('.');
  if (dot == std::string::npos) return folders;
  std::string type = name.substr(dot + 1);
  std::string prefix = name.substr(0, std::min(dot, name.find('@')));
  for (std::size_t dash = prefix.rfind('-'); dash != std::string::npos && dash > 0;
       dash = prefix.rfind('-')) {
    prefix.erase(dash);
    folders.push_back(prefix + "-." + type + ".d");
  }
  return folders;
}

}  // namespace

SystemdUnitDirectories::SystemdUnitDirectories(const Host& host,
                                               const std::vector<std::string>& directories,
                                               std::vector<InventoryProblem>& problems)
    : host_(host) {
  for (const std::string& directory : directories) {
    std::vector<std::string> names;
    Expected<FileStatus> folder_status = host.status(directory, true);
    if (folder_status && folder_status->kind == FileKind::directory) {
      Expected<std::vector<std::string>> listed = host.list_directory(directory);
      if (listed) {
        names = std::move(*listed);
      } else {
        problems.push_back(
            InventoryProblem{LaunchSource::systemd, directory, 0, listed.error().message});
      }
    }
    listings_.emplace_back(directory, std::move(names));
  }
}

std::vector<std::string> SystemdUnitDirectories::names_ending(std::string_view suffix) const {
  std::set<std::string> names;
  for (const auto& [directory, entries] : listings_) {
    for (const std::string& entry : entries) {
      if (ends_with(entry, suffix) && entry.size() > suffix.size() && !hidden(entry))
        names.insert(entry);
    }
  }
  return {names.begin(), names.end()};
}

bool SystemdUnitDirectories::masks(const std::string& path) const {
  // read_symlink, so /dev/null is never looked up under --root.
  Expected<FileStatus> link_status = host_.status(path, false);
  if (link_status && link_status->kind == FileKind::symlink) {
    Expected<std::string> target = host_.read_symlink(path);
    if (target && *target == "/dev/null") return true;
  }
  Expected<FileStatus> file_status = host_.status(path, true);
  return file_status && file_status->kind == FileKind::regular && file_status->size == 0;
}

SystemdUnitLocation SystemdUnitDirectories::locate(const std::string& name) const {
  SystemdUnitLocation location;
  location.name = name;
  for (const auto& [directory, entries] : listings_) {
    if (std::find(entries.begin(), entries.end(), name) == entries.end()) continue;
    location.path = directory + "/" + name;
    location.masked = masks(location.path);
    break;
  }
  if (location.path.empty() || location.masked) return location;

  std::vector<std::string> folders;
  for (const auto& [directory, entries] : listings_) {
    for (const std::string& folder : named_drop_in_folders(name)) {
      if (std::find(entries.begin(), entries.end(), folder) != entries.end())
        folders.push_back(directory + "/" + folder);
    }
  }
  std::string type_folder = name.substr(name.rfind('.') + 1) + ".d";
  for (const auto& [directory, entries] : listings_) {
    if (std::find(entries.begin(), entries.end(), type_folder) != entries.end())
      folders.push_back(directory + "/" + type_folder);
  }
  // File name -> the path that wins it (the first folder); a masked one stays
  // in the map so that it hides the same name further down, and is skipped.
  std::map<std::string, std::string> chosen;
  for (const std::string& folder : folders) {
    Expected<std::vector<std::string>> entries = host_.list_directory(folder);
    if (!entries) continue;  // a file named like a drop-in folder: systemd skips it too
    for (const std::string& entry : *entries) {
      if (!ends_with(entry, ".conf") || hidden(entry)) continue;
      chosen.emplace(entry, folder + "/" + entry);
    }
  }
  for (const auto& [entry, path] : chosen) {
    if (!masks(path)) location.drop_ins.push_back(path);
  }
  return location;
}

bool SystemdUnitDirectories::enabled(const std::string& name) const {
  for (const auto& [directory, entries] : listings_) {
    for (const std::string& entry : entries) {
      if (!ends_with(entry, ".wants") && !ends_with(entry, ".requires")) continue;
      Expected<std::vector<std::string>> linked = host_.list_directory(directory + "/" + entry);
      if (linked && std::find(linked->begin(), linked->end(), name) != linked->end()) return true;
    }
  }
  return false;
}

std::optional<bool> parse_systemd_boolean(std::string_view text) {
  std::string lower;
  for (char character : text)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(character))));
  for (std::string_view yes : {"1", "yes", "y", "true", "t", "on"}) {
    if (lower == yes) return true;
  }
  for (std::string_view no : {"0", "no", "n", "false", "f", "off"}) {
    if (lower == no) return false;
  }
  return std::nullopt;
}

std::optional<int> systemd_listen_port(std::string_view value) {
  if (value.empty() || value.front() == '/' || value.front() == '@') return std::nullopt;
  if (value.rfind("vsock:", 0) == 0) return std::nullopt;
  std::string_view port = value;
  if (value.front() == '[') {
    std::size_t close = value.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    port = value.substr(close + 2);
  } else if (std::size_t colon = value.rfind(':'); colon != std::string_view::npos) {
    // IPv4 "v.w.x.y:z"; an IPv6 address without brackets names no port.
    if (value.find(':') != colon) return std::nullopt;
    port = value.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5) return std::nullopt;
  int number = 0;
  for (char digit : port) {
    if (digit < '0' || digit > '9') return std::nullopt;
    number = number * 10 + (digit - '0');
  }
  if (number < 1 || number > 65535) return std::nullopt;
  return number;
}

std::string systemd_unit_name(const ServiceCommand& command) {
  return base_name(command.subject);
}

std::string systemd_fix_refusal(const std::string& subject, const std::string& unit,
                                std::string_view what) {
  return subject +
         ": systemd units are fixed with a drop-in, which qharden does not write yet; add " +
         std::string(what) + " in /etc/systemd/system/" + unit + ".d/override.conf";
}

}  // namespace qharden
