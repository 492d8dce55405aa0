#include "daemon/bus.h"

#include <chrono>
#include <map>

#include <spdlog/spdlog.h>

#include "daemon/arguments.h"
#include "daemon/bus_text.h"
#include "daemon/manager.h"
#include "daemon/sdbus_compat.h"
#include "engine/fix_report.h"
#include "engine/kept_changes.h"
#include "engine/registry.h"

namespace qharden::agent {
namespace {

constexpr const char* kInvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";
constexpr const char* kAccessDenied = "org.freedesktop.DBus.Error.AccessDenied";
constexpr const char* kFailed = "org.freedesktop.DBus.Error.Failed";

std::vector<const Rule*> checked_rules(const std::vector<std::string>& rule_ids) {
  if (std::optional<std::string> problem = invalid_rule_ids(rule_ids)) {
    throw sdbus_compat::make_error(kInvalidArgs, *problem);
  }
  Expected<std::vector<const Rule*>> rules = select_rules(rule_ids);
  if (!rules) throw sdbus_compat::make_error(kInvalidArgs, "rules: " + rules.error().message);
  return std::move(*rules);
}

// What `qharden plan` prints for one change, without the plan's summary lines.
// sdbus-c++ turns only sdbus::Error into an error reply; anything else would
// unwind through sd-bus's C code.
template <typename Body>
auto at_the_edge(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const sdbus::Error&) {
    throw;
  } catch (const std::exception& exception) {
    throw sdbus_compat::make_error(kFailed, exception.what());
  }
}

}  // namespace

