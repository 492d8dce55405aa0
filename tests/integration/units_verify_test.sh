#!/usr/bin/env bash
# The shipped units: `systemd-analyze verify` is clean with the built binaries
# in ExecStart; `systemd-analyze security --offline=true` rates the resident
# qhardend.service at most 1.5 and the fixer, the reader and the audit at most
# 3.0; the reader can write nothing; every
# capability kept is justified; the D-Bus activation file names the unit;
# qhardend.service is not restarted after exit 3 (bad usage or config); and
# `qharden audit --textfile` (qharden-audit.service's command) writes the
# Prometheus textfile into the configured folder.
source "$(dirname "$0")/lib.sh"
require_root
require_program systemd-analyze
SOURCE_DIR=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
QHARDEND=$(dirname "$QHARDEN")/qhardend
units=$SOURCE_DIR/units

work=$(make_tree)
defer "rm -rf '$work'"  # make_tree runs in a subshell, so its own defer is lost
FIXER=$(dirname "$QHARDEN")/qharden-fixer
cp "$units/qhardend.service" "$units/qharden-audit.service" "$units/qharden-audit.timer" \
  "$units/qharden-fixer.socket" "$units/qharden-fixer@.service" \
  "$units/qharden-reader.socket" "$units/qharden-reader@.service" "$work/"
sed -i "s|/usr/sbin/qhardend|$(realpath "$QHARDEND")|; s|/usr/sbin/qharden |$(realpath "$QHARDEN") |;
        s|/usr/libexec/qharden-fixer|$(realpath "$FIXER")|" \
  "$work/qhardend.service" "$work/qharden-audit.service" "$work/qharden-fixer@.service" \
  "$work/qharden-reader@.service"
check "ExecStart points at the built qhardend" grep -q "^ExecStart=$(realpath "$QHARDEND") " "$work/qhardend.service"
check "ExecStart points at the built fixer" grep -q "^ExecStart=$(realpath "$FIXER") " "$work/qharden-fixer@.service"

# verify runs man(1) for each Documentation=man: page. They are not installed
# here, so man looks in the build tree's (absent without QHARDEN_MANPAGES).
man_dir=$(dirname "$QHARDEN")/man
man_check=--man=no
[ ! -d "$man_dir/man8" ] || man_check=--man=yes
verify_status=0
verify_output=$(cd "$work" && MANPATH=$man_dir systemd-analyze verify "$man_check" \
  ./qhardend.service ./qharden-audit.service \
  ./qharden-audit.timer ./qharden-fixer.socket ./qharden-fixer@.service ./qharden-reader.socket \
  ./qharden-reader@.service 2>&1) || verify_status=$?
echo "$verify_output" | sed 's/^/      /'
check "systemd-analyze verify exits 0" [ "$verify_status" -eq 0 ]
check "systemd-analyze verify says nothing" [ -z "$verify_output" ]

