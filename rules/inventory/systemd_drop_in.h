// qharden's own systemd drop-ins. A unit file is never edited: a fix goes into
// <first of paths.systemd_unit_dirs>/<unit>.d/zz-qharden-<rule>.conf, one file
// per unit and rule. systemd applies a unit's drop-ins in file-name order
// across all its folders, so the name sorts after the vendor's and the
// operator's usual ones (numbered, and lettered such as override.conf) and its
// settings win; a drop-in that still sorts after it and sets the same key makes
// the plan refuse. Rollback removes the file, and the folder when qharden
// created it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/change.h"
#include "engine/expected.h"

namespace qharden {

class Host;
struct Config;

struct DropInSetting {
  std::string key;    // "MaxConnections"
  std::string value;  // "256"
};

// "zz-qharden-<rule>.conf"
std::string qharden_drop_in_name(std::string_view rule);

std::string qharden_drop_in_path(const Config& config, const std::string& unit,
                                 std::string_view rule);

// The text of qharden's drop-in with these settings in `section`.
std::string qharden_drop_in_text(std::string_view rule, std::string_view section,
                                 const std::vector<DropInSetting>& settings);

// The change that gives `unit` these settings through qharden's drop-in for
// `rule`: the file created, or rewritten when it is there. keep_other_settings:
// the settings it holds that are not named here stay (single values, such as
// a socket's limits, so an earlier fix of the same rule stays); otherwise the
// file holds exactly `settings` (a list such as ExecStart=, whose empty first
// value resets the list). An empty value is written as `Key=`. nullopt when
// the file already says exactly this. Refused when the file is not one qharden
// would write (another section, or a line systemd rejects), when it or its
// folder is a symlink, or when a drop-in that sorts after it sets one of these
// keys (it would win). The summary ends
// with what happens next: a daemon-reload, or under --root, that none is
// requested.
Expected<std::optional<PlannedChange>> plan_qharden_drop_in(
    const Host& host, const Config& config, std::string_view rule, const std::string& unit,
    std::string_view section, const std::vector<DropInSetting>& settings, bool keep_other_settings,
    std::string summary);

}  // namespace qharden
