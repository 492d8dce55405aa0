// Whether /etc/resolv.conf belongs to a program that rewrites it. Editing such a
// file is pointless (the next lease or link change undoes it), so the rule says
// which program owns it and what to change instead, and the fix refuses.
#pragma once

#include <optional>
#include <string>

#include "parsers/resolv_conf.h"

namespace qharden {

class Host;

struct ResolvManager {
  std::string program;         // "systemd-resolved", "resolvconf", "NetworkManager", ...
  std::string how;             // how we know: "a symlink to ...", "its header says ..."
  std::string change_instead;  // where the operator changes the nameservers
};

std::optional<ResolvManager> find_resolv_manager(const Host& host, const std::string& path,
                                                 const ResolvConf* conf);

// "../run/x" seen from "/etc/resolv.conf" is "/run/x".
std::string resolve_symlink_target(const std::string& link_path, const std::string& target);

}  // namespace qharden
