// rblsmtpd.sources' fix: drop the dead zones from the command lines, changing
// only their bytes; where no -r would remain, take rblsmtpd and its options out
// of the chain, because upstream rblsmtpd without -r queries rbl.maps.vix.com.
#pragma once

#include <vector>

#include "engine/change.h"
#include "engine/context.h"
#include "engine/expected.h"
#include "engine/finding.h"

namespace qharden {

Expected<std::vector<PlannedChange>> plan_dead_zone_removal(AuditContext& context,
                                                            const std::vector<Finding>& failing);

}  // namespace qharden
