#!/usr/bin/env bash
# The agent soak for an hour (tests/integration/agent_soak_test.sh, which CI
# runs for 150 s): 10,000 Plesk-style overwrites, Reloaded storms, SIGHUP
# every minute (every tenth with a bad config), 100 concurrent Audit callers
# every 10 s; prints RSS, fds and inotify watches over time and the drift
# window's p50/p99. QHARDEN_SOAK_SECONDS shortens it. Needs root.
set -euo pipefail
QHARDEN=${QHARDEN:?}
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root for a network namespace and xinetd"
  exit 0
fi
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
QHARDEN_SOURCE_DIR=$source_dir QHARDEN_SOAK_SECONDS=${QHARDEN_SOAK_SECONDS:-3600} \
  bash "$source_dir/tests/integration/agent_soak_test.sh"
