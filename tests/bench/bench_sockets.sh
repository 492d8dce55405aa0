#!/usr/bin/env bash
# sockets.stuck census in a network namespace holding about 150,000 TIME_WAIT,
# 5,000 CLOSE_WAIT and 5,000 orphaned FIN_WAIT_2 loopback sockets (recipe in
# notes/tech-notes.md), beside `ss -tan state <s> | wc -l` for the same three
# states and a bare sock_diag dump (the same host-layer call, nothing else),
# all measured in the same rounds, interleaved, because TIME_WAIT sockets live
# only 60 s. Then the owner scan's cost per 1,000 fds, from a run whose
# thresholds are crossed. Needs root (a network namespace); otherwise skipped.
# QHARDEN_BENCH_TIME_WAIT scales the TIME_WAIT count, QHARDEN_BENCH_RUNS the rounds.
set -euo pipefail
QHARDEN=${QHARDEN:?}
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root for a network namespace"
  exit 0
fi
time_wait=${QHARDEN_BENCH_TIME_WAIT:-150000}
rounds=${QHARDEN_BENCH_RUNS:-5}
source "$(cd "$(dirname "$0")/../integration/tools" && pwd)/socket_tools.sh"
generator=$(socket_states_program)
namespace=qh-bench-sockets-$$
tree=$(mktemp -d /tmp/qharden-bench.XXXXXX)
generator_pid=
cleanup() {
  if [ -n "$generator_pid" ]; then kill "$generator_pid" 2>/dev/null || true; wait "$generator_pid" 2>/dev/null || true; fi
  ip netns del "$namespace" 2>/dev/null || true
  rm -rf "$tree"
  case $generator in /tmp/qharden-socket-states.*) rm -f "$generator" ;; esac
}
trap cleanup EXIT
ip netns add "$namespace"
in_namespace() { ip netns exec "$namespace" "$@"; }
in_namespace ip link set lo up
in_namespace sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_max_tw_buckets=2000000 \
  net.ipv4.tcp_tw_reuse=0 net.core.somaxconn=65535 net.ipv4.tcp_fin_timeout=120
mkdir -p "$tree/census/etc/qharden" "$tree/owners/etc/qharden" "$tree/fast/etc/qharden" "$tree/full/etc/qharden" \
  "$tree/walk/etc/qharden"
# Thresholds above the counts: the census alone. Below them: census and owner scan.
printf '[rules."sockets.stuck"]\nclose_wait_max = 1000000\nfin_wait_2_max = 1000000\ntime_wait_max = 1000000\n' \
  > "$tree/census/etc/qharden/qharden.toml"
# The two cases of issue 15: TIME_WAIT under its threshold with CLOSE_WAIT over
# (sockstat fast path, CLOSE_WAIT ports and owners), and TIME_WAIT over (full walk).
printf '[rules."sockets.stuck"]\nclose_wait_max = 1000\nfin_wait_2_max = 1000000\ntime_wait_max = 1000000\n' \
  > "$tree/fast/etc/qharden/qharden.toml"
printf '[rules."sockets.stuck"]\nclose_wait_max = 1000\nfin_wait_2_max = 1000000\ntime_wait_max = 1000\n' \
  > "$tree/full/etc/qharden/qharden.toml"
printf '[rules."sockets.stuck"]\nclose_wait_max = 0\nfin_wait_2_max = 0\ntime_wait_max = 0\n' \
  > "$tree/owners/etc/qharden/qharden.toml"
# The full walk alone: TIME_WAIT over (every socket walked, its ports counted),
# CLOSE_WAIT under, so no owner scan.
printf '[rules."sockets.stuck"]\nclose_wait_max = 1000000\nfin_wait_2_max = 1000000\ntime_wait_max = 1000\n' \
  > "$tree/walk/etc/qharden/qharden.toml"

started=$(date +%s%N)
# Started directly, not through a shell function, so that $! is the generator
# itself (ip and bash exec into it) and the cleanup's kill reaches it.
ip netns exec "$namespace" bash -c 'ulimit -n 20000; exec "$@"' _ "$generator" --port 30000 \
  --listeners 16 --time-wait "$time_wait" --close-wait-orphans 5000 > "$tree/ready" &
generator_pid=$!
for attempt in $(seq 1 1200); do grep -q ready "$tree/ready" && break; sleep 0.1; done
grep -q ready "$tree/ready" || { echo "generator did not get ready"; exit 1; }
generated_ms=$(( ($(date +%s%N) - started) / 1000000 ))
echo "generated in ${generated_ms} ms (TIME_WAIT lives 60 s, so every round below runs within that)"

