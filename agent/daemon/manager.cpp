#include "daemon/manager.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "daemon/bus.h"
#include "daemon/event_loop_waiter.h"
#include "daemon/sdbus_compat.h"
#include "engine/config_path.h"
#include "engine/registry.h"

namespace qharden::agent {
namespace {

constexpr std::uint64_t kMillisecond = 1000;  // sd-event times are in microseconds
constexpr std::uint64_t kSecond = 1000 * kMillisecond;

void warn_on_failure(int result, const char* what) {
  if (result < 0) spdlog::error("{}: {}", what, std::strerror(-result));
}

void check(int result, const char* what) {
  if (result < 0) throw std::runtime_error(std::string(what) + ": " + std::strerror(-result));
}

// A failed audit or signal emission is logged and the loop goes on; the next
// event retries.
void guarded(const char* what, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& exception) {
    spdlog::error("{}: {}", what, exception.what());
  }
}

Outcome check_config_file(const std::optional<std::string>& path) {
  if (!path) return Done{};
  std::optional<std::string> problem = config_path_problem(*path);
  if (problem) return fail_with(*problem);
  return Done{};
}

std::string current_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

Manager::Manager(AgentOptions options) : options_(std::move(options)) {}

Manager::~Manager() {
  // Queued bus calls hold their messages through the connection: dropped first.
  jobs_.clear();
  // The object and the match unregister from the connection, so they go first.
  object_.reset();
  firewalld_match_.reset();
  for (sd_event_source* source :
       {bus_io_, bus_timer_, bus_event_io_, inotify_io_, debounce_timer_, periodic_timer_,
        slow_timer_, netfilter_timer_, firewalld_reloaded_}) {
    sd_event_source_disable_unref(source);
  }
  connection_.reset();
  sd_event_unref(event_);
}

Outcome Manager::initialize() {
  Expected<RootedHost> host = RootedHost::open(options_.root);
  if (!host) return fail_with(host.error().message);
  host_.emplace(std::move(*host));
  if (Outcome file = check_config_file(options_.config_file); !file) {
    return fail_with("config: " + file.error().message);
  }
  Expected<Config> config = load_config(options_.config_file, *host_);
  if (!config) return fail_with("config: " + config.error().message);
  config_ = std::move(*config);
  limiter_ = ReapplyLimiter(config_.agent.reapply_limit,
                            std::chrono::seconds(config_.agent.reapply_window_s));
  host_name_ = current_host_name();
  FixerEndpoint endpoint;
  if (!options_.fixer_socket.empty()) {
    endpoint.socket_path = options_.fixer_socket;
  } else {
    endpoint.program = default_fixer_program();
    endpoint.arguments = {"--root", options_.root};
    if (options_.config_file) {
      endpoint.arguments.insert(endpoint.arguments.end(), {"--config", *options_.config_file});
    }
  }
  fixer_.emplace(std::move(endpoint), options_.root, options_.config_file);
  if (!options_.fixer_socket.empty()) {
    FixerEndpoint reads;
    reads.socket_path =
        options_.reader_socket.empty() ? options_.fixer_socket : options_.reader_socket;
    reader_client_.emplace(std::move(reads), options_.root, options_.config_file);
    reader_.emplace(*reader_client_);
  }
  journal_reader_.emplace(state_directory(*host_, config_));
  refresh_kept();
  return Done{};
}

void Manager::connect_bus() {
  if (options_.bus == "system") {
    connection_ = sdbus::createSystemBusConnection();
  } else if (options_.bus == "session") {
    connection_ = sdbus::createSessionBusConnection();
  } else {
    connection_ = sdbus::createSessionBusConnectionWithAddress(options_.bus);
  }
  // The object is in place before the name is taken, so an activated caller's
  // first message finds it.
  object_ = std::make_unique<AgentObject>(*connection_, *this);
  subscribe_firewalld();
  sdbus_compat::request_name(*connection_, kBusName);
}

// sdbus-c++ 1.2 has no attachSdEventLoop: the bus's fd, events and timeout
// are read again before every loop iteration, since any handler or signal
// emission can queue output (POLLOUT) or input (timeout 0).
void Manager::arm_bus() {
  sdbus::IConnection::PollData poll = connection_->getEventLoopPollData();
  check(sd_event_add_io(event_, &bus_io_, poll.fd, static_cast<std::uint32_t>(poll.events),
                        &Manager::on_bus_io, this),
        "sd_event_add_io(bus)");
  check(sd_event_source_set_prepare(bus_io_, &Manager::on_bus_prepare), "set_prepare(bus)");
  check(sd_event_add_time(event_, &bus_timer_, CLOCK_MONOTONIC, UINT64_MAX, kMillisecond,
                          &Manager::on_bus_timer, this),
        "sd_event_add_time(bus)");
  check(sd_event_source_set_enabled(bus_timer_, SD_EVENT_OFF), "bus timer");
  if (int event_fd = sdbus_compat::poll_event_fd(poll); event_fd >= 0) {
    check(sd_event_add_io(event_, &bus_event_io_, event_fd, EPOLLIN, &Manager::on_bus_io, this),
          "sd_event_add_io(bus eventfd)");
  }
}

int Manager::on_bus_prepare(sd_event_source* /*source*/, void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  sdbus::IConnection::PollData poll = self->connection_->getEventLoopPollData();
  sd_event_source_set_io_events(self->bus_io_, static_cast<std::uint32_t>(poll.events));
  if (sdbus_compat::poll_timeout_usec(poll) == UINT64_MAX) {
    sd_event_source_set_enabled(self->bus_timer_, SD_EVENT_OFF);
  } else {
    sd_event_source_set_time(self->bus_timer_, sdbus_compat::poll_timeout_usec(poll));
    sd_event_source_set_enabled(self->bus_timer_, SD_EVENT_ONESHOT);
  }
  return 0;
}

namespace {
// Bounded so a flood of calls cannot starve signals and timers; what is left
// makes the bus timeout 0 and is handled in the next iteration.
constexpr int kMessagesPerWakeup = 64;
}  // namespace

// Served in the handler, also while a job turns the loop: property reads are
// answered at once, and the methods that need the engine queue a job and are
// answered when it ends (daemon/bus.cpp).
int Manager::on_bus_io(sd_event_source* /*source*/, int /*fd*/, std::uint32_t /*revents*/,
                       void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  try {
    for (int handled = 0; handled < kMessagesPerWakeup; ++handled) {
      if (!sdbus_compat::process_pending(*self->connection_)) break;
    }
  } catch (const std::exception& exception) {
    // The bus is gone; systemd restarts us (Restart=on-failure).
    spdlog::critical("D-Bus connection lost: {}", exception.what());
    sd_event_exit(self->event_, 1);
  }
  return 0;
}

void Manager::defer(const char* what, std::function<void()> body) {
  jobs_.push_back(Job{what, std::move(body)});
}

bool Manager::stopping() const {
  return exit_requested(event_);
}

// Outside any handler: a job may turn the loop, whose handlers only queue
// more jobs; they run here in order, after this one.
void Manager::run_jobs() {
  while (!jobs_.empty() && !stopping()) {
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    if (reader_) reader_->forget();
    guarded(job.what, job.body);
  }
}

int Manager::on_bus_timer(sd_event_source* source, std::uint64_t /*usec*/, void* userdata) {
  return on_bus_io(source, -1, 0, userdata);
}

int Manager::on_signal(sd_event_source* /*source*/, const struct signalfd_siginfo* info,
                       void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  if (info->ssi_signo == SIGHUP) {
    // Not in the middle of an audit, which reads config_.
    self->defer("reload", [self] { self->reload_config(); });
    return 0;
  }
  spdlog::info("{}: stopping", strsignal(static_cast<int>(info->ssi_signo)));
  sd_event_exit(self->event_, 0);
  return 0;
}

void Manager::reload_config() {
  sd_notify(0, "RELOADING=1");
  Outcome file = check_config_file(options_.config_file);
  Expected<Config> config =
      file ? load_config(options_.config_file, *host_) : Expected<Config>(Unexpected(file.error()));
  if (!config) {
    spdlog::error("config reload refused, keeping the running config: {}", config.error().message);
  } else {
    config_ = std::move(*config);
    if (state_directory(*host_, config_) != journal_reader_->directory()) {
      journal_reader_.emplace(state_directory(*host_, config_));
    }
    refresh_kept();
    // A reload is the operator's word that the fight between writers is over.
    limiter_ = ReapplyLimiter(config_.agent.reapply_limit,
                              std::chrono::seconds(config_.agent.reapply_window_s));
    for (auto& [rule_id, record] : records_) record.fresh = false;
    if (!config_.agent.watch) watcher_.update(host_->root(), {});
    arm_periodic_audit();
    arm_netfilter_check();
    spdlog::info("config reloaded from {}", config_.source);
  }
  sd_notify(0, "READY=1");
}

void Manager::arm_periodic_audit() {
  sd_event_source_disable_unref(periodic_timer_);
  periodic_timer_ = nullptr;
  if (config_.agent.audit_interval_s <= 0) return;
  auto interval = static_cast<std::uint64_t>(config_.agent.audit_interval_s) * kSecond;
  // A periodic compliance run need not be punctual; a coarse accuracy lets the
  // kernel batch the wakeup with others.
  warn_on_failure(sd_event_add_time_relative(event_, &periodic_timer_, CLOCK_MONOTONIC, interval,
                                             kSecond, &Manager::on_periodic, this),
                  "sd_event_add_time_relative(periodic)");
}

int Manager::on_periodic(sd_event_source* /*source*/, std::uint64_t /*usec*/, void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  self->defer("periodic audit", [self] {
    std::vector<const Rule*> every_rule;
    for (const auto& rule : all_rules()) every_rule.push_back(rule.get());
    self->arm_periodic_audit();
    self->handle_drift(self->audit_now(every_rule));
    // firewalld may have stopped since it made the periodic check unneeded.
    if (self->netfilter_timer_ == nullptr) self->arm_netfilter_check();
  });
  return 0;
}

int Manager::on_first_audit(sd_event_source* /*source*/, void* userdata) {
  // Defer sources fire once by default; the event loop owns this floating one.
  on_periodic(nullptr, 0, userdata);
  auto* self = static_cast<Manager*>(userdata);
  // The first audit has just read netfilter, so no second read is needed.
  self->defer("ident re-assert", [self] {
    self->reassert_recorded_ident("start");
    self->arm_netfilter_check();
  });
  return 0;
}

int Manager::on_inotify(sd_event_source* /*source*/, int /*fd*/, std::uint32_t /*revents*/,
                        void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  unsigned topics = self->watcher_.read_topics();
  // The CLI or a fixer released the state lock: the journal may say something
  // new about what is kept. Nothing to re-audit for that alone.
  if ((topics & kJournal) != 0) {
    topics &= ~kJournal;
    self->defer("kept changes", [self] { self->journal_changed(); });
  }
  if (topics == 0) return 0;
  self->pending_topics_ |= topics;
  self->start_fixer_early(topics);
  for (const std::string& rule_id : rules_for_topics(topics)) {
    if (auto record = self->records_.find(rule_id); record != self->records_.end()) {
      record->second.fresh = false;
    }
  }
  // Debounced from the first event, not the last: a writer that never pauses
  // must not postpone the re-audit forever.
  if (self->debounce_timer_ == nullptr) {
    warn_on_failure(sd_event_add_time_relative(
                        self->event_, &self->debounce_timer_, CLOCK_MONOTONIC,
                        static_cast<std::uint64_t>(kDriftDebounce.count()) * kMillisecond,
                        kMillisecond, &Manager::on_debounce, self),
                    "sd_event_add_time_relative(debounce)");
  }
  return 0;
}

int Manager::on_debounce(sd_event_source* /*source*/, std::uint64_t /*usec*/, void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  sd_event_source_disable_unref(self->debounce_timer_);
  self->debounce_timer_ = nullptr;
  self->defer("drift audit", [self] { self->after_file_change(); });
  return 0;
}

void Manager::arm_slow_audit() {
  auto delay = static_cast<std::uint64_t>(kSlowRuleQuiet.count()) * kMillisecond;
  if (slow_timer_ == nullptr) {
    warn_on_failure(sd_event_add_time_relative(event_, &slow_timer_, CLOCK_MONOTONIC, delay,
                                               kMillisecond, &Manager::on_slow_audit, this),
                    "sd_event_add_time_relative(slow audit)");
    return;
  }
  warn_on_failure(sd_event_source_set_time_relative(slow_timer_, delay), "slow audit timer");
  warn_on_failure(sd_event_source_set_enabled(slow_timer_, SD_EVENT_ONESHOT), "slow audit timer");
}

int Manager::on_slow_audit(sd_event_source* /*source*/, std::uint64_t /*usec*/, void* userdata) {
  auto* self = static_cast<Manager*>(userdata);
  self->defer("drift audit", [self] {
    std::vector<const Rule*> rules;
    for (const std::string& rule_id : self->slow_pending_) {
      if (const Rule* rule = find_rule(rule_id)) rules.push_back(rule);
    }
    self->slow_pending_.clear();
    if (!rules.empty()) self->handle_drift(self->audit_now(rules));
  });
  return 0;
}

int Manager::run() {
  check(sd_event_default(&event_), "sd_event_default");
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, signal_number);
  // sd-event takes signals through a signalfd, which needs them blocked.
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) check(-errno, "sigprocmask");
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) {
    check(sd_event_add_signal(event_, nullptr, signal_number, &Manager::on_signal, this),
          "sd_event_add_signal");
  }
  // Sends WATCHDOG=1 at half of WATCHDOG_USEC when systemd asks for it.
  check(sd_event_set_watchdog(event_, 1), "sd_event_set_watchdog");

  connect_bus();
  arm_bus();
  if (watcher_.descriptor() >= 0) {
    check(sd_event_add_io(event_, &inotify_io_, watcher_.descriptor(), EPOLLIN,
                          &Manager::on_inotify, this),
          "sd_event_add_io(inotify)");
  }
  arm_periodic_audit();
  // The first audit runs after READY=1, so a slow probe does not hold up boot.
  check(sd_event_add_defer(event_, nullptr, &Manager::on_first_audit, this), "first audit");

  log_kept(kept_);
  spdlog::info("qhardend {} on {} bus, root {}, config {}, fixes by {}", QHARDEN_VERSION,
               options_.bus, host_->root(), config_.source,
               options_.fixer_socket.empty() ? fixer_->endpoint().program
                                             : "qharden-fixer at " + options_.fixer_socket);
  // Unprivileged, the agent makes its privileged reads through the fixer.
  std::optional<InstalledPrivilegedReader> installed_reader;
  if (reader_) installed_reader.emplace(*reader_);
  sd_notify(0, "READY=1\nSTATUS=serving org.qharden.Agent1");
  EventLoopWaiter waiter(event_);
  InstalledSocketWaiter installed(waiter);
  int result = 0;
  while (sd_event_get_state(event_) != SD_EVENT_FINISHED) {
    result = sd_event_run(event_, UINT64_MAX);
    if (result < 0) break;
    run_jobs();
  }
  sd_notify(0, "STOPPING=1");
  spdlog::debug("probe waits: {} through the event loop, {} by poll", waiter.loop_waits(),
                waiter.poll_waits());
  if (result < 0) {
    spdlog::error("event loop failed: {}", std::strerror(-result));
    return 1;
  }
  int exit_code = 0;
  sd_event_get_exit_code(event_, &exit_code);
  return exit_code == 0 ? 0 : 1;
}

}  // namespace qharden::agent
