// The agent's state and its single sd-event loop, in the manner of
// systemd-timesyncd's manager: the bus, inotify, timers, signals and the
// probes' c-ares and greeting sockets are all event sources here, and nothing
// runs in another thread.
//
// Handlers only record and queue. Audits and fixes, for timers, inotify and
// bus calls alike, run as jobs between turns of the loop, because a probe
// inside them turns the loop again while it waits (daemon/event_loop_waiter.h)
// and sd-event does not nest. Jobs run one at a time, in order, so the engine
// is never entered twice; meanwhile properties and signals, timers and the
// watchdog are still served.
#pragma once

#include <systemd/sd-event.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/TypeTraits.h>

#include "config/config.h"
#include "daemon/fixer_client.h"
#include "daemon/fixer_reader.h"
#include "daemon/reapply_limiter.h"
#include "daemon/watch.h"
#include "engine/audit.h"
#include "engine/fix.h"
#include "engine/kept_changes.h"
#include "engine/rule.h"
#include "host/host.h"
#include "journal/journal.h"

namespace qharden::agent {

class AgentObject;

struct AgentOptions {
  std::optional<std::string> config_file;
  std::string root = "/";
  std::string bus = "system";  // system | session | a D-Bus address
  // Where qharden-fixer.socket listens. Set (qhardend.service does): the agent
  // is unprivileged, and its fixes go to fixers systemd starts there, its
  // privileged reads to the reader_socket's (the fixer's socket when unset).
  // Empty: the agent starts qharden-fixer itself for each fix, and reads with
  // its own privileges.
  std::string fixer_socket;
  std::string reader_socket;
};

// Identical Audit requests within this window share one run, so a burst of
// callers (a dashboard, 100 concurrent busctl calls) costs one audit. File
// changes end the window early for the rules they affect.
inline constexpr std::chrono::milliseconds kAuditCoalesceWindow{2000};
// Plesk writes a service file in several steps; one re-audit after they settle.
inline constexpr std::chrono::milliseconds kDriftDebounce{15};

// Rules that probe DNS run after the watched files have been quiet this long.
inline constexpr std::chrono::milliseconds kSlowRuleQuiet{1000};

// The ident rule is runtime netfilter state: a reboot, `iptables -F`, a
// firewalld or nftables reload removes it and no file changes, so inotify
// never tells. It is re-asserted at start, after firewalld's Reloaded signal,
// and every agent.netfilter_check_s where firewalld does not manage netfilter.
inline constexpr std::string_view kIdentRuleId = "firewall.ident-reject";
inline constexpr const char* kFirewalldReloadedMatch =
    "type='signal',sender='org.fedoraproject.FirewallD1',"
    "interface='org.fedoraproject.FirewallD1',member='Reloaded'";

class Manager {
 public:
  explicit Manager(AgentOptions options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Loads the config and opens the root; the error names file:line:column.
  Outcome initialize();
  // Connects to the bus, reports READY=1, runs the loop until SIGTERM/SIGINT.
  // Throws sdbus::Error when the bus or the name cannot be had.
  int run();

  // Used by the bus object. Rules are already validated; caller says who
  // asked, for the fixer's log.
  std::vector<Finding> audit(const std::vector<const Rule*>& rules);
  // The last report, after an audit of every rule when there is none yet.
  std::string report_json_text();
  // A report can be written without auditing: safe from a bus handler.
  bool has_report() const { return oldest_record() != nullptr; }
  PlanResult plan(const std::vector<const Rule*>& rules, bool named);
  Expected<ApplyResult> apply(const std::vector<const Rule*>& rules, bool named,
                              const std::string& caller);
  Expected<RollbackResult> rollback(const std::string& change_id, const std::string& caller);
  bool change_exists(const std::string& change_id);
  sdbus::IConnection& connection() { return *connection_; }
  // Runs body after the current handler, outside any, in order with the rest.
  void defer(const char* what, std::function<void()> body);

  bool compliant() const { return compliant_; }
  std::uint64_t last_audit_usec() const { return last_audit_usec_; }
  const std::vector<std::string>& failing_rules() const { return failing_rules_; }
  std::uint32_t drift_events() const { return drift_events_; }
  const std::vector<KeptChange>& kept_changes() const { return kept_; }

 private:
  struct RuleRecord {
    std::vector<Finding> findings;
    std::chrono::steady_clock::time_point audited_at{};
    bool fresh = false;
    // Of the audit run that made these findings, for the report's header.
    std::uint64_t finished_usec = 0;
    std::string started_at;
    double duration_ms = 0;
  };
  // The report is as old as its oldest rule's findings: a drift check or a
  // one-rule Audit refreshes only its rules. Null until every rule has findings.
  const RuleRecord* oldest_record() const;

  // Runs the rules, records the findings, updates properties, emits
  // AuditCompleted; returns the (rule, subject) pairs that went pass -> fail.
  std::vector<std::pair<std::string, std::string>> audit_now(const std::vector<const Rule*>& rules);
  void refresh_properties();
  void handle_drift(const std::vector<std::pair<std::string, std::string>>& drifted);
  void reapply(const Rule& rule);
  // Reads the journal again; announces KeptChanges and re-arms the netfilter
  // check when what is kept has changed.
  void refresh_kept();
  void log_kept(const std::vector<KeptChange>& kept) const;
  bool keeps_rule(std::string_view rule_id) const;
  bool keeps(std::string_view rule_id, std::string_view subject) const;
  // The journal may have appeared, or its lock: watch it, then read it.
  void journal_changed();
  std::vector<std::string> files_read_;  // the last audit's, for re-arming the watches
  void after_file_change();
  void reload_config();
  void arm_periodic_audit();
  void arm_slow_audit();
  void connect_bus();
  void arm_bus();

  struct Job {
    const char* what;
    std::function<void()> body;
  };
  void run_jobs();
  bool stopping() const;

  // manager_ident.cpp
  bool ident_reassert_enabled() const;
  bool ident_managed_by_firewalld() const;
  void reassert_ident(const char* reason);
  void reassert_recorded_ident(const char* reason);
  void arm_netfilter_check();
  void subscribe_firewalld();
  static int on_netfilter_check(sd_event_source* source, std::uint64_t usec, void* userdata);
  static int on_firewalld_reloaded(sd_event_source* source, void* userdata);

  static int on_signal(sd_event_source* source, const struct signalfd_siginfo* info,
                       void* userdata);
  static int on_bus_io(sd_event_source* source, int fd, std::uint32_t revents, void* userdata);
  static int on_bus_timer(sd_event_source* source, std::uint64_t usec, void* userdata);
  static int on_bus_prepare(sd_event_source* source, void* userdata);
  static int on_inotify(sd_event_source* source, int fd, std::uint32_t revents, void* userdata);
  static int on_debounce(sd_event_source* source, std::uint64_t usec, void* userdata);
  static int on_periodic(sd_event_source* source, std::uint64_t usec, void* userdata);
  static int on_slow_audit(sd_event_source* source, std::uint64_t usec, void* userdata);
  static int on_first_audit(sd_event_source* source, void* userdata);

  AgentOptions options_;
  std::optional<RootedHost> host_;
  Config config_;
  std::string host_name_;

  sd_event* event_ = nullptr;
  sd_event_source* bus_io_ = nullptr;
  sd_event_source* bus_timer_ = nullptr;
  // sdbus-c++ 2.x only: its eventfd for work queued inside the library.
  sd_event_source* bus_event_io_ = nullptr;
  sd_event_source* inotify_io_ = nullptr;
  sd_event_source* debounce_timer_ = nullptr;
  sd_event_source* periodic_timer_ = nullptr;
  sd_event_source* slow_timer_ = nullptr;
  sd_event_source* netfilter_timer_ = nullptr;
  sd_event_source* firewalld_reloaded_ = nullptr;  // a pending re-assert after Reloaded
  std::set<std::string> slow_pending_;
  std::deque<Job> jobs_;
  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<AgentObject> object_;
  sdbus::Slot firewalld_match_;
  FolderWatcher watcher_;
  unsigned pending_topics_ = 0;
  ReapplyLimiter limiter_{0, std::chrono::seconds(0)};

  std::map<std::string, RuleRecord> records_;  // by rule id
  // The last status seen per (rule, subject). A subject missing from one audit
  // (a file caught half-written, or deleted and recreated) keeps its status,
  // so its return in a failing state still counts as drift.
  std::map<std::pair<std::string, std::string>, Status> statuses_;
  bool compliant_ = false;
  std::uint64_t last_audit_usec_ = 0;  // the oldest record's: see oldest_record()
  std::vector<std::string> failing_rules_;
  std::uint32_t drift_events_ = 0;

  std::optional<FixerClient> fixer_;
  std::optional<FixerClient> reader_client_;
  // A fixer started when a file of a kept fix changed, before the drift audit
  // says whether to use it; dropped after that audit (manager_kept.cpp).
  std::unique_ptr<FixerSession> early_fixer_;
  // The agent's own fixes change watched files too: no early fixer for those.
  std::chrono::steady_clock::time_point own_writes_until_{};
  void start_fixer_early(unsigned topics);
  // Around a fixer call: what changes meanwhile and just after is its doing.
  void fixer_call_starts() { own_writes_until_ = std::chrono::steady_clock::time_point::max(); }
  void fixer_call_ended();
  std::optional<FixerPrivilegedReader> reader_;  // set when the agent is unprivileged
  std::optional<CachedJournalReader> journal_reader_;
  std::vector<KeptChange> kept_;
  std::string journal_problem_;  // logged once, not at every audit
};

}  // namespace qharden::agent
