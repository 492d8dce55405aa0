#!/usr/bin/env bash
# listener.burst-limits against real daemons, each in a network namespace of
# its own with a --root tree:
#   xinetd with `cps = 5 3`: a burst of 10 connects switches the service off
#   ("Deactivating service ... due to excessive incoming connections") and the
#   rest are refused; qharden flags it beforehand; after `apply` (cps = 20 3,
#   the minimum this test configures) and the 3 s, the same burst is served.
#   openbsd-inetd with nowait.5 on port 25: the 5th connect within a minute
#   stops the service ("server failing (looping), service terminated"); after
#   `apply` (nowait.20) inetd's SIGHUP opens it again and the burst is served.
# inetd logs only to syslog, so its mount namespace gets a /dev/log of its own.
source "$(dirname "$0")/lib.sh"
require_root
require_program xinetd
python=/usr/bin/python3
[ -x "$python" ] || { echo "FAIL: $python missing"; exit 1; }
inetd=${QHARDEN_INETD:-/var/cache/qharden-tests/openbsd-inetd/usr/sbin/inetd}
[ -x "$inetd" ] || { echo "FAIL: $inetd missing (packaging/bootstrap.sh test unpacks openbsd-inetd)"; exit 1; }

# burst NAMESPACE PORT COUNT: connects COUNT times in a row and prints how many
# got a 220 line.
burst() {
  ip netns exec "$1" "$python" - "$2" "$3" <<'PYTHON'
import socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
served = 0
for _ in range(count):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as connection:
            if connection.recv(200).startswith(b"220"):
                served += 1
    except OSError:
        pass
print(served)
PYTHON
}

# wait_for_listener NAMESPACE PORT: like wait_for_port, without connecting:
# a probe connect would count towards the very limits under test.
wait_for_listener() {
  local attempt
  for attempt in $(seq 1 50); do
    [ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ] && return 0
    sleep 0.1
  done
  echo "FAIL: nothing listens on port $2 in $1"
  exit 1
}

# audit_summary TREE: subject, status, fixable and limit values of each finding.
audit_summary() {
  local report
  report=$("$QHARDEN" audit --root "$1" --rule listener.burst-limits --offline --json) || true
  echo "$report" | "$python" -c '
import json, sys
report = json.load(sys.stdin)
for finding in report["findings"]:
    limits = " ".join(f"{name}={limit['"'"'value'"'"']}" for name, limit in sorted(finding["evidence"].get("limits", {}).items()))
    print(finding["subject"], finding["status"], finding["fixable"], limits)'
}

write_config() {
  mkdir -p "$1/etc/qharden"
  printf '[rules."listener.burst-limits"]\nxinetd_cps_min = 20\ninetd_per_minute_min = 20\n' \
    > "$1/etc/qharden/qharden.toml"
}

started=$(date +%s.%N)

# --- xinetd -------------------------------------------------------------------
tree=$(make_tree)
namespace=qh-burst-x-$$
make_namespace "$namespace"
stand_in=$tree/var/qmail/bin/tcp-env
write_tcp_env_stand_in "$stand_in"
write_config "$tree"
mkdir -p "$tree/etc/xinetd.d" "$tree/run"
printf 'defaults\n{\n}\nincludedir /etc/xinetd.d\n' > "$tree/etc/xinetd.conf"
printf 'defaults\n{\n}\nincludedir %s/etc/xinetd.d\n' "$tree" > "$tree/xinetd-daemon.conf"
cat > "$tree/etc/xinetd.d/smtp" <<SERVICE
service smtp
{
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= root
	type		= UNLISTED
	port		= 2525
	cps		= 5 3
	server		= $stand_in
	server_args	= -Rt0 /var/qmail/bin/qmail-smtpd
}
SERVICE
cp -p "$tree/etc/xinetd.d/smtp" "$tree/original"
log=$tree/xinetd.log
ip netns exec "$namespace" xinetd -f "$tree/xinetd-daemon.conf" -pidfile "$tree/run/xinetd.pid" \
  -filelog "$log" -dontfork &
kill_later $!
wait_for_listener "$namespace" 2525

before=$(audit_summary "$tree")
check "audit flags cps 5 3 beforehand ($before)" \
  equals "$before" "/etc/xinetd.d/smtp:smtp fail True cps=5 cps_wait=3 instances=unlimited per_source=unlimited"
served=$(burst "$namespace" 2525 10)
check "a burst of 10 is cut short by cps 5 ($served of 10 served)" [ "$served" -lt 10 ]
check "xinetd logged the deactivation" grep -q "Deactivating service smtp due to excessive incoming connections" "$log"
sed -n 's/^.*Deactivating/      Deactivating/p' "$log"
refused_at=$(date +%s.%N)
apply_output=$("$QHARDEN" apply --root "$tree" --rule listener.burst-limits)
echo "$apply_output" | sed 's/^/      /'
check "apply reloaded xinetd with SIGHUP" contains "$apply_output" "reloaded with SIGHUP"
check "apply rewrote only cps' words" grep -q $'^\tcps\t\t= 20 3$' "$tree/etc/xinetd.d/smtp"
after=$(audit_summary "$tree")
check "audit passes after apply ($after)" contains "$after" "/etc/xinetd.d/smtp:smtp pass"
# xinetd keeps a deactivated service off for its cps wait (3 s) from the burst.
sleep "$("$python" -c "import time; print(max(0.0, 3.3 - (time.time() - $refused_at)))")"
# A SIGHUP that reaches xinetd late in that wait (a slow apply, under ASan on a
# loaded machine) starts the wait again, so the service is back only 3 s
# after the reload: wait until one connection is served, then burst. A
# service that does not come back within 15 s fails here.
back_at=""
for attempt in $(seq 1 30); do
  if [ "$(burst "$namespace" 2525 1)" = 1 ]; then
    back_at=$("$python" -c "import time; print(round(time.time() - $refused_at, 1))")
    break
  fi
  sleep 0.5
