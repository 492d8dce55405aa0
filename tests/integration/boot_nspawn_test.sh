#!/usr/bin/env bash
# Boot test: a Debian 12 rootfs made with mmdebstrap, with qharden installed
# by `cmake --install` (the real install rules and units), booted with
# `systemd-nspawn -b` under its own systemd and system D-Bus:
# - qhardend.service is active, reported ready (Type=notify), not restarted;
# - `busctl call ... Audit` answers on the system bus, as root and as nobody,
#   and nobody still gets AccessDenied for Apply (the installed bus policy);
# - `qharden status` reaches the agent;
# - qharden-audit.timer is enabled, active and listed by `systemctl list-timers`,
#   and one run of qharden-audit.service succeeds under its own sandbox.
# The rootfs gets a Plesk host's xinetd files, so the audit finds smtp_psa
# without -R, and root's Apply (tcp-env.flags, sysctl.tcp-fin-timeout,
# firewall.ident-reject) has to work from inside the hardened unit: this is
# the only test that runs the agent under qhardend.service itself.
# The container has a network namespace of its own: the agent re-asserts the
# ident REJECT rule at start, and that must never touch this machine's netfilter.
#
# The rootfs tarball is cached in /var/cache/qharden-tests, keyed by the
# packages (and their versions on this machine) that the built binaries link
# against, so a rerun only unpacks it; a fresh machine builds it (about 100 s).
# Skipped (77) only where mmdebstrap cannot run here: not root, mmdebstrap or
# systemd-nspawn missing, no mount namespaces, or no cached rootfs and the
# Debian mirror unreachable. Every other problem fails the test.
source "$(dirname "$0")/lib.sh"
skip() { echo "SKIP: $*"; exit $SKIP; }
[ "$(id -u)" -eq 0 ] || skip "needs root: mmdebstrap builds the rootfs as root, and systemd-nspawn boots it"
for program in mmdebstrap systemd-nspawn; do
  command -v "$program" >/dev/null 2>&1 ||
    skip "$program is not installed, so no rootfs can be built and booted (packaging/bootstrap.sh test installs it)"
done
for program in nsenter chroot pgrep setsid cmake dpkg-query ldd tar flock sha256sum; do require_program "$program"; done
unshare -m true 2>/dev/null || skip "this machine cannot create mount namespaces, which mmdebstrap and systemd-nspawn need"

QHARDEND=$(dirname "$QHARDEN")/qhardend
[ -x "$QHARDEND" ] || { echo "FAIL: no qhardend beside $QHARDEN"; exit 1; }
# QHARDEN is BUILD/agent/qharden; `cmake --install` wants BUILD.
build_dir=$(cd "$(dirname "$QHARDEN")/.." && pwd)
[ -f "$build_dir/cmake_install.cmake" ] || { echo "FAIL: $build_dir is not the build directory of $QHARDEN"; exit 1; }

suite=bookworm
cache_dir=${QHARDEN_TEST_CACHE:-/var/cache/qharden-tests}
boot_timeout=${QHARDEN_BOOT_TIMEOUT:-120}

