#!/usr/bin/env bash
# The full hostile-caller run: tests/integration/dbus_hostile_test.sh with a
# call count instead of CI's 25 s per identity. QHARDEN_BENCH_HOSTILE_CALLS
# calls per worker (4 workers), as nobody and then as root with invalid
# arguments; prints the tallies, calls per second, and the agent's Audit time,
# RSS and fds before and after. Needs root; otherwise skipped.
set -euo pipefail
QHARDEN=${QHARDEN:?}
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root for a private system bus and setpriv"
  exit 0
fi
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
calls=${QHARDEN_BENCH_HOSTILE_CALLS:-25000}
started=$(date +%s)
QHARDEN_SOURCE_DIR=$source_dir QHARDEN_HOSTILE_SECONDS=0 QHARDEN_HOSTILE_CALLS=$calls \
  bash "$source_dir/tests/integration/dbus_hostile_test.sh" | grep -vE '^      [a-z-]+ -> '
echo "hostile run of $((calls * 4)) calls per identity took $(( $(date +%s) - started )) s"
