// The D-Bus face of the manager: the adaptor generated from
// agent/dbus/org.qharden.Agent1.xml, implemented here. Exceptions (sdbus::Error)
// exist only at this edge.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "org.qharden.Agent1.adaptor.h"

namespace qharden::agent {

class Manager;

inline constexpr const char* kBusName = "org.qharden.Agent1";
inline constexpr const char* kObjectPath = "/org/qharden/Agent1";
// The polkit action for Plan, Apply and Rollback by anyone but root
// (units/org.qharden.Agent1.policy).
inline constexpr const char* kManageAction = "org.qharden.Agent1.manage";

class AgentObject final
    : public sdbus::AdaptorInterfaces<org::qharden::Agent1_adaptor, sdbus::Properties_adaptor> {
 public:
  AgentObject(sdbus::IConnection& connection, Manager& manager);
  ~AgentObject();
  AgentObject(const AgentObject&) = delete;
  AgentObject& operator=(const AgentObject&) = delete;

  // Signals, with their strings made valid UTF-8 (daemon/bus_text.h). One
  // that cannot be sent is logged and dropped: what it reports goes on (a
  // re-apply after DriftDetected), since a signal has no caller to answer.
  void announce_properties(const std::vector<std::string>& names);
  void audit_completed(std::uint64_t usec, bool compliant, std::uint32_t failures);
  void drift_detected(const std::string& rule, const std::string& subject);
  void fix_applied(const std::string& change_id, const std::string& rule,
                   const std::string& subject);

 private:
  using FindingRow =
      sdbus::Struct<std::string, std::string, std::string, std::string, std::string, bool>;
  using ChangeRow = sdbus::Struct<std::string, std::string, std::string>;
  using RestoredRow = sdbus::Struct<std::string, std::string>;

  // Arguments and the caller are checked in the handler, so InvalidArgs and
  // AccessDenied come back at once; the work runs as a job of the manager's
  // loop and the reply is sent when it ends.
  void Audit(sdbus::Result<std::vector<FindingRow>>&& result,
             std::vector<std::string> rules) override;
  void GetReport(sdbus::Result<std::string>&& result) override;
  void Plan(sdbus::Result<std::vector<ChangeRow>>&& result,
            std::vector<std::string> rules) override;
  void Apply(sdbus::Result<std::string, std::vector<ChangeRow>>&& result,
             std::vector<std::string> rules) override;
  void Rollback(sdbus::Result<std::vector<RestoredRow>>&& result, std::string change_id) override;

  // Queues work, whose tuple of return values becomes the reply; an exception
  // from it becomes the error reply.
  template <typename... Results, typename Work>
  void answer_later(const char* what, std::shared_ptr<sdbus::Result<Results...>> pending,
                    Work&& work);
  // The same for Plan, Apply and Rollback, once the caller is authorized: root
  // at once, anyone else when polkit says yes (asked without blocking the
  // loop). work receives a description of the caller for the fixer's log.
  template <typename... Results, typename Work>
  void authorize_then(const char* what, sdbus::Result<Results...>&& result, Work&& work);

  std::string Version() override;
  bool Compliant() override;
  std::uint64_t LastAuditUsec() override;
  std::vector<std::string> FailingRules() override;
  std::uint32_t DriftEvents() override;
  std::vector<ChangeRow> KeptChanges() override;

  Manager& manager_;
  std::unique_ptr<sdbus::IProxy> bus_driver_;
  std::unique_ptr<sdbus::IProxy> polkit_;
};

}  // namespace qharden::agent