for limit in qhardend.service:1.5 qharden-fixer@.service:3.0 qharden-reader@.service:3.0 \
  qharden-audit.service:3.0; do
  unit=${limit%%:*}
  score=$(systemd-analyze security --offline=true "$work/$unit" 2>/dev/null \
    | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "      security score of $unit: ${score:-none}"
  check "$unit has a security score" [ -n "$score" ]
  check "$unit scores at most ${limit#*:} ($score)" \
    awk -v score="${score:-99}" -v limit="${limit#*:}" 'BEGIN { exit !(score <= limit) }'
done
check "qhardend.service runs as qharden with no capability" bash -c "
  grep -q '^User=qharden$' '$units/qhardend.service' &&
  grep -q '^CapabilityBoundingSet=$' '$units/qhardend.service' &&
  ! grep -q '^ReadWritePaths=' '$units/qhardend.service' &&
  ! grep -q '^StateDirectory=' '$units/qhardend.service'"
for socket_unit in qharden-fixer.socket qharden-reader.socket; do
  check "$socket_unit admits only root and group qharden" bash -c "
    grep -q '^SocketGroup=qharden$' '$units/$socket_unit' &&
    grep -q '^SocketMode=0660$' '$units/$socket_unit' &&
    grep -q '^Accept=yes$' '$units/$socket_unit'"
done
check "the fixer serves fixes and the reader reads only" bash -c "
  grep -q '^ExecStart=.* --serve fixes ' '$units/qharden-fixer@.service' &&
  grep -q '^ExecStart=.* --serve reads ' '$units/qharden-reader@.service'"
check "the reader has no write path and no capability that writes" bash -c "
  ! grep -q '^ReadWritePaths=\\|^StateDirectory=' '$units/qharden-reader@.service' &&
  ! grep -q '^CapabilityBoundingSet=.*\\(CHOWN\\|FOWNER\\|DAC_OVERRIDE\\|SYS_ADMIN\\)' '$units/qharden-reader@.service'"
check "the fixer's write paths are folders, each justified" bash -c "
  for path in \$(sed -n 's/^ReadWritePaths=//p' '$units/qharden-fixer@.service' | tr ' ' '\\n' | grep -v '^/proc/sys/'); do
    path=\${path#-}
    [ -d \"\$path\" ] || [ ! -e \"\$path\" ] || exit 1
    grep -q \"^# \$path \\|^# \$path\\$\\|^# .*\$path\" '$units/qharden-fixer@.service' || exit 1
  done"
check "qhardend.service is Type=notify with a watchdog" \
  bash -c "grep -q '^Type=notify$' '$units/qhardend.service' && grep -q '^WatchdogSec=' '$units/qhardend.service'"
# qhardend exits 3 for bad usage and a bad config: systemd must not retry those.
check "qhardend.service is not restarted after exit 3" \
  bash -c "grep -q '^Restart=on-failure$' '$units/qhardend.service' &&
    grep -q '^RestartPreventExitStatus=3$' '$units/qhardend.service'"
# iptables-legacy-save reads /proc/net/ip_tables_names and a raw socket: with
# either hidden it prints nothing and exits 0, and legacy rules look absent.
check "the reader can run iptables-legacy-save" bash -c "
  ! grep -q '^ProcSubset=pid' '$units/qharden-reader@.service' &&
  grep -q '^RestrictAddressFamilies=.*AF_INET .*AF_INET6' '$units/qharden-reader@.service'"
check "the hourly audit keeps the reads the CLI makes itself" bash -c "
  grep -q '^CapabilityBoundingSet=.*CAP_SYS_PTRACE' '$units/qharden-audit.service' &&
  grep -q '^CapabilityBoundingSet=.*CAP_DAC_READ_SEARCH' '$units/qharden-audit.service'"
for helper in qharden-fixer@.service qharden-reader@.service qharden-audit.service; do
  check "each capability $helper keeps is justified in a comment" bash -c "
    for capability in \$(sed -n 's/^CapabilityBoundingSet=//p' '$units/$helper'); do
      grep -q \"^# .*\$capability\" '$units/$helper' || exit 1
    done"
done
check "the timer is hourly, randomized and persistent" bash -c "
  grep -q '^OnCalendar=hourly$' '$units/qharden-audit.timer' &&
  grep -q '^RandomizedDelaySec=' '$units/qharden-audit.timer' &&
  grep -q '^Persistent=true$' '$units/qharden-audit.timer'"
check "the activation file names the bus name and the unit" bash -c "
  grep -q '^Name=org.qharden.Agent1$' '$units/org.qharden.Agent1.service' &&
  grep -q '^SystemdService=qhardend.service$' '$units/org.qharden.Agent1.service'"

# qharden-audit.service's command against a tree with a textfile folder set.
tree=$work/tree
mkdir -p "$tree/etc/qharden" "$tree/metrics"
cp -a "$SOURCE_DIR/tests/fixtures/hosts/plesk/." "$tree/"
printf '[paths]\nprometheus_textfile_dir = "/metrics"\n' > "$tree/etc/qharden/qharden.toml"
textfile_status=0
"$QHARDEN" audit --textfile --offline --root "$tree" > "$work/textfile.out" 2>&1 || textfile_status=$?
check "audit --textfile exits 2 on the unfixed tree ($textfile_status)" [ "$textfile_status" -eq 2 ]
check "the textfile is written" test -s "$tree/metrics/qharden.prom"
check "it holds the failing smtp_psa finding" \
  grep -q 'qharden_finding{rule="tcp-env.flags",subject="/etc/xinetd.d/smtp_psa:smtp".*} 1' "$tree/metrics/qharden.prom"
check "no temporary file is left behind" [ "$(ls -A "$tree/metrics")" = "qharden.prom" ]
printf '[paths]\nprometheus_textfile_dir = ""\n' > "$tree/etc/qharden/qharden.toml"
rm -f "$tree/metrics/qharden.prom"
"$QHARDEN" audit --textfile --offline --root "$tree" > /dev/null 2>&1 || true
check "with no folder configured nothing is written" [ -z "$(ls -A "$tree/metrics")" ]
finish
