#!/usr/bin/env bash
# dnsbl.self on 4 sending addresses x 12 DNSBL zones, 3 of them silent
# (timeout 1 s, tries 1), against real unbound in a network namespace, beside
# the same checks made one after another with dig in the same run (each zone's
# two test points, then each address; on to the next zone after its first
# timeout, as a careful sequential script would). Needs root.
# Target (issue 14): one audit <= 1.3 x the DNS timeout.
QHARDEN=${QHARDEN:?}
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root (network namespace, unbound)"
  exit 0
fi
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/dns_lib.sh"
require_root
runs=${QHARDEN_BENCH_RUNS:-5}
timeout_ms=1000
namespace=qh-bench-self-$$
make_namespace "$namespace"
dns_workdir
dns_server_new bench
addresses=(192.0.2.1 192.0.2.2 198.51.100.3 203.0.113.4)
zones=()
for index in $(seq 1 12); do
  if [ $((index % 4)) -eq 0 ]; then
    zone=silent$index.bench.test
    dns_silent_zone bench "$zone"
  else
    zone=list$index.bench.test
    dns_dnsbl_zone bench "$zone"
    # Every third zone lists the first address, so listings are judged too.
    [ $((index % 3)) -eq 0 ] && dns_listing bench "$zone" 192.0.2.1 127.0.0.2
  fi
  zones+=("$zone")
done
dns_server_start "$namespace" bench 127.0.0.10
tree=$DNS_WORKDIR/tree
mkdir -p "$tree/etc/qharden"
quoted() { local item list=""; for item in "$@"; do list+="${list:+, }\"$item\""; done; echo "$list"; }
printf '[rules."dnsbl.self"]\nzones = [%s]\naddresses = [%s]\nresolvers = ["127.0.0.10"]\ntimeout_ms = %d\ntries = 1\n' \
  "$(quoted "${zones[@]}")" "$(quoted "${addresses[@]}")" "$timeout_ms" > "$tree/etc/qharden/qharden.toml"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
times=()
for run in $(seq 1 "$runs"); do
  start=$(now_ms)
  ip netns exec "$namespace" "$QHARDEN" audit --root "$tree" --rule dnsbl.self --json \
    > "$DNS_WORKDIR/report.json" || true
  times+=($(( $(now_ms) - start )))
done
qharden_ms=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
verdicts=$(python3 -c 'import json,sys,collections
report=json.load(open(sys.argv[1]))
print(dict(collections.Counter(f["evidence"].get("verdict") for f in report["findings"] if f["rule"]=="dnsbl.self")))' \
  "$DNS_WORKDIR/report.json")

reversed() { echo "$1" | awk -F. '{print $4"."$3"."$2"."$1}'; }
start=$(now_ms)
for zone in "${zones[@]}"; do
  names=("2.0.0.127.$zone" "1.0.0.127.$zone")
  for address in "${addresses[@]}"; do names+=("$(reversed "$address").$zone"); done
  for name in "${names[@]}"; do
    ip netns exec "$namespace" dig +time=1 +tries=1 @127.0.0.10 "$name" A > "$DNS_WORKDIR/dig.out" 2>&1 || true
    grep -q "timed out" "$DNS_WORKDIR/dig.out" && break
  done
done
dig_ms=$(( $(now_ms) - start ))

echo "addresses: 4, zones: 12 (3 silent), timeout ${timeout_ms} ms, tries 1; verdicts $verdicts"
echo "qharden audit --rule dnsbl.self: ${qharden_ms} ms (median of $runs, process start included; runs: ${times[*]})"
echo "sequential dig, same checks: ${dig_ms} ms"
echo "ratio to the timeout: $(awk "BEGIN {printf \"%.2f\", $qharden_ms / $timeout_ms}")x (target <= 1.3x)"
echo "speed-up over sequential dig: $(awk "BEGIN {printf \"%.1f\", $dig_ms / $qharden_ms}")x"
awk "BEGIN {exit !($qharden_ms <= 1.3 * $timeout_ms)}"
