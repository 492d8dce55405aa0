// The fix for a missing rcpthosts: create it from the local domains (me,
// locals, virtualdomains), so qmail-smtpd accepts mail for them and refuses
// to relay anywhere else.
#pragma once

#include <vector>

#include "engine/change.h"
#include "engine/expected.h"

namespace qharden {

class Host;
struct RelayControls;

// Refuses, saying why, when no domain results, when rcpthosts exists (an empty
// one is a policy the operator chose), or when the control folder is a
// symlink or missing.
Expected<std::vector<PlannedChange>> plan_rcpthosts(const Host& host, const RelayControls& controls,
                                                    const std::string& rule_id);

}  // namespace qharden
