// Every command line that a super-server or supervisor on this host runs:
// xinetd services, inetd.conf lines, daemontools/runit run scripts and the
// services behind systemd Accept=yes sockets. Parsed once per audit and shared
// by tcp-env.flags, tcpserver.flags, rblsmtpd.sources and smtp.greeting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qharden {

class Host;
struct Config;

// systemd: the ExecStart= of the service behind a *.socket unit with Accept=yes.
// qharden judges these but never edits them: a fix belongs in a drop-in.
enum class LaunchSource { xinetd, inetd, run_script, systemd };

// Where a word of argv sits in its file, so a fix can change exactly those bytes.
// 16 bytes: argv has one per word, and a file may hold 100,000 services. A
// word is shorter than any file qharden reads (the 16 MiB cap).
struct WordLocation {
  std::size_t offset = 0;  // byte offset in the file
  std::uint32_t length = 0;
  int line = 0;  // 1-based

  bool operator==(const WordLocation&) const = default;
};

// A setting that limits how many connections a listener takes before it
// refuses, defers or switches the service off (listener.burst-limits). Kept as
// written, with where it came from, so a finding can name it and a fix can edit
// exactly its words; the rule reads the numbers.
struct BurstLimitSetting {
  // xinetd "cps"/"instances"/"per_source"; inetd "wait"; systemd "MaxConnections",
  // "MaxConnectionsPerSource", "TriggerLimitIntervalSec", "TriggerLimitBurst"
  std::string name;
  std::vector<std::string> words;  // as written; the built-in value when from == "built-in"
  // "service" (its own line or field; systemd: the socket unit file),
  // "defaults", "drop-in" (systemd), "built-in"
  std::string from;
  std::string file;  // where it is written; empty for the built-in default
  int line = 0;
  std::vector<WordLocation> locations;  // of each word, when written

  bool operator==(const BurstLimitSetting&) const = default;
};

// A service's burst-limit settings, read like a const vector. Most xinetd
// services inherit all three from `defaults` or the built-in values, so
// services with equal settings share one copy: about 700 bytes per service
// otherwise, the largest part of a 100,000-service inventory (issue 15: audit
// memory). Changed only by copying first.
class BurstLimitSettings {
 public:
  using const_iterator = std::vector<BurstLimitSetting>::const_iterator;

  BurstLimitSettings() = default;
  BurstLimitSettings(std::vector<BurstLimitSetting> settings);  // NOLINT: reads as a vector
  BurstLimitSettings& operator=(std::vector<BurstLimitSetting> settings);

  const_iterator begin() const { return values().begin(); }
  const_iterator end() const { return values().end(); }
  std::size_t size() const { return values().size(); }
  bool empty() const { return values().empty(); }
  const BurstLimitSetting& operator[](std::size_t index) const { return values()[index]; }
  const BurstLimitSetting& front() const { return values().front(); }
  const BurstLimitSetting& back() const { return values().back(); }
  const std::vector<BurstLimitSetting>& values() const;

  void push_back(BurstLimitSetting setting);
  // Takes `other`'s copy when the settings are equal; true when it did.
  bool share_if_equal(const BurstLimitSettings& other);
  // Whether two services hold the very same copy (for tests of the sharing).
  bool shares_with(const BurstLimitSettings& other) const {
    return settings_ != nullptr && settings_ == other.settings_;
  }

 private:
  std::shared_ptr<const std::vector<BurstLimitSetting>> settings_;
};

// Holds a T that most owners leave as built: an empty one is not stored, so
// each owner pays one pointer for it. Reading an unset one gives the default
// T; writing stores one. Copies are deep, as if it were a plain T member.
template <typename T>
class RarelySet {
 public:
  RarelySet() = default;
  RarelySet(const RarelySet& other)
      : value_(other.value_ ? std::make_unique<T>(*other.value_) : nullptr) {}
  RarelySet(RarelySet&&) noexcept = default;
  RarelySet& operator=(const RarelySet& other) {
    if (this != &other) value_ = other.value_ ? std::make_unique<T>(*other.value_) : nullptr;
    return *this;
  }
  RarelySet& operator=(RarelySet&&) noexcept = default;
  ~RarelySet() = default;

  const T* operator->() const { return value_ ? value_.get() : &unset(); }
  const T& operator*() const { return *operator->(); }
  T* operator->() { return &stored(); }
  T& operator*() { return stored(); }
  bool is_set() const { return value_ != nullptr; }

 private:
  static const T& unset() {
    static const T empty{};
    return empty;
  }
  T& stored() {
    if (!value_) value_ = std::make_unique<T>();
    return *value_;
  }

  std::unique_ptr<T> value_;
};

struct ServiceCommand;

