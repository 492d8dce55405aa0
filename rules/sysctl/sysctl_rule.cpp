#include "sysctl/sysctl_rule.h"

#include <charconv>

#include "engine/context.h"
#include "parsers/sysctl_conf.h"
#include "sysctl/boot_precedence.h"

namespace qharden {
namespace {

using nlohmann::json;

json base_evidence(const SysctlKeyPolicy& policy, const BootConfiguration& configuration) {
  json evidence = json::object();
  evidence["key"] = std::string(policy.dotted_key);
  evidence["value"] = nullptr;
  evidence["max"] = policy.maximum;
  evidence["source"] = nullptr;
  evidence["line"] = nullptr;
  evidence["precedence"] = std::string(to_string(configuration.tool.tool));
  evidence["precedence_reason"] = configuration.tool.reason;
  evidence["overridden"] = json::array();
  return evidence;
}

std::string verdict_text(const SysctlKeyPolicy& policy, std::int64_t value) {
  if (value <= policy.maximum) return ", within the maximum of " + std::to_string(policy.maximum);
  return ", over the maximum of " + std::to_string(policy.maximum) + ": " +
         policy.consequence(value);
}

Finding runtime_finding(const RuleInfo& info, const SysctlKeyPolicy& policy, AuditContext& context,
                        const BootConfiguration& configuration) {
  std::string proc_path = sysctl_key_to_proc_path(policy.dotted_key);
  std::string subject = runtime_subject(policy.dotted_key);
  json evidence = base_evidence(policy, configuration);
  evidence["source"] = context.host.runtime_sysctl_source() + "/" + proc_path;
  if (context.offline && runtime_sysctl_is_live(context.host)) {
    Finding skipped =
        make_finding(info, subject, Status::skip, "--offline: live runtime value not read");
    skipped.evidence = std::move(evidence);
    return skipped;
  }
  Expected<std::string> raw = context.host.read_runtime_sysctl(proc_path);
  if (!raw) {
    Finding failed = make_finding(info, subject, Status::error,
                                  "cannot read the runtime value: " + raw.error().message);
    failed.evidence = std::move(evidence);
    return failed;
  }
  evidence["value"] = *raw;
  std::optional<std::int64_t> value = parse_sysctl_integer(*raw);
  if (!value) {
    Finding failed =
        make_finding(info, subject, Status::error,
                     evidence["source"].get<std::string>() + " holds '" + *raw + "', not a number");
    failed.evidence = std::move(evidence);
    return failed;
  }
  evidence["value"] = *value;
  bool passes = *value <= policy.maximum;
  Finding finding = make_finding(info, subject, passes ? Status::pass : Status::fail,
                                 std::string(policy.dotted_key) + " is " + std::to_string(*value) +
                                     " in the running kernel" + verdict_text(policy, *value));
  finding.fixable = !passes;
  finding.evidence = std::move(evidence);
  return finding;
}

std::string join(const std::vector<std::string>& items) {
  std::string joined;
  for (const std::string& item : items) joined += (joined.empty() ? "" : ", ") + item;
  return joined;
}

// What the operator would not guess from the winning file alone.
std::string boot_notes(const BootKeyResolution& resolution,
                       const BootConfiguration& configuration) {
  std::string notes;
  if (!resolution.ignored_lines.empty()) {
    notes += " Note: " + join(resolution.ignored_lines) +
             " seems meant to set it, but the line is not a valid assignment and " +
             std::string(to_string(configuration.tool.tool)) + " ignores it.";
  }
  if (!resolution.unread_lines.empty()) {
    notes += " Note: " + join(resolution.unread_lines) +
             " sets it, but systemd-sysctl never reads /etc/sysctl.conf unless a sysctl.d "
             "file links to it (Debian's 99-sysctl.conf), and none does here.";
  }
  for (const SysctlShadowedFile& shadowed : resolution.shadowed) {
    bool masked = false;
    for (const SysctlReadFile& file : configuration.files) {
      masked = masked || (file.listed_path == shadowed.shadowed_by && file.masked);
    }
    notes +=
        " Note: " + shadowed.path + " sets it but is never read: " + shadowed.shadowed_by +
        (masked ? " links to /dev/null and masks it." : " has the same name and is read instead.");
  }
  return notes;
}

Finding boot_finding(const RuleInfo& info, const SysctlKeyPolicy& policy,
                     const BootConfiguration& configuration) {
  BootKeyResolution resolution = resolve_boot_key(configuration, policy.dotted_key);
  std::string key(policy.dotted_key);
  json evidence = base_evidence(policy, configuration);
  for (const BootAssignment& earlier : resolution.overridden) {
    if (resolution.winner && earlier.file == resolution.winner->file) continue;
    if (!evidence["overridden"].empty() && evidence["overridden"].back() == earlier.file) continue;
    evidence["overridden"].push_back(earlier.file);
  }
  json shadowed = json::array();
  for (const SysctlShadowedFile& each : resolution.shadowed) shadowed.push_back(each.path);
  evidence["shadowed"] = shadowed;
  evidence["ignored_lines"] = resolution.ignored_lines;
  evidence["unread_lines"] = resolution.unread_lines;
  std::string notes = boot_notes(resolution, configuration);

  std::string subject = resolution.winner ? resolution.winner->file + ":" + key : "sysctl.d:" + key;
  if (resolution.uncertain_because) {
    Finding failed = make_finding(
        info, subject, Status::error,
        "cannot tell which file sets " + key + " at boot: " + *resolution.uncertain_because);
    failed.evidence = std::move(evidence);
    return failed;
  }
  std::int64_t value = policy.kernel_default;
  std::string where = "no sysctl file sets it, so the kernel default stays";
  if (resolution.winner) {
    const BootAssignment& winner = *resolution.winner;
    std::string location = winner.file + ":" + std::to_string(winner.line);
    evidence["source"] = winner.file;
    evidence["line"] = winner.line;
    evidence["value"] = winner.value;
    std::optional<std::int64_t> parsed = parse_sysctl_integer(winner.value);
    if (!parsed) {
      Finding failed = make_finding(info, subject, Status::error,
                                    location + " sets " + key + " = '" + winner.value +
                                        "', not a plain number, so the boot-time value is "
                                        "uncertain: the kernel rejects text, and '#' after a "
                                        "value is not a comment in sysctl files." +
                                        notes);
      failed.evidence = std::move(evidence);
      return failed;
    }
    value = *parsed;
    where = location + ", the last assignment " + std::string(to_string(configuration.tool.tool)) +
            " reads";
  } else {
    evidence["source"] = "kernel default";
  }
  evidence["value"] = value;
  bool passes = value <= policy.maximum;
  Finding finding = make_finding(info, subject, passes ? Status::pass : Status::fail,
                                 key + " is " + std::to_string(value) + " at boot (" + where + ")" +
                                     verdict_text(policy, value) + notes);
  finding.fixable = !passes;
  finding.evidence = std::move(evidence);
  return finding;
}

}  // namespace

std::string runtime_subject(std::string_view dotted_key) {
  return "/proc/sys/" + sysctl_key_to_proc_path(dotted_key);
}

bool runtime_sysctl_is_live(const Host& host) {
  return host.runtime_sysctl_source() == "/proc/sys";
}

std::optional<std::int64_t> parse_sysctl_integer(std::string_view text) {
  std::size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return std::nullopt;
  std::size_t end = text.find_last_not_of(" \t\r\n");
  std::string_view digits = text.substr(start, end - start + 1);
  std::int64_t value = 0;
  auto [rest, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || rest != digits.data() + digits.size() || digits.front() == '-') {
    return std::nullopt;
  }
  return value;
}

std::vector<Finding> SysctlRule::check(AuditContext& context) const {
  BootConfiguration configuration = load_boot_configuration(context.host);
  std::vector<Finding> findings;
  for (const SysctlKeyPolicy& policy : spec_.policies(context.config)) {
    findings.push_back(runtime_finding(spec_.info, policy, context, configuration));
    findings.push_back(boot_finding(spec_.info, policy, configuration));
  }
  return findings;
}

}  // namespace qharden
