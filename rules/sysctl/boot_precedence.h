// Which file sets a sysctl at boot, decided the way the host's sysctl tool
// decides it, read through the Host so it works under --root.
//
// systemd-sysctl: *.conf in /etc/sysctl.d, /run/sysctl.d,
// /usr/local/lib/sysctl.d, /usr/lib/sysctl.d (and /lib/sysctl.d when /lib is a
// real folder, as on split-/usr systems). One name is claimed by the first
// folder that has it; a link to /dev/null claims it and reads as empty, so it
// masks. The claimed files are read sorted by name; the last assignment wins.
// /etc/sysctl.conf is read only through Debian's 99-sysctl.conf link.
//
// procps `sysctl --system`: the same folders with /lib/sysctl.d always, the
// same name claiming, then /etc/sysctl.conf last of all.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "host/host.h"
#include "parsers/sysctl_conf.h"

namespace qharden {

enum class SysctlTool { systemd_sysctl, procps };

// "systemd-sysctl" or "procps", as in the findings' evidence.
std::string_view to_string(SysctlTool tool);

struct SysctlToolChoice {
  SysctlTool tool = SysctlTool::procps;
  std::string reason;  // what in the tree decided it, for explain and evidence
};

// systemd is init when /run/systemd/system is a folder (sd_booted()), or, for
// a --root tree that is not booted, when /sbin/init is a link to .../systemd.
// On the live host only the first counts.
SysctlToolChoice detect_sysctl_tool(const Host& host);

// One file in the order the tool reads it.
struct SysctlReadFile {
  std::string listed_path;  // "/etc/sysctl.d/99-sysctl.conf", even when it is a link
  std::string file_name;    // "99-sysctl.conf"; "" for /etc/sysctl.conf under procps
  bool masked = false;      // a link to /dev/null
  std::optional<std::string> read_error;
  SysctlConfFile parsed;
};

// A file that holds a name but is never read: a later folder's same-named file.
struct SysctlShadowedFile {
  std::string path;
  std::string shadowed_by;
  SysctlConfFile parsed;  // what it would have set, to tell the operator
};

struct BootConfiguration {
  SysctlToolChoice tool;
  std::vector<SysctlReadFile> files;  // in reading order
  std::vector<SysctlShadowedFile> shadowed;
  // systemd only: /etc/sysctl.conf exists but no link in sysctl.d reads it.
  std::optional<SysctlConfFile> unread_sysctl_conf;
};

BootConfiguration load_boot_configuration(const Host& host, const SysctlToolChoice& tool);
BootConfiguration load_boot_configuration(const Host& host);

struct BootAssignment {
  std::string file;  // listed path
  std::string file_name;
  int line = 0;
  std::string value;
};

// Where one key's boot-time value comes from.
struct BootKeyResolution {
  std::string key;
  std::optional<BootAssignment> winner;      // none: the kernel default stays
  std::vector<BootAssignment> overridden;    // read earlier and overwritten
  std::vector<SysctlShadowedFile> shadowed;  // set it, but never read (masked or same name)
  std::vector<std::string> ignored_lines;    // malformed lines that name the key
  std::vector<std::string> unread_lines;     // /etc/sysctl.conf lines systemd never reads
  // A file read after the winner (or anywhere, with no winner) could not be
  // read, so the winner is uncertain.
  std::optional<std::string> uncertain_because;
};

BootKeyResolution resolve_boot_key(const BootConfiguration& configuration,
                                   std::string_view dotted_key);

// The folders the tool searches, first folder first.
std::vector<std::string> sysctl_directories(const Host& host, SysctlTool tool);

}  // namespace qharden
