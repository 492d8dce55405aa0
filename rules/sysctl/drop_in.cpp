#include "sysctl/drop_in.h"

#include <algorithm>

#include "parsers/sysctl_conf.h"
#include "sysctl/sysctl_rule.h"

namespace qharden {
namespace {

constexpr std::string_view kOwnedHeader = "# qharden owns this file";

bool contains(const std::vector<std::string>& items, std::string_view item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

struct CandidateState {
  bool usable = false;
  bool exists = false;  // and is ours
  std::string content;
};

// A candidate name is usable when /etc/sysctl.d holds nothing under it or a
// drop-in of ours, and no other folder has it: our /etc file would silently
// mask that one.
CandidateState inspect_candidate(const Host& host, const BootConfiguration& configuration,
                                 const std::string& name) {
  CandidateState state;
  for (const std::string& directory : sysctl_directories(host, configuration.tool.tool)) {
    std::string path = directory + "/" + name;
    Expected<FileStatus> file_status = host.status(path, false);
    if (!file_status) return state;
    if (file_status->kind == FileKind::missing) continue;
    if (directory != kDropInDirectory || file_status->kind != FileKind::regular) return state;
    Expected<std::string> content = host.read_file(path);
    if (!content || !is_owned_drop_in(*content)) return state;
    state.exists = true;
    state.content = std::move(*content);
  }
  state.usable = true;
  return state;
}

void merge_owned_settings(std::vector<SysctlSetting>& settings, const std::string& path,
                          const std::string& content) {
  for (const SysctlAssignment& assignment : parse_sysctl_conf(path, content).assignments) {
    std::optional<std::int64_t> value = parse_sysctl_integer(assignment.value);
    if (!assignment.has_value || !value) continue;
    auto existing = std::find_if(settings.begin(), settings.end(), [&](const SysctlSetting& each) {
      return each.first == assignment.key;
    });
    if (existing == settings.end()) {
      settings.emplace_back(assignment.key, *value);
    } else {
      existing->second = *value;  // later names are read later and win
    }
  }
}

}  // namespace

std::vector<std::string> drop_in_candidates(std::string_view stem) {
  std::string suffix = "qharden-" + std::string(stem) + ".conf";
  return {"90-" + suffix, "99-zz-" + suffix, "zz-" + suffix};
}

bool is_owned_drop_in(std::string_view content) {
  return content.substr(0, kOwnedHeader.size()) == kOwnedHeader;
}

std::string render_drop_in(std::string_view rule_id, const std::vector<SysctlSetting>& settings) {
  std::string text = std::string(kOwnedHeader) + " (rule " + std::string(rule_id) + ").\n" +
                     "# `qharden apply` rewrites it; `qharden rollback` undoes each change.\n"
                     "# Its name sorts after every other file that sets these keys, so it wins "
                     "at boot.\n"
                     "# Change the limits in /etc/qharden/qharden.toml, not here.\n";
  for (const auto& [key, value] : settings) text += key + " = " + std::to_string(value) + "\n";
  return text;
}

Expected<DropInChoice> choose_drop_in(const Host& host, const BootConfiguration& configuration,
                                      std::string_view stem,
                                      const std::vector<std::string>& keys_to_win) {
  std::vector<std::string> candidates = drop_in_candidates(stem);
  std::vector<CandidateState> states;
  DropInChoice choice;
  for (const std::string& name : candidates) {
    states.push_back(inspect_candidate(host, configuration, name));
    if (states.back().exists) {
      merge_owned_settings(choice.owned_settings, std::string(kDropInDirectory) + "/" + name,
                           states.back().content);
    }
  }
  std::string latest_name;
  for (const SysctlReadFile& file : configuration.files) {
    // procps' /etc/sysctl.conf has no sysctl.d name; the caller refuses those.
    if (file.file_name.empty()) continue;
    auto candidate = std::find(candidates.begin(), candidates.end(), file.file_name);
    bool ours = candidate != candidates.end() &&
                states[static_cast<std::size_t>(candidate - candidates.begin())].exists &&
                file.listed_path == std::string(kDropInDirectory) + "/" + file.file_name;
    if (ours) continue;
    for (const SysctlAssignment& assignment : file.parsed.assignments) {
      if (assignment.is_glob || !contains(keys_to_win, assignment.key)) continue;
      choice.outranks.push_back(
          BootAssignment{file.listed_path, file.file_name, assignment.line, assignment.value});
      latest_name = std::max(latest_name, file.file_name);
    }
  }
  // Start at the last drop-in of ours that exists: a new one with an earlier
  // name would lose to it at boot, and it would keep its old values.
  std::size_t first = 0;
  for (std::size_t index = 0; index < candidates.size(); ++index) {
    if (states[index].exists) first = index;
  }
  std::size_t chosen = candidates.size();
  for (std::size_t index = first; index < candidates.size(); ++index) {
    if (states[index].usable && candidates[index] > latest_name) {
      chosen = index;
      break;
    }
  }
  if (chosen == candidates.size()) {
    return fail_with("no drop-in name for qharden-" + std::string(stem) +
                     " sorts after every file that sets the keys (the latest is " + latest_name +
                     ") and is free in " + std::string(kDropInDirectory));
  }
  choice.file_name = candidates[chosen];
  choice.path = std::string(kDropInDirectory) + "/" + choice.file_name;
  choice.exists = states[chosen].exists;
  choice.current_content = states[chosen].content;
  return choice;
}

}  // namespace qharden
