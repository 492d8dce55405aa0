#!/usr/bin/env bash
# Offline audit of a generated tree with 200 xinetd service files, 50
# sysctl.d files and 20 run scripts, beside `grep -r tcp-env` over the same
# tree. Reports median wall time of several runs and peak RSS, and the ratios.
set -euo pipefail
QHARDEN=${QHARDEN:?}
runs=${QHARDEN_BENCH_RUNS:-15}
tree=$(mktemp -d /tmp/qharden-bench.XXXXXX)
trap 'rm -rf "$tree"' EXIT

mkdir -p "$tree/etc/xinetd.d" "$tree/etc/sysctl.d" "$tree/run/systemd/system"
printf 'defaults\n{\n\tlog_on_success = HOST PID\n\tinstances = 60\n}\nincludedir /etc/xinetd.d\n' > "$tree/etc/xinetd.conf"
for i in $(seq 1 200); do
  if [ $((i % 2)) -eq 0 ]; then args="-Rt0 /usr/sbin/rblsmtpd -r zen.spamhaus.org /var/qmail/bin/qmail-smtpd"; else args="/var/qmail/bin/qmail-smtpd"; fi
  printf 'service smtp%d\n{\n\tsocket_type\t= stream\n\tprotocol\t= tcp\n\twait\t\t= no\n\tuser\t\t= root\n\tport\t\t= %d\n\ttype\t\t= UNLISTED\n\tserver\t\t= /var/qmail/bin/tcp-env\n\tserver_args\t= %s\n}\n' \
    "$i" $((10000 + i)) "$args" > "$tree/etc/xinetd.d/smtp$i"
done
for i in $(seq 1 50); do
  printf '# generated %d\nnet.ipv4.tcp_fin_timeout = %d\nnet.ipv4.tcp_keepalive_time = 600\nvm.swappiness = 10\n' "$i" $((20 + i % 30)) \
    > "$tree/etc/sysctl.d/$(printf '%02d' "$i")-bench.conf"
done
for i in $(seq 1 20); do
  mkdir -p "$tree/service/smtpd$i"
  printf '#!/bin/sh\nexec 2>&1\nexec envuidgid qmaild softlimit -m 2000000 \\\n  tcpserver -v -R -l 0 -x /etc/tcp.smtp.cdb -c 20 -u 1001 -g 1001 0 %d \\\n  rblsmtpd -r zen.spamhaus.org /var/qmail/bin/qmail-smtpd\n' $((2500 + i)) \
    > "$tree/service/smtpd$i/run"
done
printf 'nameserver 127.0.0.1\n' > "$tree/etc/resolv.conf"

median_ms() {
  local command=("$@") times=() start end index
  for index in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    "${command[@]}" > /dev/null 2>&1 || true
    end=$(date +%s%N)
    times+=($(( (end - start) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
peak_rss_kib() {
  # qharden exits 2 on this tree (critical failures): that is its answer, not an error.
  { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null || true; } | tail -1
}

audit=("$QHARDEN" audit --offline --root "$tree" --json)
baseline=(grep -r tcp-env "$tree")
"${audit[@]}" > "$tree/report.json" || true
findings=$(grep -c '"rule"' "$tree/report.json")
audit_ms=$(median_ms "${audit[@]}")
grep_ms=$(median_ms "${baseline[@]}")
startup_ms=$(median_ms "$QHARDEN" --version)
audit_rss=$(peak_rss_kib "${audit[@]}")
grep_rss=$(peak_rss_kib "${baseline[@]}")
echo "tree: 200 xinetd services, 50 sysctl.d files, 20 run scripts; $findings findings"
echo "wall (median of $runs): qharden audit ${audit_ms} ms, grep -r tcp-env ${grep_ms} ms, ratio $(awk "BEGIN {printf \"%.1f\", $audit_ms / $grep_ms}")x"
echo "startup floor (qharden --version): ${startup_ms} ms, so the audit's own work is $(awk "BEGIN {printf \"%.2f\", $audit_ms - $startup_ms}") ms"
echo "peak RSS: qharden audit ${audit_rss} KiB, grep -r tcp-env ${grep_rss} KiB, ratio $(awk "BEGIN {printf \"%.1f\", $audit_rss / $grep_rss}")x"
