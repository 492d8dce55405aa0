// Placeholder while the run-script parser is written.
#include "inventory/inventory.h"
namespace qharden {
void collect_run_scripts(const Host&, const Config&, ServiceInventory&) {}
}  // namespace qharden
