#include "engine/reload.h"

#include <signal.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "config/config.h"
#include "host/command.h"
#include "host/host.h"

namespace qharden {
namespace {

std::string process_name(pid_t pid) {
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

bool systemd_is_init() {
  return ::access("/run/systemd/system", F_OK) == 0;
}

// Asked of systemd over the bus rather than by starting `systemctl
// is-active`: the agent's fixer asks on every re-apply, and a process start
// is most of its time where the daemon does not run at all.
bool unit_is_active(const std::string& daemon) {
  sd_bus* bus = nullptr;
  if (sd_bus_open_system(&bus) < 0) return false;
  sd_bus_error error{};
  sd_bus_message* reply = nullptr;
  bool active = false;
  const char* unit_path = nullptr;
  std::string unit = daemon + ".service";
  if (sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                         "org.freedesktop.systemd1.Manager", "GetUnit", &error, &reply, "s",
                         unit.c_str()) >= 0 &&
      sd_bus_message_read(reply, "o", &unit_path) >= 0) {
    char* state = nullptr;
    sd_bus_error property_error{};
    if (sd_bus_get_property_string(bus, "org.freedesktop.systemd1", unit_path,
                                   "org.freedesktop.systemd1.Unit", "ActiveState", &property_error,
                                   &state) >= 0) {
      active = std::strcmp(state, "active") == 0 || std::strcmp(state, "reloading") == 0;
      std::free(state);
    }
    sd_bus_error_free(&property_error);
  }
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  sd_bus_flush_close_unref(bus);
  return active;
}

}  // namespace

ReloadOutcome reload_daemon(const Host& host, const std::string& daemon,
                            const std::string& pidfile_host_path) {
  ReloadOutcome outcome{daemon, false, ""};
  std::string shown_pidfile = path_under_root(host.root(), pidfile_host_path);
  Expected<std::string> pid_text = host.read_file(pidfile_host_path);
  if (pid_text) {
    long pid = std::strtol(pid_text->c_str(), nullptr, 10);
    if (pid > 1) {
      std::string name = process_name(static_cast<pid_t>(pid));
      // openbsd-inetd's process is "inetd"; a stale pidfile may name any process.
      if (name == daemon ||
          (daemon == "inetd" && name.find("inetd") != std::string::npos && name != "xinetd")) {
        if (::kill(static_cast<pid_t>(pid), SIGHUP) == 0) {
          outcome.message = daemon + " (pid " + std::to_string(pid) + ") reloaded with SIGHUP";
        } else {
          outcome.failed = true;
          outcome.message = daemon + " (pid " + std::to_string(pid) +
                            "): SIGHUP failed: " + std::strerror(errno) +
                            "; the file change stands, reload it by hand";
        }
        return outcome;
      }
    }
  }
  if (host.root() == "/" && systemd_is_init()) {
    if (unit_is_active(daemon)) {
      Expected<CommandResult> reloaded = run_command({"systemctl", "reload", daemon});
      if (reloaded) {
        outcome.message = daemon + " reloaded with `systemctl reload " + daemon + "`";
      } else {
        outcome.failed = true;
        outcome.message = reloaded.error().message + "; the file change stands, reload it by hand";
      }
      return outcome;
    }
  }
  outcome.message = daemon + " is not running (no live process behind " + shown_pidfile +
                    "); no reload needed, the change applies when it starts";
  return outcome;
}

ReloadOutcome reload_systemd_units(const Host& host) {
  ReloadOutcome outcome{"systemd", false, ""};
  if (host.root() != "/") {
    outcome.message =
        "systemd: daemon-reload not requested under --root " + host.root() +
        ": the system bus is the live host's; run `systemctl daemon-reload` in that system";
    return outcome;
  }
  if (!systemd_is_init()) {
    outcome.message =
        "systemd: not running here (no /run/systemd/system), so no daemon-reload; the drop-in "
        "takes effect when systemd starts";
    return outcome;
  }
  sd_bus* bus = nullptr;
  int opened = sd_bus_open_system(&bus);
  if (opened < 0) {
    outcome.failed = true;
    outcome.message = std::string("systemd: cannot reach the system bus (") +
                      std::strerror(-opened) +
                      "); the drop-in stands: run `systemctl daemon-reload`";
    return outcome;
  }
  // As long as systemctl waits for it (180 s): a reload of a host with many
  // units can take longer than sd-bus's 25 s.
  sd_bus_set_method_call_timeout(bus, 180ULL * 1000 * 1000);
  sd_bus_error error{};
  sd_bus_message* reply = nullptr;
  int called = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                  "org.freedesktop.systemd1.Manager", "Reload", &error, &reply, "");
  if (called < 0) {
    outcome.failed = true;
    outcome.message = std::string("systemd: daemon-reload failed: ") +
                      (error.message != nullptr ? error.message : std::strerror(-called)) +
                      "; the drop-in stands: run `systemctl daemon-reload`";
  } else {
    outcome.message =
        "systemd: daemon-reload done (org.freedesktop.systemd1.Manager.Reload over the system bus)";
  }
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  sd_bus_flush_close_unref(bus);
  return outcome;
}

ReloadOutcome reload_by_name(const Host& host, const Config& config, const std::string& daemon) {
  if (daemon == "systemd") return reload_systemd_units(host);
  const std::string& pidfile =
      daemon == "xinetd" ? config.paths.xinetd_pidfile : config.paths.inetd_pidfile;
  return reload_daemon(host, daemon, pidfile);
}

}  // namespace qharden
