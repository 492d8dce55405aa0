#!/usr/bin/env bash
# qmail under systemd, for real: a booted bookworm container (systemd-nspawn
# -b, a network namespace of its own) with the .deb installed and qmail-smtpd
# socket-activated: qmail-smtpd.socket (ListenStream=25, Accept=yes,
# TriggerLimitBurst=5) and qmail-smtpd@.service running tcp-env (without -R:
# ident on) and qmail-smtpd. The real notqmail 1.09 is built from the vendor tarball when
# it is there (QHARDEN_VENDOR_DIR, as open_relay_lab_test.sh), else tcp-env
# is a stand-in that does its ident lookup unless given -R and greets with
# 220, and the log says which.
#   1. qharden audit flags the socket's limits (listener.burst-limits) and
#      the service's tcp-env (tcp-env.flags), and a connection's tcp-env asks
#      the client's port 113 (a listener in the container counts);
#      smtp.greeting finds port 25 held by pid 1, judges the service behind
#      it and blames tcp-env.flags (and no longer does after the fix);
#   2. a burst of 12 connections fails the socket: systemd says
#      trigger-limit-hit and port 25 is closed;
#   3. plan shows qharden's drop-ins and the daemon-reload; apply writes them
#      and reloads; systemd's own view (systemctl show) holds the new values:
#      the same burst is greeted 12 times, and a new connection's tcp-env runs
#      with -Rt0 and asks port 113 nothing;
#   4. rollback removes the drop-ins and their folders and reloads: systemd
#      is back at TriggerLimitBurst=5 and the old ExecStart=;
#   5. Apply over the system bus (qhardend, then its fixer unit with the
#      shipped sandbox) writes the same drop-in and daemon-reloads from there.
# Needs root, mmdebstrap (a cached rootfs shared with fleet_e2e_test.sh) and
# QHARDEN_DEB (CI passes tier 2's bookworm .deb).
source "$(dirname "$0")/lib.sh"
skip() { echo "SKIP: $*"; exit $SKIP; }
[ "$(id -u)" -eq 0 ] || skip "needs root: mmdebstrap and systemd-nspawn"
[ -n "${QHARDEN_DEB:-}" ] ||
  skip "QHARDEN_DEB is not set: this test installs a built .deb (packaging/build-deb.sh bookworm) into its container"
for program in mmdebstrap systemd-nspawn; do
  command -v "$program" > /dev/null 2>&1 ||
    skip "$program is not installed (packaging/bootstrap.sh test installs it)"
done
for program in nsenter chroot pgrep setsid flock sha256sum dpkg-deb python3; do require_program "$program"; done
unshare -m true 2> /dev/null || skip "this machine cannot create mount namespaces, which systemd-nspawn needs"
source "$(dirname "$0")/nspawn_lib.sh"
trap 'exit 130' INT
trap 'exit 143' TERM