# What the container needs: systemd as init, the system bus, iptables for the
# ident rule the agent re-asserts at start, and the Debian packages that own
# every shared library the two binaries load. The libraries are found with
# ldd, so a sanitizer build (libasan8, libubsan1) gets what it needs too.
base_packages=(systemd dbus iptables)
library_packages() {
  local libraries library owners
  libraries=$(ldd "$QHARDEN" "$QHARDEND" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*[^:]$/ { print $1 }' | sort -u)
  # bookworm's dpkg database still names most libraries under /lib, while
  # ldd may report /usr/lib (merged /usr): ask for both spellings, at once.
  owners=$(for library in $libraries; do echo "$library" "${library#/usr}" "/usr$library"; done |
    xargs dpkg-query -S 2>/dev/null || true)
  for library in $libraries; do
    sed 's/.*: //' <<< "$owners" | grep -qxF -e "${library#/usr}" -e "/usr${library#/usr}" || { echo "FAIL: no Debian package owns $library" >&2; return 1; }
  done
  sed 's/: .*//; s/:[a-z0-9]*//g; s/, /\n/g' <<< "$owners" | sort -u
}
libraries=$(library_packages) || exit 1
packages=$(printf '%s\n' "${base_packages[@]}" $libraries | sort -u)
# The key holds this machine's versions of the libraries: binaries built
# against a newer library than the cached rootfs has get a fresh rootfs.
key_text=$(
  echo "suite=$suite variant=minbase format=1 mirror=${QHARDEN_BOOT_MIRROR:-default}"
  for package in $packages; do
    echo "$package=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)"
  done
)
key=$(echo "$key_text" | sha256sum | cut -c1-16)
tarball=$cache_dir/boot-rootfs-$key.tar

mkdir -p "$cache_dir"
# One builder at a time (two builds, or CI jobs, may share the cache).
exec 9> "$cache_dir/boot-rootfs.lock"
flock -w 900 9 || { echo "FAIL: another run held $cache_dir/boot-rootfs.lock for 15 minutes"; exit 1; }
if [ ! -f "$tarball" ]; then
  # mmdebstrap without a mirror uses deb.debian.org (plus -updates and
  # -security for a stable suite); QHARDEN_BOOT_MIRROR names another (a URI,
  # or a sources.list line). Ask apt, with this machine's apt settings,
  # whether the mirror answers before blaming mmdebstrap.
  mirror_uri=http://deb.debian.org/debian
  if [ -n "${QHARDEN_BOOT_MIRROR:-}" ]; then
    mirror_uri=$(grep -o '[a-z+]*://[^ ]*' <<< "$QHARDEN_BOOT_MIRROR" | head -1)
    mirror_uri=${mirror_uri%/}
  fi
  probe=$(mktemp)
  if ! timeout 60 /usr/lib/apt/apt-helper download-file \
      "$mirror_uri/dists/$suite/InRelease" "$probe" > "$probe.log" 2>&1; then
    sed 's/^/      /' "$probe.log"
    rm -f "$probe" "$probe.log"
    skip "no cached rootfs ($tarball) and the Debian mirror $mirror_uri is unreachable, so mmdebstrap cannot run"
  fi
  rm -f "$probe" "$probe.log"
  echo "building the $suite rootfs into $tarball (packages: $(echo $packages))"
  rm -f "$tarball.partial"  # left by a run that was killed while building
  started=$(date +%s)
  build_log=$cache_dir/boot-rootfs-$key.log
  # mmdebstrap's apt does not read this machine's apt.conf: pass its proxy
  # (an apt-cacher-ng in CI, say) on.
  apt_options=()
  for scheme in http https; do
    proxy=$(apt-config dump "Acquire::$scheme::Proxy" 2>/dev/null | sed -n "s/^Acquire::$scheme::Proxy \"\(.*\)\";$/\1/p")
    [ -n "$proxy" ] && apt_options+=(--aptopt="Acquire::$scheme::Proxy \"$proxy\"")
  done
  # minbase plus the packages above; no documentation, man pages or locales,
  # which only make the tarball slower to unpack.
  if ! mmdebstrap --variant=minbase --format=tar --include="$(echo $packages | tr ' ' ',')" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' "${apt_options[@]}" \
      "$suite" "$tarball.partial" ${QHARDEN_BOOT_MIRROR:+"$QHARDEN_BOOT_MIRROR"} > "$build_log" 2>&1; then
    tail -40 "$build_log" | sed 's/^/      /'
    rm -f "$tarball.partial"
    echo "FAIL: mmdebstrap could not build the rootfs (log: $build_log)"
    exit 1
  fi
  mv "$tarball.partial" "$tarball"
  echo "$key_text" > "$cache_dir/boot-rootfs-$key.packages"
  echo "      built in $(($(date +%s) - started)) s"
fi
# mtime is "last used": tarballs no build has used for 30 days are removed.
touch "$tarball" "$cache_dir/boot-rootfs-$key".*
find "$cache_dir" -maxdepth 1 -name 'boot-rootfs-*' ! -name 'boot-rootfs.lock' -mtime +30 -delete 2>/dev/null || true
flock -u 9

work=$(make_tree)
defer "rm -rf '$work'"  # make_tree runs in a subshell, so its own defer is lost
root=$work/root
mkdir "$root"
tar -C "$root" --numeric-owner -xpf "$tarball"
DESTDIR=$root cmake --install "$build_dir" --prefix /usr > "$work/install.log" 2>&1 ||
  { cat "$work/install.log"; echo "FAIL: cmake --install into the rootfs"; exit 1; }
check "qhardend is installed in /usr/sbin" test -x "$root/usr/sbin/qhardend"
check "qharden is installed in /usr/sbin" test -x "$root/usr/sbin/qharden"
check "the bus policy is installed where dbus-daemon reads it" test -f "$root/usr/share/dbus-1/system.d/org.qharden.Agent1.conf"
check "the activation file is installed" test -f "$root/usr/share/dbus-1/system-services/org.qharden.Agent1.service"
missing=$(chroot "$root" ldd /usr/sbin/qhardend /usr/sbin/qharden 2>&1 | grep 'not found' || true)
check "every library the binaries load is in the rootfs ${missing:+($missing)}" [ -z "$missing" ]
# The rootfs's own systemctl enables offline in a chroot, as a package's
# postinst would; this machine needs no systemd of its own.
chroot "$root" systemctl enable qhardend.service qharden-audit.timer > "$work/enable.log" 2>&1 ||
  { cat "$work/enable.log"; echo "FAIL: systemctl enable in the rootfs"; exit 1; }
# A sanitizer build (the ASan+UBSan tier): LeakSanitizer stops the world
# with ptrace at exit, which the units' SystemCallFilter rightly denies, so it
# would turn every clean stop into "LeakSanitizer has encountered a fatal
# error". These drop-ins exist only in this rootfs: leaks are checked by the
# other tiers, while ASan and UBSan errors here abort the agent (and fail us).
if ldd "$QHARDEND" | grep -qE 'lib(asan|ubsan)\.'; then
  for unit in qhardend.service qharden-audit.service; do
    mkdir -p "$root/etc/systemd/system/$unit.d"
    printf '[Service]\nEnvironment=%s %s\n' 'ASAN_OPTIONS=detect_leaks=0:abort_on_error=1' \
      'UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1' > "$root/etc/systemd/system/$unit.d/sanitizer.conf"
  done
  echo "      sanitizer build: leak detection off inside the units (see the comment)"
fi
# A Plesk host's xinetd files (smtp_psa runs tcp-env without -R), so the
# audit has something real to find and Apply something to fix, through the
# unit's sandbox (ProtectSystem=strict with /etc/xinetd.d writable).
SOURCE_DIR=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
cp -a "$SOURCE_DIR/tests/fixtures/hosts/plesk/etc/xinetd.conf" "$SOURCE_DIR/tests/fixtures/hosts/plesk/etc/xinetd.d" "$root/etc/"
# A persistent journal in the rootfs outlives the container, for the report.
mkdir -p "$root/var/log/journal"
echo "qharden-boot" > "$root/etc/hostname"

# --register=no: no machined needed. Where systemd is this machine's init,
# nspawn puts the container in a transient scope of its own through the
# system bus, its usual mode; elsewhere (a CI VM or container with another
# init, no system bus) --keep-unit makes it stay in the test's own cgroup.
# --private-network: the agent's ident rule and sysctl fixes stay inside.
# --link-journal=no keeps the journal in the rootfs; --resolv-conf and
# --timezone off leave the rootfs's own files alone.
scope_options=()
[ -d /run/systemd/system ] || scope_options=(--keep-unit)
machine=qharden-boot-${work##*.}
machine=${machine,,}
nspawn_log=$work/nspawn.log
systemd-nspawn --directory="$root" --boot --machine="$machine" --register=no "${scope_options[@]}" \
  --private-network --link-journal=no --resolv-conf=off --timezone=off \
  --console=read-only < /dev/null > "$nspawn_log" 2>&1 &
nspawn_pid=$!
# Tear-down when a check or the script dies early: ask for an orderly
# shutdown, then kill the container's init (its pid namespace dies with it).
defer "kill -TERM $nspawn_pid; for i in \$(seq 1 30); do kill -0 $nspawn_pid || break; sleep 1; done; \
  [ -n \"\${init_pid:-}\" ] && kill -KILL \$init_pid; kill -KILL $nspawn_pid; wait $nspawn_pid; \
  rm -rf '/run/systemd/nspawn/propagate/$machine'"

# The container's init is nspawn's descendant whose pid in its own namespace
# is 1 (the last NSpid field of /proc/PID/status).
find_init() {
  local pid
  for pid in $(pgrep -P "$nspawn_pid") $(pgrep -P "$nspawn_pid" | xargs -r -n1 pgrep -P); do
    [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status" 2>/dev/null)" = 1 ] && { echo "$pid"; return 0; }
  done
  return 1
}
init_pid=
for attempt in $(seq 1 100); do
  init_pid=$(find_init) && break
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$init_pid" ] || { sed 's/^/      /' "$nspawn_log"; echo "FAIL: the container did not start"; exit 1; }
# ctest kills a test that overruns its timeout with SIGKILL: no trap runs,
# nspawn dies, and the container's init lives on, reparented. A watchdog in a
# session of its own (setsid -f, so not a descendant either) kills it, and
# removes the scratch folder, once this script is gone. The init's start
# time guards against a reused pid.
init_started=$(awk '{ print $22 }' "/proc/$init_pid/stat")
setsid -f bash -c '
  while kill -0 "$1" 2>/dev/null && [ -d "/proc/$2" ]; do sleep 2; done
  if [ "$(awk "{ print \$22 }" "/proc/$2/stat" 2>/dev/null)" = "$3" ]; then
    kill -KILL "$2"
    sleep 1
    rm -rf "$4" "/run/systemd/nspawn/propagate/$5"
  fi' watchdog "$$" "$init_pid" "$init_started" "$test_scratch" "$machine" < /dev/null > /dev/null 2>&1

# inside COMMAND...: runs COMMAND in every namespace of the container, with a
# clean environment (nothing of the test's own shell leaks in).
inside() {
  nsenter --target "$init_pid" --all env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

# The container's journal: read inside while it runs; from the rootfs's
# persistent journal once it is gone.
print_journal() {
  local reader=(journalctl --no-pager -o short-monotonic)
  if kill -0 "$nspawn_pid" 2>/dev/null; then
    reader=(inside "${reader[@]}" -b)
  else
    reader=(chroot "$root" "${reader[@]}" --directory=/var/log/journal)
  fi
  echo "---- container journal: qhardend, dbus, qharden-audit ----"
  "${reader[@]}" -u qhardend.service -u dbus.service -u qharden-audit.service 2>&1 | tail -80 | sed 's/^/      /'
  echo "---- container journal: the last 60 lines ----"
  "${reader[@]}" 2>&1 | tail -60 | sed 's/^/      /'
  echo "---- systemd-nspawn ----"
  sed 's/^/      /' "$nspawn_log"
}

booted_at=$(date +%s.%N)
# `is-system-running --wait` needs the manager's private socket, which appears
# a moment after init starts.
for attempt in $(seq 1 $((boot_timeout * 10))); do
  inside test -S /run/systemd/private && break
  kill -0 "$nspawn_pid" 2>/dev/null || break
  sleep 0.1
done
state=$(inside timeout "$boot_timeout" systemctl is-system-running --wait 2>&1) || true
echo "      boot: system state '$state' after $(awk -v s="$booted_at" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
# "degraded" is a unit of the container's own failing (which ones depends on
# the machine that hosts it); it is shown, and only a qharden unit fails us.
check "the container boots (system state '$state')" bash -c '[ "$1" = running ] || [ "$1" = degraded ]' _ "$state"
failed_units=$(inside systemctl --failed --no-pager --plain --no-legend 2>&1) || true
[ -n "$failed_units" ] && echo "$failed_units" | sed 's/^/      failed unit: /'
check "no qharden unit failed" lacks "$failed_units" "qharden"

active=$(inside systemctl is-active qhardend.service 2>&1) || true
check "qhardend.service is active ($active)" [ "$active" = active ]
show=$(inside systemctl show qhardend.service -p Type -p SubState -p NRestarts -p MainPID -p StatusErrno 2>&1) || true
echo "$show" | sed 's/^/      /'
check "qhardend is running as its unit's main process" contains "$show" "SubState=running"
check "qhardend was not restarted" contains "$show" "NRestarts=0"

audit_status=0
audit=$(inside busctl --timeout=120 call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Audit as 0 2>&1) ||
  audit_status=$?
echo "      Audit as root: ${audit:0:300}"
check "busctl call Audit answers as root (exit $audit_status)" [ "$audit_status" -eq 0 ]
check "Audit returns findings a(sssssb)" bash -c '[[ "$1" =~ ^a\(sssssb\)\ [1-9][0-9]*\  ]]' _ "$audit"
check "Audit finds smtp_psa's tcp-env without -R" \
  contains "$audit" '"tcp-env.flags" "/etc/xinetd.d/smtp_psa:smtp" "fail" "critical"'
# Inside the unit's sandbox every file read must work (an ENOSYS here was
# RestrictSUIDSGID's seccomp filter refusing openat2).
check "no finding says a system call is missing" lacks "$audit" "Function not implemented"

nobody_status=0
nobody=$(inside setpriv --reuid=nobody --regid=nogroup --clear-groups \
  busctl --timeout=120 call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Audit as 1 tcp-env.flags 2>&1) ||
  nobody_status=$?
echo "      Audit as nobody: ${nobody:0:300}"
check "busctl call Audit answers as nobody (exit $nobody_status)" [ "$nobody_status" -eq 0 ]
check "nobody's Audit finds smtp_psa failing" contains "$nobody" '"/etc/xinetd.d/smtp_psa:smtp" "fail"'
# dbus-send, unlike busctl, prints the error name.
denied=$(inside setpriv --reuid=nobody --regid=nogroup --clear-groups \
  dbus-send --system --print-reply --reply-timeout=60000 --dest=org.qharden.Agent1 /org/qharden/Agent1 \
  org.qharden.Agent1.Apply array:string:tcp-env.flags 2>&1) || true
echo "      Apply as nobody: ${denied:0:300}"
check "nobody gets AccessDenied for Apply" contains "$denied" "org.freedesktop.DBus.Error.AccessDenied"

# root's Apply, through the hardened unit: the fixes must still work there
# (the container's network namespace is its own, so the sysctl and the
# ident rule change nothing on this machine).
apply_status=0
apply=$(inside busctl --timeout=120 call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Apply \
  as 3 tcp-env.flags sysctl.tcp-fin-timeout firewall.ident-reject 2>&1) || apply_status=$?
echo "      Apply as root: ${apply:0:600}"
check "busctl call Apply answers as root (exit $apply_status)" [ "$apply_status" -eq 0 ]
check "Apply fixes smtp_psa" contains "$apply" '"tcp-env.flags" "/etc/xinetd.d/smtp_psa" "applied"'
check "smtp_psa now runs tcp-env -Rt0" grep -q 'server_args.*= -Rt0 ' "$root/etc/xinetd.d/smtp_psa"
check "no fix failed" lacks "$apply" '"failed'
# The agent re-asserts the ident rule at start, so Apply may have nothing
# left to do for it; a fresh audit says whether every fix holds.
recheck=$(inside busctl --timeout=120 call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Audit \
  as 3 tcp-env.flags sysctl.tcp-fin-timeout firewall.ident-reject 2>&1) || true
echo "      Audit after Apply: ${recheck:0:600}"
check "after Apply the three rules pass" \
  bash -c '[[ "$1" =~ ^a\(sssssb\)\ [1-9] ]] && [[ "$1" != *\"fail\"* ]] && [[ "$1" != *\"error\"* ]]' _ "$recheck"
fin_timeout=$(inside cat /proc/sys/net/ipv4/tcp_fin_timeout 2>&1) || true
check "the container's tcp_fin_timeout is at most 30 ($fin_timeout)" [ "${fin_timeout:-99}" -le 30 ]

status_status=0
status_output=$(inside qharden status 2>&1) || status_status=$?
echo "$status_output" | head -8 | sed 's/^/      /'
check "qharden status reaches the agent (exit $status_status: 0 or 1)" [ "$status_status" -le 1 ]

timers=$(inside systemctl list-timers --all --no-pager 2>&1) || true
echo "$timers" | grep -E 'NEXT|qharden' | sed 's/^/      /'
check "systemctl list-timers lists qharden-audit.timer" contains "$timers" "qharden-audit.timer"
timer_active=$(inside systemctl is-active qharden-audit.timer 2>&1) || true
check "qharden-audit.timer is active ($timer_active)" [ "$timer_active" = active ]

# One run of the timer's service, under its own sandbox: it must succeed
# (exit 1 and 2 are findings) and read every file.
inside systemctl start qharden-audit.service > "$work/audit-service.log" 2>&1 || true
result=$(inside systemctl show qharden-audit.service -p Result -p ExecMainStatus 2>&1) || true
echo "$result" | sed 's/^/      qharden-audit.service: /'
check "qharden-audit.service runs successfully" contains "$result" "Result=success"
audit_journal=$(inside journalctl --no-pager -b -u qharden-audit.service -o cat 2>&1) || true
check "its report names smtp_psa's finding" contains "$audit_journal" "/etc/xinetd.d/smtp_psa"
check "its report says no system call is missing" lacks "$audit_journal" "Function not implemented"

journal_printed=0
if [ $failures -ne 0 ] || [ -n "${QHARDEN_BOOT_VERBOSE:-}" ]; then print_journal; journal_printed=1; fi

# Orderly power-off; nspawn exits once the container's init is gone.
inside systemctl poweroff --no-block > /dev/null 2>&1 || true
stopped=0
for attempt in $(seq 1 60); do
  kill -0 "$nspawn_pid" 2>/dev/null || { stopped=1; break; }
  sleep 1
done
check "the container powers off within 60 s" [ $stopped -eq 1 ]
wait "$nspawn_pid" 2>/dev/null && nspawn_status=0 || nspawn_status=$?
check "systemd-nspawn exits 0 after the power-off ($nspawn_status)" [ "$nspawn_status" -eq 0 ]

# After the power-off the persistent journal holds the agent's whole life:
# SIGTERM stopped it cleanly, and a sanitizer build reported nothing (its
# reports go to stderr, that is, to the journal).
agent_journal=$(chroot "$root" journalctl --no-pager --directory=/var/log/journal -o cat \
  -u qhardend.service -u qharden-audit.service 2>&1) || true
check "qhardend stopped cleanly at the power-off" contains "$agent_journal" "qhardend.service: Deactivated successfully"
sanitizer=$(grep -E 'Sanitizer|runtime error:' <<< "$agent_journal" | head -5 || true)
check "no sanitizer report in the journal ${sanitizer:+($sanitizer)}" [ -z "$sanitizer" ]

[ $failures -ne 0 ] && [ $journal_printed -eq 0 ] && print_journal
finish
