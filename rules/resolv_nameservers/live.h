// resolv.nameservers' live probes: a forward and a reverse lookup on every used
// nameserver at once, and what a dead one costs each SMTP connection.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "engine/finding.h"
#include "engine/rule.h"
#include "parsers/resolv_conf.h"

namespace qharden {

struct UsedNameserver {
  std::string address;
  std::vector<std::string> used_by;
  int glibc_position = -1;  // 0-2 when glibc (tcp-env) queries it
  bool in_resolv_conf = false;
};

// One finding per nameserver, subject = its address. evidence.error is
// timeout | servfail | refused | unreachable | null.
std::vector<Finding> probe_nameservers(const RuleInfo& info,
                                       const std::vector<UsedNameserver>& used,
                                       const ResolvConf& conf, const Config& config);

// The plan's new resolv.conf: healthy servers first, the dead ones commented out
// with their reason, options timeout:/attempts: from the policy. Fails rather
// than leave no nameserver.
Expected<std::string> rewrite_resolv_conf(
    const std::string& text, const std::vector<std::pair<std::string, std::string>>& dead,
    const std::string& policy_options);

}  // namespace qharden
