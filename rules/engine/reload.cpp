#include "engine/reload.h"

#include <signal.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <vector>

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

// openbsd-inetd's process is "inetd"; xinetd is not an inetd here.
bool is_daemon_process(const std::string& name, const std::string& daemon) {
  return name == daemon ||
         (daemon == "inetd" && name.find("inetd") != std::string::npos && name != "xinetd");
}

bool same_network_namespace(pid_t pid) {
  struct stat own {};
  struct stat theirs {};
  if (::stat("/proc/self/ns/net", &own) != 0) return false;
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  if (::stat(path.c_str(), &theirs) != 0) return false;
  return own.st_dev == theirs.st_dev && own.st_ino == theirs.st_ino;
}

// Only the daemons' own names: SIGHUP ends a process that does not handle it,
// so the scan of /proc never takes a look-alike ("rinetd", "check-inetd").
bool is_daemon_name(const std::string& name, const std::string& daemon) {
  if (daemon == "inetd") return name == "inetd" || name == "inetutils-inetd";
  return name == daemon;
}

struct ProcessStatus {
  char state = '?';
  pid_t parent = 0;
};

// /proc/PID/stat: "pid (comm) state ppid ...", comm may hold blanks and parentheses.
ProcessStatus process_status(pid_t pid) {
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat_file, line);
  ProcessStatus status;
  std::size_t close = line.rfind(')');
  if (close == std::string::npos || close + 4 > line.size()) return status;
  status.state = line[close + 2];
  status.parent = static_cast<pid_t>(std::strtol(line.c_str() + close + 4, nullptr, 10));
  return status;
}

// The daemon's processes in this network namespace, found by name when the
// pidfile names none: its listeners are the ones qharden audits here, and a
// daemon of another namespace (a container's) is not this host's to signal.
// xinetd and inetd fork a child per connection that keeps their name until
// it execs the server (for the whole connection with an internal service, a
// redirect or xinetd's own ident lookup): a match whose parent matches too is
// such a child, not another daemon. Zombies are left out.
std::vector<pid_t> daemon_processes_here(const std::string& daemon) {
  std::map<pid_t, pid_t> parent_of;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return {};
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long number = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || number < 1) continue;
    auto pid = static_cast<pid_t>(number);
    if (!is_daemon_name(process_name(pid), daemon) || !same_network_namespace(pid)) continue;
    ProcessStatus status = process_status(pid);
    if (status.state == 'Z') continue;
    parent_of[pid] = status.parent;
  }
  ::closedir(proc);
  std::vector<pid_t> found;
  for (const auto& [pid, parent] : parent_of) {
    if (parent_of.count(parent) == 0) found.push_back(pid);
  }
  return found;
}

ReloadOutcome signal_daemon(const std::string& daemon, pid_t pid, const std::string& how_found) {
  ReloadOutcome outcome{daemon, false, "", {}};
  std::string named = daemon + " (pid " + std::to_string(pid) + how_found + ")";
  if (::kill(pid, SIGHUP) == 0) {
    outcome.message = named + " reloaded with SIGHUP";
  } else {
    outcome.failed = true;
    outcome.message = named + ": SIGHUP failed: " + std::strerror(errno) +
                      "; the file change stands, reload it by hand";
  }
  return outcome;
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

// The unit whose drop-in folder holds `path`; a template ("x@.service") is
// asked about through an instance of it, since systemd loads no template.
std::string unit_to_ask(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "";
  std::size_t folder_start = path.rfind('/', slash - 1);
  std::string folder = path.substr(folder_start + 1, slash - folder_start - 1);
  if (folder.size() < 3 || folder.substr(folder.size() - 2) != ".d") return "";
  std::string unit = folder.substr(0, folder.size() - 2);
  std::size_t at = unit.find("@.");
  if (at != std::string::npos) unit.insert(at + 1, "qharden-check");
  return unit;
}

struct DropInCheck {
  bool answered = true;  // false: systemd could not be asked, so nothing is known
  std::string problem;   // empty when DropInPaths agree with the expectation
};

// What systemd's DropInPaths for the unit show against the expectation. Not
// being able to ask is not a disagreement: the reload itself succeeded, and a
// good fix must not be rolled back because a property read failed.
DropInCheck check_drop_in(sd_bus* bus, const DropInExpectation& expected) {
  std::string unit = unit_to_ask(expected.path);
  if (unit.empty()) return {};
  sd_bus_error error{};
  sd_bus_message* reply = nullptr;
  const char* object = nullptr;
  std::string problem;
  bool answered = true;
  if (sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                         "org.freedesktop.systemd1.Manager", "LoadUnit", &error, &reply, "s",
                         unit.c_str()) < 0 ||
      sd_bus_message_read(reply, "o", &object) < 0) {
    answered = false;
    problem = "systemd cannot load " + unit + " to confirm " + expected.path + ": " +
              (error.message != nullptr ? error.message : "no reply");
  } else {
    char** paths = nullptr;
    sd_bus_error property_error{};
    if (sd_bus_get_property_strv(bus, "org.freedesktop.systemd1", object,
                                 "org.freedesktop.systemd1.Unit", "DropInPaths", &property_error,
                                 &paths) < 0) {
      answered = false;
      problem = "systemd does not say which drop-ins " + unit + " has: " +
                (property_error.message != nullptr ? property_error.message : "no reply");
    } else {
      bool listed = false;
      std::string shown;
      for (char** each = paths; each != nullptr && *each != nullptr; ++each) {
        if (expected.path == *each) listed = true;
        shown += (shown.empty() ? "" : ", ") + std::string(*each);
        std::free(*each);
      }
      std::free(paths);
      if (listed != expected.present) {
        problem =
            expected.present
                ? "systemd did not load " + expected.path + " for " + unit +
                      " after daemon-reload (its drop-ins: " + (shown.empty() ? "none" : shown) +
                      "); is that folder in systemd's unit search path?"
                : "systemd still applies " + expected.path + " to " + unit + " after daemon-reload";
      }
    }
    sd_bus_error_free(&property_error);
  }
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  return {answered, problem};
}

}  // namespace

