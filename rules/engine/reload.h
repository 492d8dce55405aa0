#pragma once

#include <map>
#include <string>
#include <vector>

namespace qharden {

class Host;
struct Config;

struct ReloadOutcome {
  std::string daemon;
  bool failed = false;
  std::string message;
  // systemd only: rule -> why systemd's view after the reload is not what the
  // rule's drop-in should have made it (see DropInExpectation).
  std::map<std::string, std::string> rules_not_loaded;
};

// A drop-in of qharden's, written (present) or removed (!present), that
// systemd must show in the unit's DropInPaths after its reload, or no longer
// show. A file systemd does not read (paths.systemd_unit_dirs names a folder
// systemd does not search, or the folder is a link systemd does not follow)
// would otherwise pass every file-based check and change nothing.
struct DropInExpectation {
  std::string rule;
  std::string path;  // host path: <unit dir>/<unit>.d/<name>.conf
  bool present = true;
};

// Sends SIGHUP to the daemon named by its pidfile (read under the host's
// root), after checking that the pid really is that daemon; falls back to
// `systemctl reload` on a live systemd host, then, on the live root, to the
// one process of that name in this network namespace (several: none is
// signalled, and the reload fails). A daemon that is not running needs no
// reload, and the message says so.
ReloadOutcome reload_daemon(const Host& host, const std::string& daemon,
                            const std::string& pidfile_host_path);

// Asks systemd to load its unit files again
// (org.freedesktop.systemd1.Manager.Reload, what `systemctl daemon-reload`
// sends), so that a drop-in qharden wrote or removed takes effect. Never under
// --root, where the system bus is the live host's and not the tree's; nor
// where systemd is not pid 1. The message says which, and what to run instead.
// After the reload, each expectation is checked against the unit's
// DropInPaths (a template's through an instance name, which loads nothing
// that runs). A disagreement lands in rules_not_loaded; a unit systemd cannot
// load or a property it does not answer is only said in the message.
ReloadOutcome reload_systemd_units(const Host& host,
                                   const std::vector<DropInExpectation>& expectations = {});

// The reload by the name a journal records: "xinetd" and "inetd" through
// their pidfiles, "systemd" through reload_systemd_units.
ReloadOutcome reload_by_name(const Host& host, const Config& config, const std::string& daemon,
                             const std::vector<DropInExpectation>& expectations = {});

}  // namespace qharden
