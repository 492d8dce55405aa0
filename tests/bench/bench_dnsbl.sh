#!/usr/bin/env bash
# rblsmtpd.sources on 64 DNSBL zones, 16 of them silent (timeout 1 s, tries 1),
# against real unbound in a network namespace, beside the same test-point
# checks made one after another with dig in the same run. dig asks TXT and A at
# 2.0.0.127 and 1.0.0.127 per zone and moves on to the next zone after its
# first timeout, as a careful sequential script would. Needs root.
# Targets: qharden <= 1.3 x the timeout, >= 10 x faster than sequential dig.
QHARDEN=${QHARDEN:?}
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: needs root (network namespace, unbound)"
  exit 0
fi
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/../integration/dns_lib.sh"
require_root
runs=${QHARDEN_BENCH_RUNS:-5}
namespace=qh-bench-dnsbl-$$
make_namespace "$namespace"
dns_workdir
dns_server_new bench
zones=()
for index in $(seq 1 64); do
  if [ $((index % 4)) -eq 0 ]; then
    zone=silent$index.bench.test
    dns_silent_zone bench "$zone"
  else
    zone=list$index.bench.test
    dns_dnsbl_zone bench "$zone"
  fi
  zones+=("$zone")
done
dns_server_start "$namespace" bench 127.0.0.10
tree=$DNS_WORKDIR/tree
mkdir -p "$tree/etc/qharden" "$tree/service/smtpd"
echo "nameserver 127.0.0.10" > "$tree/etc/resolv.conf"
printf '[paths]\nrun_scripts = ["/service/*/run"]\n[rules."rblsmtpd.sources"]\ntimeout_ms = 1000\ntries = 1\n' \
  > "$tree/etc/qharden/qharden.toml"
arguments=""
for zone in "${zones[@]}"; do arguments+=" -r $zone"; done
printf '#!/bin/sh\nexec tcpserver -R 0 25 rblsmtpd%s qmail-smtpd\n' "$arguments" > "$tree/service/smtpd/run"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
times=()
for run in $(seq 1 "$runs"); do
  start=$(now_ms)
  ip netns exec "$namespace" "$QHARDEN" audit --root "$tree" --rule rblsmtpd.sources --json \
    > "$DNS_WORKDIR/report.json" || true
  times+=($(( $(now_ms) - start )))
done
qharden_ms=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
verdicts=$(python3 -c 'import json,sys,collections
report=json.load(open(sys.argv[1]))
print(dict(collections.Counter(f["evidence"].get("verdict") for f in report["findings"] if f["rule"]=="rblsmtpd.sources")))' \
  "$DNS_WORKDIR/report.json")

start=$(now_ms)
for zone in "${zones[@]}"; do
  for query in "2.0.0.127.$zone TXT" "2.0.0.127.$zone A" "1.0.0.127.$zone TXT" "1.0.0.127.$zone A"; do
    # shellcheck disable=SC2086
    ip netns exec "$namespace" dig +time=1 +tries=1 @127.0.0.10 $query > "$DNS_WORKDIR/dig.out" 2>&1 || true
    grep -q "timed out" "$DNS_WORKDIR/dig.out" && break
  done
done
dig_ms=$(( $(now_ms) - start ))

echo "zones: 64 (16 silent), timeout 1000 ms, tries 1; verdicts $verdicts"
echo "qharden audit --rule rblsmtpd.sources: ${qharden_ms} ms (median of $runs, process start included)"
echo "sequential dig, same checks: ${dig_ms} ms"
echo "ratio to the timeout: $(awk "BEGIN {printf \"%.2f\", $qharden_ms / 1000}")x (target <= 1.3x)"
echo "speed-up over sequential dig: $(awk "BEGIN {printf \"%.1f\", $dig_ms / $qharden_ms}")x (target >= 10x)"
awk "BEGIN {exit !($qharden_ms <= 1300 && $dig_ms >= 10 * $qharden_ms)}"