SOURCE_DIR=${QHARDEN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
deb=$QHARDEN_DEB
[ -f "$deb" ] || { echo "FAIL: QHARDEN_DEB=$deb is not a file"; exit 1; }
cache_dir=${QHARDEN_TEST_CACHE:-/var/cache/qharden-tests}
boot_timeout=${QHARDEN_BOOT_TIMEOUT:-120}
nspawn_start_watchdog

work=$(make_tree)
root=$work/root
machine=qh-sock-${work##*.}
machine=${machine,,}
socket=qmail-smtpd.socket
drop_in=/etc/systemd/system/$socket.d/zz-qharden-listener.burst-limits.conf
service_drop_in=/etc/systemd/system/qmail-smtpd@.service.d/zz-qharden-tcp-env.flags.conf

echo "-- rootfs (cached; the same packages as fleet_e2e_test.sh, so one build serves both)"
nspawn_fleet_rootfs_with_deb "$root" "$deb" "$work/install.log"

# qmail-smtpd: the real one when the vendor tarball is here, compiled for
# /var/qmail (this machine is bookworm, as the container is).
vendor_dir=${QHARDEN_VENDOR_DIR:-$SOURCE_DIR/../shared/vendor}
tarball=$vendor_dir/notqmail-1.09.tar.gz
mkdir -p "$root/var/qmail/bin" "$root/var/qmail/control"
if [ -f "$tarball" ]; then
  sha=$(sha256sum "$tarball" | cut -d' ' -f1)
  bin=$cache_dir/notqmail-varqmail-$sha
  if [ ! -x "$bin/qmail-smtpd" ] || [ ! -x "$bin/tcp-env" ]; then
    for program in make gcc; do require_program "$program"; done
    build=$(mktemp -d "$test_scratch/build.XXXXXX")
    tar -xzf "$tarball" -C "$build"
    (cd "$build/notqmail-1.09" && echo /var/qmail > conf-qmail &&
      make qmail-smtpd tcp-env > "$build/make.log" 2>&1) ||
      { tail -20 "$build/make.log"; echo "FAIL: building notqmail"; exit 1; }
    mkdir -p "$bin"
    install -m 755 "$build/notqmail-1.09/qmail-smtpd" "$build/notqmail-1.09/tcp-env" "$bin/"
  fi
  install -m 755 "$bin/qmail-smtpd" "$bin/tcp-env" "$root/var/qmail/bin/"
  greeting=mx.socket.test
  echo "      qmail-smtpd: notqmail 1.09, built from $tarball"
else
  # tcp-env's part that matters here: unless its options hold -R (and no
  # later -r), it connects to the client's port 113 before the greeting.
  cat > "$root/var/qmail/bin/tcp-env" <<'STANDIN'
#!/usr/bin/python3
import socket, sys
ident = True
for word in sys.argv[1:]:
    if not word.startswith("-") or word == "-":
        break
    for letter in word[1:]:
        if letter == "t":
            break
        if letter in "Rr":
            ident = letter == "r"
if ident:
    peer = socket.socket(fileno=0).getpeername()[0]
    try:
        socket.create_connection((peer, 113), timeout=5).close()
    except OSError:
        pass
sys.stdout.write("220 stand-in tcp-env argv: %s\r\n" % " ".join(sys.argv[1:]))
sys.stdout.flush()
STANDIN
  chmod 755 "$root/var/qmail/bin/tcp-env"
  printf '#!/bin/sh\nexit 0\n' > "$root/var/qmail/bin/qmail-smtpd"
  chmod 755 "$root/var/qmail/bin/qmail-smtpd"
  greeting="stand-in tcp-env"
  echo "      qmail-smtpd: a stand-in for tcp-env that does its ident lookup ($tarball is missing)"
fi
echo mx.socket.test > "$root/var/qmail/control/me"
echo socket.test > "$root/var/qmail/control/rcpthosts"
cat > "$root/usr/lib/systemd/system/$socket" <<'UNIT'
[Unit]
Description=qmail SMTP, socket-activated (qharden test)

[Socket]
ListenStream=25
Accept=yes
TriggerLimitBurst=5

[Install]
WantedBy=sockets.target
UNIT
cat > "$root/usr/lib/systemd/system/qmail-smtpd@.service" <<'UNIT'
[Unit]
Description=qmail-smtpd for one connection (qharden test)

[Service]
ExecStart=/var/qmail/bin/tcp-env /var/qmail/bin/qmail-smtpd
StandardInput=socket
StandardOutput=socket
StandardError=journal
UNIT
# An operator's override in the vendor folder: its name sorts before
# qharden's zz- drop-in across folders, so the fix must win over it.
mkdir -p "$root/usr/lib/systemd/system/$socket.d"
printf '[Socket]\nTriggerLimitBurst=5\n' > "$root/usr/lib/systemd/system/$socket.d/override.conf"
mkdir -p "$root/etc/systemd/system/sockets.target.wants"
ln -s "/usr/lib/systemd/system/$socket" "$root/etc/systemd/system/sockets.target.wants/$socket"
mkdir -p "$root/var/log/journal"
# The burst: every connection opened at once, then each one's first line read.
cat > "$root/usr/local/bin/smtp-burst" <<'PYTHON'
#!/usr/bin/python3
import socket, sys
count, expected = int(sys.argv[1]), sys.argv[2]
connections, refused = [], 0
for _ in range(count):
    try:
        connections.append(socket.create_connection(("127.0.0.1", 25), timeout=5))
    except OSError:
        refused += 1
greeted = 0
for connection in connections:
    try:
        line = connection.makefile("rb").readline().decode(errors="replace")
        if line.startswith("220") and expected in line:
            greeted += 1
    except OSError:
        pass
    connection.close()
print("greeted=%d refused=%d" % (greeted, refused))
PYTHON
chmod 755 "$root/usr/local/bin/smtp-burst"
# What tcp-env's ident lookup reaches: a line per connection to port 113,
# closed at once, so that a lookup costs no time here.
cat > "$root/usr/local/bin/ident-counter" <<'PYTHON'
#!/usr/bin/python3
import socket
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 113))
listener.listen(64)
while True:
    connection, _ = listener.accept()
    connection.close()
    with open("/run/ident-connections", "a") as log:
        log.write("x\n")
PYTHON
chmod 755 "$root/usr/local/bin/ident-counter"