// What few commands have: kept behind one pointer (ServiceCommand::details),
// because at 100,000 xinetd services these empty fields cost about 200 bytes
// each, a third of the audit's memory (issue 15).
struct ServiceCommandDetails {
  std::string disabled_reason;  // when !enabled: "disable = yes", "flags = DISABLE", ...
  std::map<std::string, std::string> environment;  // xinetd env, run-script exports and envdirs
  // xinetd only: the attributes whose effective value holds USERID, so xinetd
  // itself does an ident lookup ("log_on_success", "log_on_failure").
  std::vector<std::string> xinetd_ident_attributes;
  // xinetd only: the same attributes when the service has no log_type, so
  // xinetd logs nothing and does no lookup yet: a log_type added later (for
  // fail2ban, say) would start one.
  std::vector<std::string> xinetd_latent_ident_attributes;
  // xinetd only: the effective `passenv` names (defaults, then the service's
  // =, += and -=): variables of xinetd's own environment the server gets.
  std::vector<std::string> passenv;
  // Run scripts only: the wrappers unwrapped before argv[0], outermost first
  // ("softlimit", "envdir", "chpst"); the supervisor the path and the host
  // point to ("daemontools", "runit", or "" when they do not tell).
  std::vector<std::string> wrappers;
  std::string supervisor;
  // Run scripts only: the PATH argv[0] is looked up in, when the script sets
  // one. envdir and chpst -e search with the PATH they were started with,
  // not the one they read, so an innermost envdir's PATH does not count.
  std::optional<std::string> search_path;
  // systemd: how many ExecStart= are in effect. Type=oneshot may have several,
  // run in order; argv is the last, and a drop-in that gives one line again
  // would drop the others.
  int exec_start_count = 1;
  // systemd: when the effective ExecStart= is qharden's tcp-env drop-in, the
  // command the unit runs without it (what the drop-in copied, or what a
  // package upgrade has put there since). An empty argv means it cannot be
  // compared (no line, several, or one that does not parse), and its
  // disabled_reason says why.
  std::shared_ptr<const ServiceCommand> under_qharden_drop_in;
};

struct ServiceCommand {
  // Fields ordered for packing: there may be 100,000 of these (issue 15).
  LaunchSource source = LaunchSource::xinetd;
  int line = 0;         // 1-based line of the service (xinetd: `service`; inetd: the line)
  std::string file;     // host path of the file that holds the command line
  std::string service;  // xinetd: id (name unless `id` is set); inetd: the service field as written
  // "/etc/xinetd.d/smtp_psa:smtp", "/etc/inetd.conf:smtp", the run script, or
  // systemd's service unit file as found ("/usr/lib/systemd/system/qmail-smtpd@.service");
  // systemd: `file` is the unit or drop-in that holds the effective ExecStart=,
  // `line` its line, `service` the socket unit's name ("qmail-smtpd.socket").
  // Run scripts: `service` is the service directory's name ("qmail-smtpd").
  std::string subject;
  // As executed: argv[0] is the program path (xinetd's server, inetd's server
  // path with tcpd unwrapped to its argv[0]), then the arguments. tcpserver
  // run scripts: the resolved program chain includes tcpserver's own
  // arguments (host, port), then the chained programs.
  std::vector<std::string> argv;
  // Same size as argv; nullopt for a word not written in the file (xinetd's
  // server path when it comes from `server =`, is located separately).
  std::vector<std::optional<WordLocation>> locations;
  // xinetd: where the `server =` value sits; inetd: the server field. Unset for
  // run scripts and internal services.
  std::optional<WordLocation> server_location;
  // xinetd, inetd and systemd (the first ListenStream= port): the port the
  // service listens on, when known.
  std::optional<int> port;
  // xinetd: effective cps, instances, per_source; inetd: the wait/nowait[.max]
  // field; systemd: the socket's MaxConnections, MaxConnectionsPerSource,
  // TriggerLimitIntervalSec and TriggerLimitBurst. tcpserver's -c is read
  // from argv by the rule.
  BurstLimitSettings burst_limits;
  RarelySet<ServiceCommandDetails> details;
  bool enabled = true;  // when false, details->disabled_reason says why
};

// The name of qharden's drop-in for tcp-env.flags (systemd_drop_in.h builds
// every such name; the inventory needs this one to see its own copy).
inline constexpr std::string_view kQhardenTcpEnvDropIn = "zz-qharden-tcp-env.flags.conf";

// A file that could not be parsed, or parsed with an error, is reported with its
// line; the rest of the inventory is still collected.
struct InventoryProblem {
  LaunchSource source = LaunchSource::xinetd;
  std::string file;
  int line = 0;  // 0 when the whole file is at fault
  std::string message;
};

// Whether a problem keeps a rule from judging a service it should judge (an
// error), or only says why a unit runs nothing (a skip). A systemd unit that
// systemd refuses or cannot start serves no connection, and a host has many
// socket units that have nothing to do with mail: one broken unit must not
// turn every audit into an error. An xinetd or inetd problem is an error.
bool problem_blocks_checks(const InventoryProblem& problem);

struct ServiceInventory {
  std::vector<ServiceCommand> commands;
  std::vector<InventoryProblem> problems;
  bool xinetd_present = false;                // xinetd_conf exists
  bool inetd_present = false;                 // inetd_conf exists
  bool xinetd_serves_inetd_conf = false;      // Debian's INETD_COMPAT=Yes in /etc/default/xinetd
  std::vector<std::string> run_scripts_seen;  // paths matched by paths.run_scripts
  bool systemd_accept_sockets = false;        // a *.socket unit with Accept=yes was read
  std::vector<std::string> files_read;        // every file parsed, for the agent's watch list
};

ServiceInventory collect_service_inventory(const Host& host, const Config& config);

// The parts, each in its own file.
void collect_xinetd_services(const Host& host, const Config& config, ServiceInventory& inventory);
void collect_inetd_services(const Host& host, const Config& config, ServiceInventory& inventory);
void collect_run_scripts(const Host& host, const Config& config, ServiceInventory& inventory);
void collect_systemd_units(const Host& host, const Config& config, ServiceInventory& inventory);

// The index of the word that runs `program` (compared by basename), if any.
std::optional<std::size_t> find_program_word(const std::vector<std::string>& argv,
                                             std::string_view program);

std::string_view to_string(LaunchSource source);

}  // namespace qharden
