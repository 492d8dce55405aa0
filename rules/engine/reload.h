#pragma once

#include <string>

namespace qharden {

class Host;
struct Config;

struct ReloadOutcome {
  std::string daemon;
  bool failed = false;
  std::string message;
};

// Sends SIGHUP to the daemon named by its pidfile (read under the host's
// root), after checking that the pid really is that daemon; falls back to
// `systemctl reload` on a live systemd host. A daemon that is not running needs
// no reload, and the message says so.
ReloadOutcome reload_daemon(const Host& host, const std::string& daemon,
                            const std::string& pidfile_host_path);

// Asks systemd to load its unit files again
// (org.freedesktop.systemd1.Manager.Reload, what `systemctl daemon-reload`
// sends), so that a drop-in qharden wrote or removed takes effect. Never under
// --root, where the system bus is the live host's and not the tree's; nor
// where systemd is not pid 1. The message says which, and what to run instead.
ReloadOutcome reload_systemd_units(const Host& host);

// The reload by the name a journal records: "xinetd" and "inetd" through
// their pidfiles, "systemd" through reload_systemd_units.
ReloadOutcome reload_by_name(const Host& host, const Config& config, const std::string& daemon);

}  // namespace qharden
