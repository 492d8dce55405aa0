#!/usr/bin/env bash
# The Prometheus and Grafana files of packaging/monitoring/ hold together, and
# the built qharden writes what they expect:
#   - the alert rules load (promtool check rules) and their unit tests pass;
#     every alert has mixin annotations, a runbook section, and a firing and
#     a non-firing case (monitoring_contract.py alerts);
#   - every dashboard query is evaluated by promtool and no query is untested
#     (check-dashboard.py);
#   - the real `qharden audit --format prometheus` output of a fixture tree
#     with failing findings is clean for `promtool check metrics` and follows
#     the metric contract (monitoring_contract.py metrics), every fixture
#     tree's output is free of duplicate series, and the shipped rules raise
#     exactly the alerts that real output calls for.
# promtool comes from PATH or from Debian's prometheus package unpacked by
# tests/lint/unpack-prometheus.sh; without either the test is skipped (77).
set -euo pipefail
source_dir=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
qharden=${QHARDEN:?set QHARDEN to the built qharden}
monitoring=$source_dir/packaging/monitoring
fixtures=$source_dir/tests/fixtures/hosts
contract=$source_dir/tests/lint/monitoring_contract.py

promtool=${QHARDEN_PROMTOOL:-}
if [ -z "$promtool" ]; then
  if command -v promtool > /dev/null; then
    promtool=$(command -v promtool)
  elif [ -x /var/cache/qharden-tests/prometheus/usr/bin/promtool ]; then
    promtool=/var/cache/qharden-tests/prometheus/usr/bin/promtool
  else
    echo "skip: no promtool in PATH nor in /var/cache/qharden-tests/prometheus (tests/lint/unpack-prometheus.sh puts it there)"
    exit 77
  fi
fi
echo "promtool: $promtool ($("$promtool" --version 2>&1 | head -1))"
# The checks below read YAML; Debian's ansible-core depends on python3-yaml,
# so a machine that runs the fleet tests has it. A missing module is a
# failure, not a skip: the coverage checks must not vanish quietly.
python3 -c 'import yaml' || {
  echo "FAIL  python3 with the yaml module (python3-yaml) is needed"
  exit 1
}

failures=0
fail() {
  echo "FAIL  $*"
  failures=$((failures + 1))
}
ok() { echo "ok    $*"; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# step NAME COMMAND...: runs it, shows its output, counts a failure.
step() {
  local name=$1 status=0
  shift
  "$@" > "$scratch/out" 2>&1 || status=$?
  sed 's/^/      /' "$scratch/out"
  if [ "$status" -eq 0 ]; then
    ok "$name"
  else
    fail "$name (exit $status)"
  fi
}

step "promtool check rules qharden-alerts.yml" \
  "$promtool" check rules "$monitoring/qharden-alerts.yml"
step "promtool test rules qharden-alerts.test.yml" \
  "$promtool" test rules "$monitoring/qharden-alerts.test.yml"
step "promtool test rules qharden-dashboard.test.yml" \
  "$promtool" test rules "$monitoring/qharden-dashboard.test.yml"
step "check-dashboard.py: every dashboard query is tested" \
  python3 "$monitoring/check-dashboard.py" \
  "$monitoring/qharden-fleet.json" "$monitoring/qharden-dashboard.test.yml"
step "alerts: annotations, runbook sections, firing and non-firing tests" \
  python3 "$contract" alerts "$monitoring/qharden-alerts.yml" \
  "$monitoring/qharden-alerts.test.yml" "$monitoring/runbook.md"

# audit_metrics FIXTURE: the fixture's offline metrics in $scratch/FIXTURE.prom,
# the audit's exit code in $scratch/FIXTURE.rc. 0-2 are findings; 3 (bad
# usage or config, errors) is taken as it comes and judged by the callers.
audit_metrics() {
  local status=0
  "$qharden" audit --format prometheus --offline --root "$fixtures/$1" \
    > "$scratch/$1.prom" 2> "$scratch/$1.err" || status=$?
  echo "$status" > "$scratch/$1.rc"
}

check_metrics() { "$promtool" check metrics < "$1"; }

# plesk: xinetd services without -R and a kernel-default tcp_fin_timeout,
# so critical and warning findings fail; daemontools adds an error finding.
for fixture in plesk daemontools; do
  audit_metrics "$fixture"
  status=$(cat "$scratch/$fixture.rc")
  if [ "$status" -gt 2 ]; then
    fail "qharden audit --format prometheus on $fixture exited $status: $(head -3 "$scratch/$fixture.err")"
    continue
  fi
  step "promtool check metrics: $fixture" check_metrics "$scratch/$fixture.prom"
  if [ "$fixture" = plesk ]; then
    step "metric contract: $fixture" python3 "$contract" metrics "$scratch/$fixture.prom" "$status"
  fi
done

# A duplicate series is dropped by node_exporter with only a log line (its
# scrape error stays 0), so a failing finding could vanish from Prometheus.
duplicates=0
trees=0
for tree in "$fixtures"/*/; do
  fixture=$(basename "$tree")
  trees=$((trees + 1))
  [ -e "$scratch/$fixture.prom" ] || audit_metrics "$fixture"
  repeated=$(grep -v '^#' "$scratch/$fixture.prom" | sed 's/ [^ ]*$//' | sort | uniq -d)
  if [ -n "$repeated" ]; then
    fail "duplicate series in the output for $fixture: $(echo "$repeated" | tr '\n' ' ')"
    duplicates=$((duplicates + 1))
  fi
done
if [ "$duplicates" -eq 0 ]; then
  ok "no duplicate series in the output of any of the $trees fixture trees"
fi

if [ -s "$scratch/plesk.prom" ] && [ -s "$scratch/daemontools.prom" ]; then
  if python3 "$contract" alert-test "$monitoring/qharden-alerts.yml" "$scratch/real.test.yml" \
    plesk="$scratch/plesk.prom" daemontools="$scratch/daemontools.prom" > "$scratch/out" 2>&1; then
    sed 's/^/      /' "$scratch/out"
    step "the shipped rules on real output: the right alerts, on the right host" \
      "$promtool" test rules "$scratch/real.test.yml"
  else
    sed 's/^/      /' "$scratch/out"
    fail "could not turn the real output into a promtool test"
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all monitoring checks passed"
