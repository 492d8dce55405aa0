#include "sysctl/boot_precedence.h"

#include <algorithm>
#include <map>

namespace qharden {
namespace {

constexpr std::string_view kSysctlConf = "/etc/sysctl.conf";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

bool is_directory(const Host& host, const std::string& path) {
  Expected<FileStatus> file_status = host.status(path, true);
  return file_status && file_status->kind == FileKind::directory;
}

bool wanted_name(std::string_view name, SysctlTool tool) {
  // systemd's directory walk skips hidden entries; procps only checks the suffix.
  if (tool == SysctlTool::systemd_sysctl && !name.empty() && name.front() == '.') return false;
  return ends_with(name, ".conf");
}

// Reads one listed file the way the tools do: a /dev/null link is an empty
// mask (read_symlink, so /dev/null is never looked up under --root); a dangling
// link or a folder sets nothing (both tools log it and go on).
SysctlReadFile read_listed_file(const Host& host, std::string listed_path, std::string file_name) {
  SysctlReadFile file;
  file.listed_path = std::move(listed_path);
  file.file_name = std::move(file_name);
  file.parsed.file_name = file.listed_path;
  Expected<FileStatus> link_status = host.status(file.listed_path, false);
  if (link_status && link_status->kind == FileKind::symlink) {
    Expected<std::string> target = host.read_symlink(file.listed_path);
    if (target && *target == "/dev/null") {
      file.masked = true;
      return file;
    }
  }
  Expected<FileStatus> target_status = host.status(file.listed_path, true);
  if (!target_status) {
    file.read_error = target_status.error().message;
    return file;
  }
  if (target_status->kind == FileKind::missing || target_status->kind == FileKind::directory) {
    return file;
  }
  Expected<std::string> content = host.read_file(file.listed_path);
  if (!content) {
    file.read_error = content.error().message;
    return file;
  }
  file.parsed = parse_sysctl_conf(file.listed_path, *content);
  return file;
}

bool same_file(const Host& host, const std::string& first, const std::string& second) {
  Expected<FileStatus> first_status = host.status(first, true);
  Expected<FileStatus> second_status = host.status(second, true);
  return first_status && second_status && first_status->kind == FileKind::regular &&
         second_status->kind == FileKind::regular && first_status->inode == second_status->inode &&
         first_status->device == second_status->device;
}

// The first word of a malformed line, as a key, to tell whether the operator
// meant to set our key there.
bool malformed_line_names_key(const SysctlMalformedLine& malformed, std::string_view key) {
  std::string_view text = malformed.text;
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  std::size_t end = text.find_first_of(" \t=");
  return normalize_sysctl_key(text.substr(0, end)) == key;
}

BootAssignment assignment_of(const SysctlReadFile& file, const SysctlAssignment& assignment) {
  return BootAssignment{file.listed_path, file.file_name, assignment.line, assignment.value};
}

}  // namespace

std::string_view to_string(SysctlTool tool) {
  return tool == SysctlTool::systemd_sysctl ? "systemd-sysctl" : "procps";
}

SysctlToolChoice detect_sysctl_tool(const Host& host) {
  if (is_directory(host, "/run/systemd/system")) {
    return {SysctlTool::systemd_sysctl, "/run/systemd/system exists: systemd is running as init"};
  }
  // On the live host sd_booted() is the whole truth: a container or chroot can
  // have systemd installed as /sbin/init without running it.
  Expected<FileStatus> init_status = host.status("/sbin/init", false);
  if (host.root() != "/" && init_status && init_status->kind == FileKind::symlink) {
    Expected<std::string> target = host.read_symlink("/sbin/init");
    if (target && (*target == "systemd" || ends_with(*target, "/systemd"))) {
      return {SysctlTool::systemd_sysctl,
              "/sbin/init links to " + *target + ": systemd boots this tree"};
    }
  }
  return {SysctlTool::procps,
          "no /run/systemd/system (and, for a --root tree, no /sbin/init link to systemd): "
          "procps `sysctl --system`"};
}

std::vector<std::string> sysctl_directories(const Host& host, SysctlTool tool) {
  std::vector<std::string> directories{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d",
                                       "/usr/lib/sysctl.d"};
  // systemd searches /lib only when it is built for a split /usr; on a merged
  // /usr, /lib is a link to usr/lib and holds nothing new.
  Expected<FileStatus> lib_status = host.status("/lib", false);
  bool lib_is_link = lib_status && lib_status->kind == FileKind::symlink;
  if (tool == SysctlTool::procps || !lib_is_link) directories.push_back("/lib/sysctl.d");
  return directories;
}

BootConfiguration load_boot_configuration(const Host& host) {
  return load_boot_configuration(host, detect_sysctl_tool(host));
}

BootConfiguration load_boot_configuration(const Host& host, const SysctlToolChoice& tool) {
  BootConfiguration configuration;
  configuration.tool = tool;
  std::map<std::string, std::string> claimed;  // file name -> listed path; sorted by strcmp
  std::vector<SysctlReadFile> unlisted_directories;
  for (const std::string& directory : sysctl_directories(host, tool.tool)) {
    Expected<FileStatus> directory_status = host.status(directory, true);
    if (!directory_status || directory_status->kind != FileKind::directory) continue;
    Expected<std::vector<std::string>> names = host.list_directory(directory);
    if (!names) {
      SysctlReadFile unreadable;
      unreadable.listed_path = directory;
      unreadable.read_error = names.error().message;
      unlisted_directories.push_back(std::move(unreadable));
      continue;
    }
    for (const std::string& name : *names) {
      if (!wanted_name(name, tool.tool)) continue;
      std::string path = directory + "/" + name;
      auto [position, inserted] = claimed.emplace(name, path);
      // /lib linking to usr/lib lists the same file twice; that is no shadowing.
      if (!inserted && !same_file(host, path, position->second)) {
        SysctlReadFile shadowed = read_listed_file(host, path, name);
        configuration.shadowed.push_back({path, position->second, std::move(shadowed.parsed)});
      }
    }
  }
  for (const auto& [name, path] : claimed) {
    configuration.files.push_back(read_listed_file(host, path, name));
  }
  // A folder we could not list may hold any name; put it last so that every
  // key counts as uncertain.
  for (SysctlReadFile& unreadable : unlisted_directories) {
    configuration.files.push_back(std::move(unreadable));
  }
  Expected<FileStatus> conf_status = host.status(std::string(kSysctlConf), true);
  bool conf_exists = conf_status && conf_status->kind == FileKind::regular;
  if (tool.tool == SysctlTool::procps && conf_exists) {
    configuration.files.push_back(read_listed_file(host, std::string(kSysctlConf), ""));
  } else if (conf_exists) {
    bool linked = std::any_of(
        configuration.files.begin(), configuration.files.end(), [&](const SysctlReadFile& file) {
          return !file.masked && same_file(host, file.listed_path, std::string(kSysctlConf));
        });
    if (!linked) {
      SysctlReadFile unread = read_listed_file(host, std::string(kSysctlConf), "");
      configuration.unread_sysctl_conf = std::move(unread.parsed);
    }
  }
  return configuration;
}

BootKeyResolution resolve_boot_key(const BootConfiguration& configuration,
                                   std::string_view dotted_key) {
  BootKeyResolution resolution;
  resolution.key = std::string(dotted_key);
  bool systemd = configuration.tool.tool == SysctlTool::systemd_sysctl;
  std::size_t winner_index = 0;
  for (std::size_t index = 0; index < configuration.files.size(); ++index) {
    const SysctlReadFile& file = configuration.files[index];
    for (const SysctlAssignment& assignment : file.parsed.assignments) {
      if (assignment.is_glob || assignment.key != dotted_key) continue;
      if (!assignment.has_value && !systemd) {
        resolution.ignored_lines.push_back(file.listed_path + ":" +
                                           std::to_string(assignment.line));
        continue;
      }
      if (resolution.winner) resolution.overridden.push_back(*resolution.winner);
      resolution.winner.reset();
      // systemd drops an earlier assignment when "-key" names it again.
      if (assignment.has_value) resolution.winner = assignment_of(file, assignment);
      winner_index = index;
    }
    for (const SysctlMalformedLine& malformed : file.parsed.malformed) {
      if (malformed_line_names_key(malformed, dotted_key)) {
        resolution.ignored_lines.push_back(file.listed_path + ":" + std::to_string(malformed.line));
      }
    }
  }
  for (std::size_t index = 0; index < configuration.files.size(); ++index) {
    const SysctlReadFile& file = configuration.files[index];
    bool after_winner = !resolution.winner || index > winner_index;
    if (file.read_error && after_winner && !resolution.uncertain_because) {
      resolution.uncertain_because = *file.read_error;
    }
  }
  for (const SysctlShadowedFile& shadowed : configuration.shadowed) {
    const auto& assignments = shadowed.parsed.assignments;
    if (std::any_of(assignments.begin(), assignments.end(), [&](const SysctlAssignment& each) {
          return each.key == dotted_key && each.has_value;
        })) {
      resolution.shadowed.push_back({shadowed.path, shadowed.shadowed_by, {}});
    }
  }
  if (configuration.unread_sysctl_conf) {
    for (const SysctlAssignment& assignment : configuration.unread_sysctl_conf->assignments) {
      if (assignment.key == dotted_key && assignment.has_value) {
        resolution.unread_lines.push_back(std::string(kSysctlConf) + ":" +
                                          std::to_string(assignment.line));
      }
    }
  }
  return resolution;
}

}  // namespace qharden
