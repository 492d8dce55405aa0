#!/usr/bin/env bash
# How qharden's cost grows with the number of services in ONE xinetd file
# (issue 15, "cost that grows with the work, not faster"). For each N the tree
# holds one file with N Plesk-style smtp services that all run tcp-env without
# -R, so every service fails tcp-env.flags and the plan has N changes in one
# file. Prints wall time and peak RSS of `audit` and `plan` beside `grep -c` of
# the same file (the same-run baseline), and each figure's ratio to N's first
# value: linear cost shows ratios close to N's own ratio. Audit RSS is given
# for text, --json and every rule (all --offline). `apply` (offline,
# --no-reload, journal under the tree) runs last, on the same tree.
#
#   QHARDEN=build-release/agent/qharden tests/bench/bench_scaling.sh
#   QHARDEN_SCALING_SIZES="500 1000 2000"   which N to measure (default up to 79,200: 16.0 MiB, the per-file cap)
#   QHARDEN_SCALING_CAP=120                 seconds after which plan is cut off
set -euo pipefail
QHARDEN=${QHARDEN:?}
sizes=${QHARDEN_SCALING_SIZES:-500 1000 2000 4000 16000 60000 79200}  # 79,200: 16,761,343 bytes, just under the 16 MiB cap
cap=${QHARDEN_SCALING_CAP:-120}
work=$(mktemp -d /tmp/qharden-bench-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT

# One tree per N: xinetd.conf with Plesk's defaults, and one included file.
make_tree() {
  local tree=$1 count=$2
  mkdir -p "$tree/etc/xinetd.d"
  printf 'defaults\n{\n\tlog_type\t= SYSLOG daemon info\n\tlog_on_failure\t= HOST\n\tinstances\t= 50\n}\nincludedir /etc/xinetd.d\n' \
    > "$tree/etc/xinetd.conf"
  # Plesk's smtp_psa block (tests/fixtures/hosts/plesk), one per port, with an
  # own id so that xinetd would keep every one.
  awk -v count="$count" 'BEGIN {
    for (i = 1; i <= count; i++) {
      printf "service smtp\n{\n\tid\t\t= smtp_psa_%d\n\ttype\t\t= UNLISTED\n\tport\t\t= %d\n", i, 1024 + i % 60000
      printf "\tsocket_type\t= stream\n\tprotocol\t= tcp\n\twait\t\t= no\n\tuser\t\t= root\n"
      printf "\tserver\t\t= /var/qmail/bin/tcp-env\n\tserver_args\t= /var/qmail/bin/qmail-smtpd\n}\n"
    }
  }' > "$tree/etc/xinetd.d/smtp_psa"
}

# Prints "seconds KiB cpu-seconds" of one run (cpu = user + system, which a
# busy machine does not inflate the way it does wall time), or "> cap" when it
# did not finish in time.
# /usr/bin/time reports the largest RSS among the processes it waited for,
# timeout's child included. qharden exits 2 on these trees (failing checks):
# that is its answer, not an error.
measure() {
  local status=0
  /usr/bin/time -f '%e %M %U %S' -o "$work/time" timeout "$cap" "$@" > /dev/null 2>&1 || status=$?
  if [ "$status" -eq 124 ]; then echo "> cap"; else tail -1 "$work/time" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }'; fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.01; printf "%.1f", a / b }'; }

printf '%7s %9s | %8s %9s %9s %9s | %8s %8s %9s | %8s | %8s %8s | %s\n' N "file KiB" "audit s" "audit KiB" "json KiB" "all KiB" "plan s" "plan cpu" "plan KiB" "apply s" "grep s" "grep KiB" \
  "ratios to first N: N, audit s, audit KiB, plan cpu, grep s"
first_n=""
for count in $sizes; do
  tree="$work/tree$count"
  make_tree "$tree" "$count"
  file="$tree/etc/xinetd.d/smtp_psa"
  file_kib=$(( $(stat -c %s "$file") / 1024 ))
  read -r grep_s grep_kib _ <<< "$(measure grep -c tcp-env "$file")"
  read -r audit_s audit_kib _ <<< "$(measure "$QHARDEN" audit --root "$tree" --offline --rule tcp-env.flags)"
  read -r _ json_kib _ <<< "$(measure "$QHARDEN" audit --root "$tree" --offline --rule tcp-env.flags --json)"
  read -r _ every_kib _ <<< "$(measure "$QHARDEN" audit --root "$tree" --offline)"
  plan_line=$(measure "$QHARDEN" plan --root "$tree" --offline --rule tcp-env.flags)
  if [ "$plan_line" = "> cap" ]; then plan_s="> ${cap}"; plan_kib="-"; plan_cpu="-"; else read -r plan_s plan_kib plan_cpu <<< "$plan_line"; fi
  apply_line=$(measure "$QHARDEN" apply --root "$tree" --offline --no-reload --rule tcp-env.flags)
  if [ "$apply_line" = "> cap" ]; then apply_s="> ${cap}"; else read -r apply_s _ <<< "$apply_line"; fi
  if [ -z "$first_n" ]; then
    first_n=$count first_audit=$audit_s first_audit_kib=$audit_kib first_plan=$plan_cpu first_grep=$grep_s
  fi
  plan_ratio="-"
  case "$plan_cpu" in "-") ;; *) case "$first_plan" in "-") ;; *) plan_ratio=$(ratio "$plan_cpu" "$first_plan") ;; esac ;; esac
  printf '%7s %9s | %8s %9s %9s %9s | %8s %8s %9s | %8s | %8s %8s | %s %s %s %s %s\n' "$count" "$file_kib" "$audit_s" "$audit_kib" "$json_kib" "$every_kib" "$plan_s" "$plan_cpu" "$plan_kib" \
    "$apply_s" "$grep_s" "$grep_kib" "$(ratio "$count" "$first_n")" "$(ratio "$audit_s" "$first_audit")" \
    "$(ratio "$audit_kib" "$first_audit_kib")" "$plan_ratio" "$(ratio "$grep_s" "$first_grep")"
  rm -rf "$tree"
done
echo "audit RSS per input byte at the largest N: $(ratio "$audit_kib" "$file_kib")x text," \
  "$(ratio "$json_kib" "$file_kib")x --json, $(ratio "$every_kib" "$file_kib")x every rule (target: 64 MiB for a 16 MiB file, 4x)"
