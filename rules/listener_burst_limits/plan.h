// The fix of listener.burst-limits: the smallest edits that lift each failing
// limit to its bound. xinetd: the value words of the service's own attribute,
// or a new `name = value` line before the service's `}` (never `defaults`,
// which other services share); inetd: the wait/nowait[.max] word; a systemd
// socket: qharden's drop-in for it (inventory/systemd_drop_in.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "engine/change.h"
#include "engine/expected.h"
#include "engine/finding.h"
#include "engine/rule.h"
#include "inventory/inventory.h"

namespace qharden {

struct AuditContext;

// The text of an xinetd file in which the service whose `service` line is
// service_line gets the limits that meet bounds; `command` holds the limits in
// effect (from the inventory, so values from `defaults` count). The text itself
// when nothing fails.
Expected<std::string> raise_xinetd_limits(const std::string& file, std::string_view text,
                                          const ServiceCommand& command,
                                          const Config::ListenerBurstLimits& bounds);

// The text of inetd.conf with the line at entry_line rewritten to nowait.N.
Expected<std::string> raise_inetd_limit(const std::string& file, std::string_view text,
                                        const ServiceCommand& command,
                                        const Config::ListenerBurstLimits& bounds);

// A socket unit's failing limits, raised in qharden's drop-in for it; nothing
// when they all pass (the inventory already reads an earlier drop-in). The
// audit calls it too, so that a refusal (a symlink, a later drop-in that
// would win) makes the finding unfixable with the reason, instead of failing
// the whole plan, other services' fixes included.
Expected<std::optional<PlannedChange>> plan_socket_drop_in(AuditContext& context,
                                                           const RuleInfo& info,
                                                           const ServiceCommand& command);

Expected<std::vector<PlannedChange>> plan_burst_limit_fixes(AuditContext& context,
                                                            const RuleInfo& info,
                                                            const std::vector<Finding>& failing);

}  // namespace qharden
