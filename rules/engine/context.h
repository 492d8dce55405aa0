#pragma once

#include <memory>

#include "config/config.h"
#include "host/host.h"
#include "inventory/inventory.h"

namespace qharden {

// What a rule sees: the host (under its root), the config, whether live state
// may be touched, and the service inventory parsed once for every rule.
struct AuditContext {
  AuditContext(const Host& host_in, const Config& config_in, bool offline_in)
      : host(host_in), config(config_in), offline(offline_in) {}

  const Host& host;
  const Config& config;
  bool offline = false;

  // xinetd, inetd and run-script command lines; parsed on first use.
  const ServiceInventory& inventory();

 private:
  std::unique_ptr<ServiceInventory> inventory_;
};

}  // namespace qharden