AgentObject::AgentObject(sdbus::IConnection& connection, Manager& manager)
    : AdaptorInterfaces(connection, sdbus::ObjectPath{kObjectPath}),
      manager_(manager),
      bus_driver_(
          sdbus_compat::create_proxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus")),
      polkit_(sdbus_compat::create_proxy(connection, "org.freedesktop.PolicyKit1",
                                         "/org/freedesktop/PolicyKit1/Authority")) {
  registerAdaptor();
}

AgentObject::~AgentObject() {
  unregisterAdaptor();
}

namespace {

template <typename Emit>
void emit_or_log(const char* signal, Emit&& emit) {
  try {
    emit();
  } catch (const std::exception& exception) {
    spdlog::error("could not emit {}: {}", signal, exception.what());
  }
}

}  // namespace

void AgentObject::announce_properties(const std::vector<std::string>& names) {
  if (names.empty()) return;
  emit_or_log("PropertiesChanged", [&] {
    sdbus_compat::emit_properties_changed(*this, org::qharden::Agent1_adaptor::INTERFACE_NAME,
                                          names);
  });
}

void AgentObject::audit_completed(std::uint64_t usec, bool compliant, std::uint32_t failures) {
  emit_or_log("AuditCompleted", [&] { emitAuditCompleted(usec, compliant, failures); });
}

void AgentObject::drift_detected(const std::string& rule, const std::string& subject) {
  emit_or_log("DriftDetected", [&] { emitDriftDetected(bus_text(rule), bus_text(subject)); });
}

void AgentObject::fix_applied(const std::string& change_id, const std::string& rule,
                              const std::string& subject) {
  emit_or_log("FixApplied",
              [&] { emitFixApplied(bus_text(change_id), bus_text(rule), bus_text(subject)); });
}

template <typename... Results, typename Work>
void AgentObject::answer_later(const char* what, std::shared_ptr<sdbus::Result<Results...>> pending,
                               Work&& work) {
  manager_.defer(what, [pending, work = std::forward<Work>(work)]() mutable {
    try {
      std::apply([&](const auto&... values) { pending->returnResults(values...); },
                 at_the_edge(work));
    } catch (const sdbus::Error& error) {
      pending->returnError(error);
    }
  });
}

namespace {

// polkit's CheckAuthorization: (subject, action, details, flags, cancellation).
using PolkitSubject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
using PolkitAnswer = sdbus::Struct<bool, bool, std::map<std::string, std::string>>;

template <typename Result>
std::shared_ptr<Result> shared_result(Result&& result) {
  // The job outlives this call, and Result cannot be copied into a std::function.
  return std::make_shared<Result>(std::move(result));
}

}  // namespace

template <typename... Results, typename Work>
void AgentObject::authorize_then(const char* what, sdbus::Result<Results...>&& result,
                                 Work&& work) {
  std::optional<std::string> current_sender = sdbus_compat::current_sender(getObject());
  if (!current_sender) throw sdbus_compat::make_error(kAccessDenied, "no caller to check");
  std::string sender = *current_sender;
  std::uint32_t uid = 0;
  // The bus driver's answer, not sd-bus creds augmentation: dbus-daemon would
  // have us read /proc of a pid that may already belong to someone else.
  bus_driver_->callMethod("GetConnectionUnixUser")
      .onInterface("org.freedesktop.DBus")
      .withArguments(sender)
      .storeResultsTo(uid);
  std::string caller =
      std::string("D-Bus ") + what + " from " + sender + " (uid " + std::to_string(uid) + ")";
  auto pending = shared_result(std::move(result));
  if (uid == 0) {
    answer_later(what, pending, [work, caller] { return work(caller); });
    return;
  }
  // Anyone else is asked about through polkit, as systemd, tuned and
  // firewalld do. The subject is the caller's bus name, which polkit resolves
  // race-free. No interactive authentication is requested (sdbus-c++ does not
  // show whether the caller allowed it): administrators other than root are
  // let in by a polkit rule.
  PolkitSubject subject{"system-bus-name", {{"name", sdbus::Variant(sender)}}};
  auto refuse = [pending, sender, uid, what](const std::string& why) {
    spdlog::warn("refused {} from {} (uid {}): {}", what, sender, uid, why);
    pending->returnError(sdbus_compat::make_error(
        kAccessDenied, std::string("only root, or a user polkit authorizes for ") + kManageAction +
                           ", may plan, apply or roll back: " + why));
  };
  polkit_->callMethodAsync("CheckAuthorization")
      .onInterface("org.freedesktop.PolicyKit1.Authority")
      .withTimeout(std::chrono::seconds(30))
      .withArguments(subject, std::string(kManageAction), std::map<std::string, std::string>{},
                     std::uint32_t{0}, std::string{})
      .uponReplyInvoke([this, pending, work, caller, what, refuse](
                           sdbus_compat::AsyncReplyError error, PolkitAnswer answer) {
        if (error) {
          refuse("polkit did not answer (" + error->getMessage() + ")");
          return;
        }
        if (!std::get<0>(answer)) {
          refuse(std::get<1>(answer) ? "polkit wants authentication, which is not asked for here"
                                     : "polkit says no");
          return;
        }
        spdlog::info("polkit authorized {} for {}", what, caller);
        answer_later(what, pending, [work, caller] { return work(caller + ", by polkit"); });
      });
}

void AgentObject::Audit(sdbus::Result<std::vector<FindingRow>>&& result,
                        std::vector<std::string> rules) {
  std::vector<const Rule*> selected = checked_rules(rules);
  answer_later("Audit", shared_result(std::move(result)), [this, selected] {
    std::vector<FindingRow> rows;
    for (const Finding& finding : manager_.audit(selected)) {
      rows.emplace_back(
          bus_text(finding.rule), bus_text(finding.subject), std::string(to_string(finding.status)),
          std::string(to_string(finding.severity)), bus_text(finding.message), finding.fixable);
    }
    return std::tuple{std::move(rows)};
  });
}

// Answered in the handler once a report exists, also while a job turns the
// loop: a monitoring check (agent/cli/nagios_status.cpp) gives up after 5 s,
// and an audit waiting on a dead nameserver takes up to 90 s. Writing the
// report runs no rule and never turns the loop, and a job records its
// findings only after its last turn, so the handler reads finished audits.
void AgentObject::GetReport(sdbus::Result<std::string>&& result) {
  if (manager_.has_report()) {
    result.returnResults(at_the_edge([this] { return manager_.report_json_text(); }));
    return;
  }
  answer_later("GetReport", shared_result(std::move(result)),
               [this] { return std::tuple{manager_.report_json_text()}; });
}

// Arguments are checked first, in the handler, so InvalidArgs comes back at
// once and nothing is asked of polkit for a call that could not run anyway.
void AgentObject::Plan(sdbus::Result<std::vector<ChangeRow>>&& result,
                       std::vector<std::string> rules) {
  std::vector<const Rule*> selected = checked_rules(rules);
  bool named = !rules.empty();
  authorize_then("Plan", std::move(result), [this, selected, named](const std::string&) {
    PlanResult plan = manager_.plan(selected, named);
    std::vector<ChangeRow> rows;
    for (const PlannedChange& change : plan.changes) {
      rows.emplace_back(bus_text(change.rule), bus_text(change.subject),
                        bus_text(describe_change(change)));
    }
    return std::tuple{std::move(rows)};
  });
}

void AgentObject::Apply(sdbus::Result<std::string, std::vector<ChangeRow>>&& result,
                        std::vector<std::string> rules) {
  std::vector<const Rule*> selected = checked_rules(rules);
  bool named = !rules.empty();
  authorize_then("Apply", std::move(result), [this, selected, named](const std::string& caller) {
    Expected<ApplyResult> applied = manager_.apply(selected, named, caller);
    if (!applied) throw sdbus_compat::make_error(kFailed, applied.error().message);
    std::vector<ChangeRow> rows;
    for (const ChangeOutcome& outcome : applied->outcomes) {
      rows.emplace_back(bus_text(outcome.rule), bus_text(outcome.subject),
                        bus_text(outcome.outcome));
    }
    return std::tuple{bus_text(applied->change_id), std::move(rows)};
  });
}

void AgentObject::Rollback(sdbus::Result<std::vector<RestoredRow>>&& result,
                           std::string change_id) {
  if (std::optional<std::string> problem = invalid_change_id(change_id)) {
    throw sdbus_compat::make_error(kInvalidArgs, *problem);
  }
  authorize_then("Rollback", std::move(result), [this, change_id](const std::string& caller) {
    // Checked in the job: a change journaled by an Apply queued before this
    // call must be found.
    if (!change_id.empty() && !manager_.change_exists(change_id)) {
      throw sdbus_compat::make_error(kInvalidArgs,
                                     "change_id: no change \"" + change_id + "\" in the journal");
    }
    Expected<RollbackResult> rolled = manager_.rollback(change_id, caller);
    if (!rolled) throw sdbus_compat::make_error(kFailed, rolled.error().message);
    std::vector<RestoredRow> rows;
    for (const ChangeOutcome& restored : rolled->restored) {
      rows.emplace_back(bus_text(restored.rule), bus_text(restored.subject));
    }
    return std::tuple{std::move(rows)};
  });
}

std::string AgentObject::Version() {
  return QHARDEN_VERSION;
}
bool AgentObject::Compliant() {
  return manager_.compliant();
}
std::uint64_t AgentObject::LastAuditUsec() {
  return manager_.last_audit_usec();
}
std::vector<std::string> AgentObject::FailingRules() {
  std::vector<std::string> rule_ids;
  for (const std::string& rule_id : manager_.failing_rules()) rule_ids.push_back(bus_text(rule_id));
  return rule_ids;
}
std::uint32_t AgentObject::DriftEvents() {
  return manager_.drift_events();
}
std::vector<AgentObject::ChangeRow> AgentObject::KeptChanges() {
  std::vector<ChangeRow> rows;
  for (const KeptChange& kept : manager_.kept_changes()) {
    rows.emplace_back(bus_text(kept.change_id), bus_text(kept.rule), bus_text(kept.subject));
  }
  return rows;
}

}  // namespace qharden::agent
