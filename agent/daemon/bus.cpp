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

std::vector<AgentObject::FindingRow> AgentObject::Audit(const std::vector<std::string>& rules) {
  return at_the_edge([&] {
    std::vector<const Rule*> selected = checked_rules(rules);
    std::vector<FindingRow> rows;
    for (const Finding& finding : manager_.audit(selected)) {
      rows.emplace_back(finding.rule, finding.subject, std::string(to_string(finding.status)),
                        std::string(to_string(finding.severity)), finding.message, finding.fixable);
    }
    return rows;
  });
}

std::string AgentObject::GetReport() {
  return manager_.report_json_text();
}

std::vector<AgentObject::ChangeRow> AgentObject::Plan(const std::vector<std::string>& rules) {
  return at_the_edge([&] {
    require_root_caller();
    std::vector<const Rule*> selected = checked_rules(rules);
    PlanResult plan = manager_.plan(selected, !rules.empty());
    std::vector<ChangeRow> rows;
    for (const PlannedChange& change : plan.changes) {
      rows.emplace_back(change.rule, change.subject, describe_change(change));
    }
    return rows;
  });
}

std::tuple<std::string, std::vector<AgentObject::ChangeRow>> AgentObject::Apply(
    const std::vector<std::string>& rules) {
  return at_the_edge([&] {
    require_root_caller();
    std::vector<const Rule*> selected = checked_rules(rules);
    Expected<ApplyResult> applied = manager_.apply(selected, !rules.empty());
    if (!applied) throw sdbus::Error(kFailed, applied.error().message);
    std::vector<ChangeRow> rows;
    for (const ChangeOutcome& outcome : applied->outcomes) {
      rows.emplace_back(outcome.rule, outcome.subject, outcome.outcome);
    }
    return std::tuple<std::string, std::vector<ChangeRow>>{applied->change_id, std::move(rows)};
  });
}

std::vector<AgentObject::RestoredRow> AgentObject::Rollback(const std::string& change_id) {
  return at_the_edge([&] {
    require_root_caller();
    if (std::optional<std::string> problem = invalid_change_id(change_id)) {
      throw sdbus::Error(kInvalidArgs, *problem);
    }
    if (!change_id.empty() && !manager_.change_exists(change_id)) {
      throw sdbus::Error(kInvalidArgs, "change_id: no change \"" + change_id + "\" in the journal");
    }
    Expected<RollbackResult> rolled = manager_.rollback(change_id);
    if (!rolled) throw sdbus::Error(kFailed, rolled.error().message);
    std::vector<RestoredRow> rows;
    for (const ChangeOutcome& restored : rolled->restored) {
      rows.emplace_back(restored.rule, restored.subject);
    }
    return rows;
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