done
check "the service answers again after the fix (${back_at:-not within 15} s after the burst)" [ -n "$back_at" ]
sleep 1  # the probe's connection is out of the cps second
deactivations=$(grep -c "Deactivating" "$log" || true)
served=$(burst "$namespace" 2525 10)
check "after apply the same burst is served in full ($served of 10)" equals "$served" 10
check "no new deactivation was logged" equals "$(grep -c "Deactivating" "$log" || true)" "$deactivations"
second=$("$QHARDEN" apply --root "$tree" --rule listener.burst-limits)
check "a second apply changes nothing" contains "$second" "nothing to do"
rollback_output=$("$QHARDEN" rollback --last --root "$tree")
check "rollback reloads xinetd" contains "$rollback_output" "reloaded with SIGHUP"
check "rollback restores the exact bytes" cmp -s "$tree/etc/xinetd.d/smtp" "$tree/original"

# --- openbsd-inetd ------------------------------------------------------------
tree=$(make_tree)
namespace=qh-burst-i-$$
make_namespace "$namespace"
stand_in=$tree/var/qmail/bin/tcp-env
write_tcp_env_stand_in "$stand_in"
write_config "$tree"
mkdir -p "$tree/etc" "$tree/run"
# Port 25: on ports of 1024 and up inetd never stops a service, it drops the
# extra connections silently instead.
printf 'smtp\tstream\ttcp\tnowait.5\troot\t%s\ttcp-env -Rt0 /var/qmail/bin/qmail-smtpd\n' \
  "$stand_in" > "$tree/etc/inetd.conf"
syslog=$tree/syslog.txt
"$python" -c '
import socket, sys
sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sink.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(sink.recv(4096).rstrip(b"\0\n") + b"\n")' "$tree/log.socket" "$syslog" &
kill_later $!
for _ in $(seq 1 50); do [ -S "$tree/log.socket" ] && break; sleep 0.1; done
# A private /run keeps inetd's pidfile off the machine, and /dev/log in this
# mount namespace is the sink above; the machine's /dev is left alone.
ip netns exec "$namespace" unshare -m sh -c "mount -t tmpfs tmpfs /run &&
  mkdir -p $tree/dev && mount --rbind /dev $tree/dev && mount -t tmpfs tmpfs /dev &&
  for name in null zero full random urandom tty; do
    touch /dev/\$name && mount --bind $tree/dev/\$name /dev/\$name; done &&
  touch /dev/log && mount --bind $tree/log.socket /dev/log &&
  exec $inetd -i $tree/etc/inetd.conf" &
inetd_pid=$!
kill_later $inetd_pid
echo "$inetd_pid" > "$tree/run/inetd.pid"
wait_for_listener "$namespace" 25

before=$(audit_summary "$tree")
check "audit flags nowait.5 beforehand ($before)" equals "$before" "/etc/inetd.conf:smtp fail True per_minute=5"
served=$(burst "$namespace" 25 10)
check "a burst of 10 stops the service ($served of 10 served)" [ "$served" -lt 10 ]
sleep 0.3
check "inetd logged the stop" grep -q "smtp/tcp server failing (looping), service terminated" "$syslog"
sed 's/^/      /' "$syslog"
check "the stopped service refuses connections" equals "$(burst "$namespace" 25 1)" 0
# A SIGHUP alone, inetd.conf unchanged, opens the stopped service again (so the
# fix's reload is enough; no restart is needed); the next burst stops it again.
kill -HUP "$inetd_pid"
sleep 0.5
check "a SIGHUP alone reopens the stopped service" equals "$(burst "$namespace" 25 1)" 1
served=$(burst "$namespace" 25 10)
check "the next burst stops it again ($served of 10 served)" [ "$served" -lt 10 ]
apply_output=$("$QHARDEN" apply --root "$tree" --rule listener.burst-limits)
echo "$apply_output" | sed 's/^/      /'
check "apply reloaded inetd with SIGHUP" contains "$apply_output" "inetd (pid $inetd_pid) reloaded with SIGHUP"
check "apply rewrote the wait field to nowait.20" grep -q $'^smtp\tstream\ttcp\tnowait.20\troot\t' "$tree/etc/inetd.conf"
sleep 0.5
served=$(burst "$namespace" 25 10)
check "after apply SIGHUP reopened the service and the same burst is served ($served of 10)" equals "$served" 10
after=$(audit_summary "$tree")
check "audit passes after apply ($after)" equals "$after" "/etc/inetd.conf:smtp pass False per_minute=20"

echo "      run time: $("$python" -c "import time; print(round(time.time() - $started, 1))") s"
finish
