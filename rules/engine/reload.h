#pragma once

#include <string>

namespace qharden {

class Host;

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

}  // namespace qharden
