// Placeholder while the inetd parser is written.
#include "inventory/inventory.h"
namespace qharden {
void collect_inetd_services(const Host&, const Config&, ServiceInventory&) {}
}  // namespace qharden
