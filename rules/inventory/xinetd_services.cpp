// Placeholder while the xinetd parser is written.
#include "inventory/inventory.h"
namespace qharden {
void collect_xinetd_services(const Host&, const Config&, ServiceInventory&) {}
}  // namespace qharden