wall_ms() {  # prints milliseconds of one run of "$@" (output discarded)
  local start end
  start=$(date +%s%N)
  "$@" > /dev/null 2>&1 || true
  end=$(date +%s%N)
  awk "BEGIN {printf \"%.1f\", ($end - $start) / 1000000}"
}
count_of() {
  python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
print(" ".join("%s=%d" % (f["subject"], f["evidence"]["count"]) for f in report["findings"]
               if f["subject"] in ("TIME_WAIT", "CLOSE_WAIT", "FIN_WAIT_2")))' "$1"
}
ss_three() {
  local state
  for state in time-wait close-wait fin-wait-2; do
    in_namespace bash -c "ss -tan state $state | wc -l" > /dev/null
  done
}
audit=(in_namespace "$QHARDEN" audit --root "$tree/census" --rule sockets.stuck --json)
"${audit[@]}" > "$tree/first.json" || true
echo "counts: $(count_of "$tree/first.json") (ss: TIME_WAIT $(in_namespace bash -c 'ss -tan state time-wait | tail -n +2 | wc -l'))"
fast=(in_namespace "$QHARDEN" audit --root "$tree/fast" --rule sockets.stuck --json)
full=(in_namespace "$QHARDEN" audit --root "$tree/full" --rule sockets.stuck --json)
walk=(in_namespace "$QHARDEN" audit --root "$tree/walk" --rule sockets.stuck --json)
method_of() {
  python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
print([f for f in report["findings"] if f["subject"] == "TIME_WAIT"][0]["evidence"].get("census", {}).get("method", "?"))' "$1"
}
"${fast[@]}" > "$tree/fast.json" || true
"${full[@]}" > "$tree/full.json" || true
echo "census methods: fast case $(method_of "$tree/fast.json"), full case $(method_of "$tree/full.json"), thresholds-above case $(method_of "$tree/first.json")"
audit_times=() ss_times=() dump_times=() fast_times=() full_times=() filtered_times=() walk_times=()
for round in $(seq 1 "$rounds"); do
  audit_times+=("$(wall_ms "${audit[@]}")")
  fast_times+=("$(wall_ms "${fast[@]}")")
  full_times+=("$(wall_ms "${full[@]}")")
  walk_times+=("$(wall_ms "${walk[@]}")")
  ss_times+=("$(wall_ms ss_three)")
  dump_times+=("$(wall_ms in_namespace "$generator" --dump)")
  filtered_times+=("$(wall_ms in_namespace "$generator" --dump-without-time-wait)")
done
"${audit[@]}" > "$tree/last.json" || true
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fastest() { printf '%s\n' "$@" | sort -n | head -1; }
audit_ms=$(median "${audit_times[@]}")
ss_ms=$(median "${ss_times[@]}")
dump_ms=$(median "${dump_times[@]}")
echo "counts at the end: $(count_of "$tree/last.json")"
echo "wall (median of $rounds rounds): qharden audit --rule sockets.stuck ${audit_ms} ms;" \
  "ss -tan state {time-wait,close-wait,fin-wait-2} | wc -l ${ss_ms} ms; bare sock_diag dump ${dump_ms} ms"
echo "fastest of $rounds: qharden $(fastest "${audit_times[@]}") ms; ss $(fastest "${ss_times[@]}") ms;" \
  "bare dump $(fastest "${dump_times[@]}") ms (these machines are shared and noisy)"
echo "ratio ss / qharden: $(awk "BEGIN {printf \"%.1f\", $ss_ms / $audit_ms}")x faster (target >= 4x)"
echo "ratio qharden / bare dump: $(awk "BEGIN {printf \"%.2f\", $audit_ms / $dump_ms}")x (target <= 1.5x)"
fast_ms=$(median "${fast_times[@]}")
full_ms=$(median "${full_times[@]}")
echo "issue 15, TIME_WAIT under threshold + CLOSE_WAIT over (sockstat fast path, owner scan included):" \
  "${fast_ms} ms = $(awk "BEGIN {printf \"%.2f\", $fast_ms / $dump_ms}")x bare dump (target <= 0.3x)," \
  "ss $(awk "BEGIN {printf \"%.1f\", $ss_ms / $fast_ms}")x slower (target >= 15x)"
filtered_ms=$(median "${filtered_times[@]}")
echo "bare dump without TIME_WAIT (the kernel still walks every socket): ${filtered_ms} ms =" \
  "$(awk "BEGIN {printf \"%.2f\", $filtered_ms / $dump_ms}")x bare dump: the floor of the fast path"
echo "issue 15, TIME_WAIT over threshold (full walk with ports, owner scan included):" \
  "${full_ms} ms = $(awk "BEGIN {printf \"%.2f\", $full_ms / $dump_ms}")x bare dump (target <= 1.1x)"
walk_ms=$(median "${walk_times[@]}")
echo "the full walk with ports alone (CLOSE_WAIT under its threshold, so no owner scan):" \
  "${walk_ms} ms = $(awk "BEGIN {printf \"%.2f\", $walk_ms / $dump_ms}")x bare dump"

in_namespace "$QHARDEN" audit --root "$tree/owners" --rule sockets.stuck --json > "$tree/owners.json" || true
python3 - "$tree/owners.json" <<'PYTHON'
import json, sys
report = json.load(open(sys.argv[1]))
close_wait = [f for f in report["findings"] if f["subject"] == "CLOSE_WAIT"][0]
scan = close_wait["evidence"].get("owner_scan")
if not scan:
    print("owner scan: did not run"); sys.exit(1)
owners = ", ".join("%s pid %d: %d" % (p["comm"], p["pid"], p["count"]) for p in close_wait["evidence"]["by_process"][:3])
print("owner scan: %d processes, %d fds in %.1f ms = %.2f ms per 1,000 fds (CLOSE_WAIT owners: %s)"
      % (scan["processes"], scan["fds"], scan["ms"], scan["ms"] * 1000.0 / max(scan["fds"], 1), owners))
PYTHON
