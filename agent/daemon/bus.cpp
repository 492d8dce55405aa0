#include "daemon/bus.h"

#include <spdlog/spdlog.h>

#include "daemon/arguments.h"
#include "daemon/manager.h"
#include "engine/registry.h"
#include "engine/unified_diff.h"
#include "host/command.h"

namespace qharden::agent {
namespace {

constexpr const char* kInvalidArgs = "org.freedesktop.DBus.Error.InvalidArgs";
constexpr const char* kAccessDenied = "org.freedesktop.DBus.Error.AccessDenied";
constexpr const char* kFailed = "org.freedesktop.DBus.Error.Failed";

std::vector<const Rule*> checked_rules(const std::vector<std::string>& rule_ids) {
  if (std::optional<std::string> problem = invalid_rule_ids(rule_ids)) {
    throw sdbus::Error(kInvalidArgs, *problem);
  }
  Expected<std::vector<const Rule*>> rules = select_rules(rule_ids);
  if (!rules) throw sdbus::Error(kInvalidArgs, "rules: " + rules.error().message);
  return std::move(*rules);
}

// What `qharden plan` prints for one change, without the plan's summary lines.
std::string describe_change(const PlannedChange& change) {
  if (const auto* file = std::get_if<FileReplacement>(&change.action)) {
    return unified_diff(file->host_path, file->before, file->after, !file->create);
  }
  if (const auto* sysctl = std::get_if<SysctlWrite>(&change.action)) {
    return "write /proc/sys/" + sysctl->slash_key + ": " + sysctl->before + " -> " + sysctl->after;
  }
  const auto& command = std::get<CommandRun>(change.action);
  return describe_argv(command.argv);
}

// sdbus-c++ turns only sdbus::Error into an error reply; anything else would
// unwind through sd-bus's C code.
template <typename Body>
auto at_the_edge(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const sdbus::Error&) {
    throw;
  } catch (const std::exception& exception) {
    throw sdbus::Error(kFailed, exception.what());
  }
}

}  // namespace

AgentObject::AgentObject(sdbus::IConnection& connection, Manager& manager)
    : AdaptorInterfaces(connection, kObjectPath),
      manager_(manager),
      bus_driver_(sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus")) {
  registerAdaptor();
}

AgentObject::~AgentObject() {
  unregisterAdaptor();
}

void AgentObject::announce_properties(const std::vector<std::string>& names) {
  if (!names.empty())
    emitPropertiesChangedSignal(org::qharden::Agent1_adaptor::INTERFACE_NAME, names);
}

void AgentObject::require_root_caller() {
  const sdbus::Message* message = getObject().getCurrentlyProcessedMessage();
  if (message == nullptr) throw sdbus::Error(kAccessDenied, "no caller to check");
  std::string sender = message->getSender();
  std::uint32_t uid = 0;
  // The bus driver's answer, not sd-bus creds augmentation: dbus-daemon would
  // have us read /proc of a pid that may already belong to someone else.
  bus_driver_->callMethod("GetConnectionUnixUser")
      .onInterface("org.freedesktop.DBus")
      .withArguments(sender)
      .storeResultsTo(uid);
  if (uid != 0) {
    spdlog::warn("refused {} from {} (uid {}): root only", message->getMemberName(), sender, uid);
    throw sdbus::Error(kAccessDenied, "only root may plan, apply or roll back");
  }
}

template <typename... Results, typename Work>
void AgentObject::answer_later(const char* what, sdbus::Result<Results...>&& result, Work&& work) {
  // The job outlives this call, and Result cannot be copied into a std::function.
  auto pending = std::make_shared<sdbus::Result<Results...>>(std::move(result));
  manager_.defer(what, [pending, work = std::forward<Work>(work)]() mutable {
    try {
      std::apply([&](const auto&... values) { pending->returnResults(values...); },
                 at_the_edge(work));
    } catch (const sdbus::Error& error) {
      pending->returnError(error);
    }
  });
}

void AgentObject::Audit(sdbus::Result<std::vector<FindingRow>>&& result,
                        std::vector<std::string> rules) {
  std::vector<const Rule*> selected = checked_rules(rules);
  answer_later("Audit", std::move(result), [this, selected] {
    std::vector<FindingRow> rows;
    for (const Finding& finding : manager_.audit(selected)) {
      rows.emplace_back(finding.rule, finding.subject, std::string(to_string(finding.status)),
                        std::string(to_string(finding.severity)), finding.message, finding.fixable);
    }
    return std::tuple{std::move(rows)};
  });
}

void AgentObject::GetReport(sdbus::Result<std::string>&& result) {
  answer_later("GetReport", std::move(result),
               [this] { return std::tuple{manager_.report_json_text()}; });
}

void AgentObject::Plan(sdbus::Result<std::vector<ChangeRow>>&& result,
                       std::vector<std::string> rules) {
  require_root_caller();
  std::vector<const Rule*> selected = checked_rules(rules);
  bool named = !rules.empty();
  answer_later("Plan", std::move(result), [this, selected, named] {
    PlanResult plan = manager_.plan(selected, named);
    std::vector<ChangeRow> rows;
    for (const PlannedChange& change : plan.changes) {
      rows.emplace_back(change.rule, change.subject, describe_change(change));
    }
    return std::tuple{std::move(rows)};
  });
}

void AgentObject::Apply(sdbus::Result<std::string, std::vector<ChangeRow>>&& result,
                        std::vector<std::string> rules) {
  require_root_caller();
  std::vector<const Rule*> selected = checked_rules(rules);
  bool named = !rules.empty();
  answer_later("Apply", std::move(result), [this, selected, named] {
    Expected<ApplyResult> applied = manager_.apply(selected, named);
    if (!applied) throw sdbus::Error(kFailed, applied.error().message);
    std::vector<ChangeRow> rows;
    for (const ChangeOutcome& outcome : applied->outcomes) {
      rows.emplace_back(outcome.rule, outcome.subject, outcome.outcome);
    }
    return std::tuple{applied->change_id, std::move(rows)};
  });
}

void AgentObject::Rollback(sdbus::Result<std::vector<RestoredRow>>&& result,
                           std::string change_id) {
  require_root_caller();
  if (std::optional<std::string> problem = invalid_change_id(change_id)) {
    throw sdbus::Error(kInvalidArgs, *problem);
  }
  answer_later("Rollback", std::move(result), [this, change_id] {
    // Checked in the job: a change journaled by an Apply queued before this
    // call must be found.
    if (!change_id.empty() && !manager_.change_exists(change_id)) {
      throw sdbus::Error(kInvalidArgs, "change_id: no change \"" + change_id + "\" in the journal");
    }
    Expected<RollbackResult> rolled = manager_.rollback(change_id);
    if (!rolled) throw sdbus::Error(kFailed, rolled.error().message);
    std::vector<RestoredRow> rows;
    for (const ChangeOutcome& restored : rolled->restored) {
      rows.emplace_back(restored.rule, restored.subject);
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
  return manager_.failing_rules();
}
std::uint32_t AgentObject::DriftEvents() {
  return manager_.drift_events();
}

}  // namespace qharden::agent
