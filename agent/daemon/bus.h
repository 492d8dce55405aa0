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

class AgentObject final
    : public sdbus::AdaptorInterfaces<org::qharden::Agent1_adaptor, sdbus::Properties_adaptor> {
 public:
  AgentObject(sdbus::IConnection& connection, Manager& manager);
  ~AgentObject();
  AgentObject(const AgentObject&) = delete;
  AgentObject& operator=(const AgentObject&) = delete;

  void announce_properties(const std::vector<std::string>& names);

 private:
  using FindingRow =
      sdbus::Struct<std::string, std::string, std::string, std::string, std::string, bool>;
  using ChangeRow = sdbus::Struct<std::string, std::string, std::string>;
  using RestoredRow = sdbus::Struct<std::string, std::string>;

  std::vector<FindingRow> Audit(const std::vector<std::string>& rules) override;
  std::string GetReport() override;
  std::vector<ChangeRow> Plan(const std::vector<std::string>& rules) override;
  std::tuple<std::string, std::vector<ChangeRow>> Apply(
      const std::vector<std::string>& rules) override;
  std::vector<RestoredRow> Rollback(const std::string& change_id) override;

  std::string Version() override;
  bool Compliant() override;
  std::uint64_t LastAuditUsec() override;
  std::vector<std::string> FailingRules() override;
  std::uint32_t DriftEvents() override;

  // Throws AccessDenied unless the sender of the message being handled is uid 0.
  void require_root_caller();

  Manager& manager_;
  std::unique_ptr<sdbus::IProxy> bus_driver_;
};

}  // namespace qharden::agent
