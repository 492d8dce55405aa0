#include "engine/context.h"

namespace qharden {

const ServiceInventory& AuditContext::inventory() {
  if (!inventory_) {
    inventory_ = std::make_unique<ServiceInventory>(collect_service_inventory(host, config));
  }
  return *inventory_;
}

}  // namespace qharden
