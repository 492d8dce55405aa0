// SysctlRule::plan: the runtime write and the boot-time drop-in.
#include <algorithm>

#include "engine/context.h"
#include "parsers/sysctl_conf.h"
#include "sysctl/boot_precedence.h"
#include "sysctl/drop_in.h"
#include "sysctl/sysctl_rule.h"

namespace qharden {
namespace {

const SysctlKeyPolicy* find_policy(const std::vector<SysctlKeyPolicy>& policies,
                                   std::string_view key) {
  for (const SysctlKeyPolicy& policy : policies) {
    if (policy.dotted_key == key) return &policy;
  }
  return nullptr;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string joined;
  for (const std::string& item : items) {
    if (!joined.empty()) joined += separator;
    joined += item;
  }
  return joined;
}

Expected<PlannedChange> runtime_change(const RuleInfo& info, const Host& host,
                                       const SysctlKeyPolicy& policy) {
  std::string proc_path = sysctl_key_to_proc_path(policy.dotted_key);
  Expected<std::string> current = host.read_runtime_sysctl(proc_path);
  if (!current) return Unexpected(current.error());
  std::string target = std::to_string(policy.maximum);
  std::string location = host.runtime_sysctl_source() + "/" + proc_path;
  return PlannedChange{std::string(info.id), runtime_subject(policy.dotted_key),
                       "write " + target + " to " + location + " (now " + *current +
                           "); the running kernel uses it at once",
                       SysctlWrite{proc_path, *current, target}};
}

// procps reads /etc/sysctl.conf after every sysctl.d file: a key set there
// cannot be outranked, and that file is not ours to edit.
std::vector<std::string> unfixable_boot_keys(const BootConfiguration& configuration,
                                             const std::vector<std::string>& keys) {
  std::vector<std::string> reasons;
  if (configuration.tool.tool != SysctlTool::procps) return reasons;
  for (const std::string& key : keys) {
    BootKeyResolution resolution = resolve_boot_key(configuration, key);
    if (resolution.winner && resolution.winner->file_name.empty()) {
      reasons.push_back(resolution.winner->file + ":" + std::to_string(resolution.winner->line) +
                        " sets " + key + " = " + resolution.winner->value);
    }
  }
  return reasons;
}

std::vector<SysctlSetting> drop_in_settings(const std::vector<SysctlKeyPolicy>& policies,
                                            const std::vector<std::string>& boot_keys,
                                            const DropInChoice& choice) {
  std::vector<SysctlSetting> settings;
  for (const SysctlKeyPolicy& policy : policies) {
    std::string key(policy.dotted_key);
    auto owned = std::find_if(choice.owned_settings.begin(), choice.owned_settings.end(),
                              [&](const SysctlSetting& each) { return each.first == key; });
    if (std::find(boot_keys.begin(), boot_keys.end(), key) != boot_keys.end()) {
      settings.emplace_back(key, policy.maximum);
    } else if (owned != choice.owned_settings.end()) {
      settings.emplace_back(key, std::min(owned->second, policy.maximum));
    }
  }
  for (const SysctlSetting& owned : choice.owned_settings) {
    if (find_policy(policies, owned.first) == nullptr) settings.push_back(owned);
  }
  return settings;
}

std::string drop_in_summary(const DropInChoice& choice, const std::vector<SysctlSetting>& settings,
                            const BootConfiguration& configuration) {
  std::vector<std::string> written;
  for (const auto& [key, value] : settings) written.push_back(key + " = " + std::to_string(value));
  std::string summary = std::string(choice.exists ? "update " : "create ") + choice.path +
                        " (owned by qharden): " + join(written, ", ") + "; ";
  std::vector<std::string> outranked;
  for (const BootAssignment& other : choice.outranks) {
    outranked.push_back(other.file + ":" + std::to_string(other.line) + " (" + other.value + ")");
  }
  if (outranked.empty()) {
    summary += "no other sysctl file sets these keys";
  } else {
    summary += "its name sorts after " + join(outranked, ", ") + ", so " +
               std::string(to_string(configuration.tool.tool)) + " reads it later and it wins";
  }
  return summary + "; it applies at the next boot";
}

}  // namespace

Expected<std::vector<PlannedChange>> SysctlRule::plan(AuditContext& context,
                                                      const std::vector<Finding>& failing) const {
  std::vector<SysctlKeyPolicy> policies = spec_.policies(context.config);
  std::vector<PlannedChange> changes;
  std::vector<std::string> boot_keys;
  for (const Finding& finding : failing) {
    if (finding.rule != spec_.info.id || finding.status != Status::fail) continue;
    if (!finding.evidence.contains("key") || !finding.evidence["key"].is_string()) continue;
    std::string key = finding.evidence["key"].get<std::string>();
    const SysctlKeyPolicy* policy = find_policy(policies, key);
    if (policy == nullptr) continue;
    if (finding.subject != runtime_subject(key)) {
      if (std::find(boot_keys.begin(), boot_keys.end(), key) == boot_keys.end()) {
        boot_keys.push_back(key);
      }
      continue;
    }
    if (context.offline && runtime_sysctl_is_live(context.host)) continue;
    Expected<PlannedChange> change = runtime_change(spec_.info, context.host, *policy);
    if (!change) return Unexpected(change.error());
    changes.push_back(std::move(*change));
  }
  if (boot_keys.empty()) return changes;

  BootConfiguration configuration = load_boot_configuration(context.host);
  std::vector<std::string> unfixable = unfixable_boot_keys(configuration, boot_keys);
  if (!unfixable.empty()) {
    return fail_with(join(unfixable, "; ") +
                     ", and procps `sysctl --system` reads /etc/sysctl.conf after every "
                     "sysctl.d file, so no drop-in can outrank it. qharden does not edit files "
                     "it does not own: lower or remove the setting there yourself.");
  }
  // Said by plan, not discovered by apply: qharden creates files, never
  // folders, so a host without the folder gets the whole rule refused.
  Expected<FileStatus> folder = context.host.status(std::string(kDropInDirectory), true);
  if (!folder || folder->kind != FileKind::directory) {
    return fail_with(std::string(kDropInDirectory) +
                     " does not exist (or is not a folder), so the boot-time drop-in cannot be "
                     "written and the rule is not applied; create it (mkdir -m 755 " +
                     std::string(kDropInDirectory) + ") and run apply again");
  }
  Expected<DropInChoice> choice =
      choose_drop_in(context.host, configuration, spec_.drop_in_stem, boot_keys);
  if (!choice) return Unexpected(choice.error());
  std::vector<SysctlSetting> settings = drop_in_settings(policies, boot_keys, *choice);
  std::string after = render_drop_in(spec_.info.id, settings);
  if (choice->exists && after == choice->current_content) return changes;
  changes.push_back(PlannedChange{
      std::string(spec_.info.id), choice->path, drop_in_summary(*choice, settings, configuration),
      FileReplacement{choice->path, choice->current_content, after, !choice->exists}});
  return changes;
}

}  // namespace qharden
