#pragma once

#include "cli/commands.h"

namespace qharden {

// `qharden audit --textfile`, as qharden-audit.service runs it: the text
// report on stdout, and the Prometheus metrics written atomically to
// paths.prometheus_textfile_dir/qharden.prom when that folder is configured.
int run_textfile_audit(const CommonOptions& options);

}  // namespace qharden
