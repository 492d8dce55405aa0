// The /etc/sysctl.d drop-in that qharden owns for one rule. Its name must sort
// after every file that sets the rule's keys, or the boot-time fix would be
// overwritten by the very file it is meant to correct.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/expected.h"
#include "host/host.h"
#include "sysctl/boot_precedence.h"

namespace qharden {

inline constexpr std::string_view kDropInDirectory = "/etc/sysctl.d";

// "90-qharden-STEM.conf", "99-zz-qharden-STEM.conf", "zz-qharden-STEM.conf":
// tried in this order; the later ones exist only to outrank a late file such as
// Debian's 99-sysctl.conf.
std::vector<std::string> drop_in_candidates(std::string_view stem);

// Only a file that starts with our header is ours to rewrite.
bool is_owned_drop_in(std::string_view content);

using SysctlSetting = std::pair<std::string, std::int64_t>;  // dotted key, value

std::string render_drop_in(std::string_view rule_id, const std::vector<SysctlSetting>& settings);

struct DropInChoice {
  std::string path;  // "/etc/sysctl.d/90-qharden-tcp-fin-timeout.conf"
  std::string file_name;
  bool exists = false;
  std::string current_content;  // when it exists
  // Settings of every drop-in of ours for this rule, so a rename keeps them.
  std::vector<SysctlSetting> owned_settings;
  // The files, other than ours, that set one of keys_to_win; the drop-in sorts
  // after all of them.
  std::vector<BootAssignment> outranks;
};

// Picks the drop-in that wins for keys_to_win under configuration's tool. Files
// read after every sysctl.d file (procps' /etc/sysctl.conf) are the caller's
// business: no name can outrank them. Fails when every candidate name is taken
// by a file qharden does not own or would not sort last.
Expected<DropInChoice> choose_drop_in(const Host& host, const BootConfiguration& configuration,
                                      std::string_view stem,
                                      const std::vector<std::string>& keys_to_win);

}  // namespace qharden