echo "-- boot"
nspawn_boot "$machine" "$root" --private-network
state=$(nspawn_wait_running "$machine" "$boot_timeout")
check "the container boots (system state '$state')" bash -c '[ "$1" = running ] || [ "$1" = degraded ]' _ "$state"
inside() { nspawn_inside "$machine" "$@"; }
socket_show() { inside systemctl show -p "$1" --value "$socket" 2>&1; }
burst() { inside /usr/local/bin/smtp-burst "$1" "$greeting" 2>&1 || true; }
idents() { inside sh -c 'cat /run/ident-connections 2>/dev/null | wc -l'; }
# An instance unit is loaded from the template and its drop-ins, so its
# ExecStart= is what the next connection runs.
exec_start() { inside systemctl show -p ExecStart --value qmail-smtpd@probe.service 2>&1; }
# smtp.greeting's reading of port 25: status, holder pid, the command it
# judged and the rules it blames.
greeting_verdict() {
  local report
  report=$(inside qharden audit --json --rule smtp.greeting 2>&1) || true
  python3 -c '
import json, sys
for finding in json.loads(sys.argv[1])["findings"]:
    evidence = finding.get("evidence", {})
    if evidence.get("port") in (25, "25") or finding["subject"].endswith(":25"):
        print(finding["status"], evidence.get("pid"), evidence.get("command_source"),
              ",".join(evidence.get("causes", [])))
' "$report" 2>&1 || echo "unreadable: ${report:0:300}"
}
inside systemd-run --quiet --unit=ident-counter /usr/local/bin/ident-counter
for attempt in $(seq 1 50); do
  inside sh -c 'exec 3<>/dev/tcp/127.0.0.1/113' 2>/dev/null && break
  sleep 0.1
done
inside rm -f /run/ident-connections
for unit in $socket qhardend.service; do
  active=$(inside systemctl is-active "$unit" 2>&1) || true
  check "$unit is active ($active)" [ "$active" = active ]
done
one=$(burst 1)
check "one connection is greeted by the socket-activated qmail-smtpd ($one)" equals "$one" "greeted=1 refused=0"
check "its tcp-env asked port 113 ($(idents) lookup)" equals "$(idents)" 1