ReloadOutcome reload_daemon(const Host& host, const std::string& daemon,
                            const std::string& pidfile_host_path) {
  ReloadOutcome outcome{daemon, false, "", {}};
  std::string shown_pidfile = path_under_root(host.root(), pidfile_host_path);
  Expected<std::string> pid_text = host.read_file(pidfile_host_path);
  if (pid_text) {
    long pid = std::strtol(pid_text->c_str(), nullptr, 10);
    // A stale pidfile may name any process.
    // pid 1 too: a container's xinetd -dontfork; the name check keeps init out.
    if (pid >= 1 && is_daemon_process(process_name(static_cast<pid_t>(pid)), daemon)) {
      return signal_daemon(daemon, static_cast<pid_t>(pid), "");
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
  if (host.root() == "/") {
    std::vector<pid_t> running = daemon_processes_here(daemon);
    if (running.size() == 1) {
      return signal_daemon(daemon, running.front(),
                           ", found by name: " + shown_pidfile + " names no live " + daemon);
    }
    if (running.size() > 1) {
      std::string pids;
      for (pid_t pid : running) pids += (pids.empty() ? "" : ", ") + std::to_string(pid);
      outcome.failed = true;
      outcome.message = daemon + ": " + shown_pidfile + " names no live " + daemon + ", and " +
                        std::to_string(running.size()) + " run in this network namespace (pids " +
                        pids + "); none was signalled. The file change stands: reload the one " +
                        "that reads it by hand, and set paths." + daemon + "_pidfile";
      return outcome;
    }
  }
  outcome.message = daemon + " is not running (no live process behind " + shown_pidfile +
                    (host.root() == "/" ? " nor any named " + daemon + " in this network namespace"
                                        : std::string()) +
                    "); no reload needed, the change applies when it starts";
  return outcome;
}

ReloadOutcome reload_systemd_units(const Host& host,
                                   const std::vector<DropInExpectation>& expectations) {
  ReloadOutcome outcome{"systemd", false, "", {}};
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
    std::size_t confirmed = 0;
    for (const DropInExpectation& expected : expectations) {
      DropInCheck check = check_drop_in(bus, expected);
      if (check.problem.empty()) {
        ++confirmed;
        continue;
      }
      if (!check.answered) {
        outcome.message += std::string(expected.present ? "; not confirmed, the drop-in is kept: "
                                                        : "; the removal is not confirmed: ") +
                           check.problem;
        continue;
      }
      outcome.failed = true;
      outcome.message += "; " + check.problem;
      std::string& said = outcome.rules_not_loaded[expected.rule];
      said += (said.empty() ? "" : "; ") + check.problem;
    }
    if (confirmed > 0) {
      outcome.message += "; systemd's DropInPaths confirm " + std::to_string(confirmed) +
                         " drop-in change(s) of qharden's";
    }
  }
  sd_bus_message_unref(reply);
  sd_bus_error_free(&error);
  sd_bus_flush_close_unref(bus);
  return outcome;
}

ReloadOutcome reload_by_name(const Host& host, const Config& config, const std::string& daemon,
                             const std::vector<DropInExpectation>& expectations) {
  if (daemon == "systemd") return reload_systemd_units(host, expectations);
  const std::string& pidfile =
      daemon == "xinetd" ? config.paths.xinetd_pidfile : config.paths.inetd_pidfile;
  return reload_daemon(host, daemon, pidfile);
}

}  // namespace qharden