echo "-- audit and a burst before any fix"
audit=$(inside qharden audit --offline --json --rule listener.burst-limits --rule tcp-env.flags 2>&1) || true
verdict=$(python3 -c '
import json, sys
for finding in json.loads(sys.argv[1])["findings"]:
    if finding["subject"] != "/usr/lib/systemd/system/qmail-smtpd@.service":
        continue
    if finding["rule"] == "listener.burst-limits":
        limits = finding["evidence"]["limits"]
        print(finding["status"], finding["fixable"], limits["TriggerLimitBurst"]["value"], limits["MaxConnections"]["value"])
    else:
        print(finding["rule"], finding["status"], finding["fixable"])
' "$audit" 2>&1 | sort | tr '\n' ' ') || true
check "the audit fails the socket's limits and tcp-env, both fixable: $verdict" \
  equals "$verdict" "fail True 5 64 tcp-env.flags fail True "
reading=$(greeting_verdict)
echo "      smtp.greeting: $reading"
check "smtp.greeting maps port 25 (held by pid 1) to the service and blames tcp-env.flags" \
  contains "$reading" "fail 1 /usr/lib/systemd/system/qmail-smtpd@.service tcp-env.flags"
sleep 2.5  # the trigger limit counts within 2 s; the connections above are out of it
burst=$(burst 12)
echo "      burst of 12 before the fix: $burst"
sleep 1
check "the burst fails the socket ($(socket_show ActiveState), result $(socket_show Result))" \
  equals "$(socket_show Result)" trigger-limit-hit
after_burst=$(burst 1)
check "port 25 is closed after the burst ($after_burst)" equals "$after_burst" "greeted=0 refused=1"
inside systemctl restart "$socket"

echo "-- plan, apply (qharden on the command line), the same burst"
fix_rules=(--rule listener.burst-limits --rule tcp-env.flags)
plan=$(inside qharden plan --offline "${fix_rules[@]}" 2>&1) || true
show_plan=$(grep -E "^\+[A-Z]|daemon-reload" <<< "$plan" | head -10)
sed 's/^/      | /' <<< "$show_plan"
check "plan shows qharden's drop-in for the socket" contains "$plan" "$drop_in"
check "plan shows qharden's drop-in for the service" contains "$plan" "$service_drop_in"
check "the service's drop-in resets ExecStart= and sets -Rt0" \
  contains "$plan" "+ExecStart=
+ExecStart=/var/qmail/bin/tcp-env -Rt0 /var/qmail/bin/qmail-smtpd"
check "plan says a daemon-reload follows" contains "$plan" "then systemd's daemon-reload"
check "plan wrote nothing" [ ! -e "$root$drop_in" ]
apply_status=0
apply=$(inside qharden apply "${fix_rules[@]}" 2>&1) || apply_status=$?
sed 's/^/      | /' <<< "$apply" | tail -8
check "apply succeeds (exit $apply_status)" [ "$apply_status" -eq 0 ]
check "apply requested the daemon-reload over the bus" contains "$apply" "daemon-reload done"
check "and systemd's DropInPaths show both drop-ins" contains "$apply" "systemd's DropInPaths confirm 2 drop-in change(s) of qharden's"
check "the drop-in holds the raised values" grep -qx 'TriggerLimitBurst=1000' "$root$drop_in"
check "the vendor unit is unchanged" grep -qx 'TriggerLimitBurst=5' "$root/usr/lib/systemd/system/$socket"
check "systemd took the drop-in: TriggerLimitBurst=$(socket_show TriggerLimitBurst)" \
  equals "$(socket_show TriggerLimitBurst)" 1000
check "systemd took the drop-in: MaxConnections=$(socket_show MaxConnections)" \
  equals "$(socket_show MaxConnections)" 256
check "systemd needs no further reload" equals "$(socket_show NeedDaemonReload)" no
check "the next connection's ExecStart= has -Rt0" contains "$(exec_start)" "argv[]=/var/qmail/bin/tcp-env -Rt0 /var/qmail/bin/qmail-smtpd"
sleep 2.5
inside rm -f /run/ident-connections
burst=$(burst 12)
check "after the fix the same burst is greeted 12 times ($burst)" equals "$burst" "greeted=12 refused=0"
check "and the socket is still active ($(socket_show ActiveState))" equals "$(socket_show ActiveState)" active
check "and no tcp-env asked port 113 ($(idents) lookups)" equals "$(idents)" 0
reading=$(greeting_verdict)
echo "      smtp.greeting: $reading"
check "smtp.greeting no longer blames tcp-env.flags" \
  bash -c '[[ "$1" == *"1 /usr/lib/systemd/system/qmail-smtpd@.service"* && "$1" != *tcp-env.flags* ]]' _ "$reading"
again_status=0
again=$(inside qharden apply "${fix_rules[@]}" 2>&1) || again_status=$?
check "a second apply changes nothing (exit $again_status)" \
  bash -c '[ "$1" -eq 0 ] && [[ "$2" == *"nothing to do"* ]] && [[ "$2" != *applied* ]]' _ "$again_status" "$again"

echo "-- rollback"
rollback_status=0
rollback=$(inside qharden rollback --last 2>&1) || rollback_status=$?
sed 's/^/      | /' <<< "$rollback" | tail -5
check "rollback succeeds (exit $rollback_status)" [ "$rollback_status" -eq 0 ]
check "and systemd no longer lists either drop-in" contains "$rollback" "systemd's DropInPaths confirm 2 drop-in change(s) of qharden's"
check "rollback removed the drop-ins and the folders it made" \
  bash -c '[ ! -e "$1" ] && [ ! -e "$2" ]' _ "$root/etc/systemd/system/$socket.d" "$root/etc/systemd/system/qmail-smtpd@.service.d"
check "systemd is back at TriggerLimitBurst=$(socket_show TriggerLimitBurst)" \
  equals "$(socket_show TriggerLimitBurst)" 5
check "and at the old ExecStart=" contains "$(exec_start)" "argv[]=/var/qmail/bin/tcp-env /var/qmail/bin/qmail-smtpd"

echo "-- Apply over the system bus: qhardend, then its fixer unit's sandbox"
bus_apply_status=0
bus_apply=$(inside busctl --timeout=180 call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Apply \
  as 1 listener.burst-limits 2>&1) || bus_apply_status=$?
echo "      Apply: ${bus_apply:0:600}"
check "busctl call Apply answers (exit $bus_apply_status)" [ "$bus_apply_status" -eq 0 ]
check "Apply wrote the drop-in" contains "$bus_apply" "\"$drop_in\" \"applied\""
check "the fixer's sandbox let it write and reload: TriggerLimitBurst=$(socket_show TriggerLimitBurst)" \
  equals "$(socket_show TriggerLimitBurst)" 1000
fixer_log=$(inside journalctl --no-pager -q -u 'qharden-fixer@*' 2>&1 | tail -20) || true
if [ "$(socket_show TriggerLimitBurst)" != 1000 ]; then sed 's/^/      fixer: /' <<< "$fixer_log"; fi
inside qharden rollback --last > /dev/null 2>&1 || true

check "the container powers off cleanly" nspawn_poweroff "$machine"
finish
