#!/usr/bin/env bash
# qhardend drives its c-ares probes from its one sd-event loop (the design's
# "c-ares and the bus are both driven from it"), seen from outside with a real
# private dbus-daemon and a nameserver in a network namespace that never
# answers (resolv.nameservers then waits 2+4+8 = 14 s on it):
# - while the first audit waits on the silent server, the watchdog is still
#   fed: WATCHDOG=1 reaches NOTIFY_SOCKET about every 0.5 s (WATCHDOG_USEC=1 s).
#   A probe with a poll loop of its own leaves one gap as long as the probe,
#   and systemd would kill the agent;
# - the audit's findings are still right: the silent server times out;
# - SIGTERM during such a probe stops the agent in a small part of the
#   probe's time, with exit 0 and STOPPING=1, instead of after the probe, and
#   the cut-short audit is not announced (no AuditCompleted);
# - the bus is served during the probe: a property read is answered before
#   the audit ends, and an Audit call is answered from the running audit.
# Timings are compared with the same run's probe, never with a wall-clock
# limit, so the test holds on a loaded 2-core machine.
source "$(dirname "$0")/lib.sh"
require_root
for program in dbus-daemon dbus-monitor busctl python3; do require_program "$program"; done
QHARDEND=${QHARDEND:-$(dirname "$QHARDEN")/qhardend}
SOURCE_DIR=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
[ -x "$QHARDEND" ] || { echo "FAIL: no qhardend beside $QHARDEN"; exit 1; }

work=$(make_tree)
tree=$work/tree
mkdir -p "$tree/etc/qharden"
echo "nameserver 127.0.0.54" > "$tree/etc/resolv.conf"
cat > "$tree/etc/qharden/qharden.toml" <<'TOML'
[agent]
audit_interval_s = 3600
netfilter_check_s = 3600
reapply = []

[rules."resolv.nameservers"]
timeout_ms = 2000
tries = 3
TOML
namespace=qh-loop-$$
make_namespace "$namespace"
# The silent nameserver: a bound UDP socket that reads nothing, so no ICMP
# port-unreachable ends the wait early.
ip netns exec "$namespace" python3 -c '
import socket, time
silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
silent.bind(("127.0.0.54", 53))
time.sleep(600)' &
kill_later $!

socket=$work/system_bus_socket
address=unix:path=$socket
write_bus_config "$work/bus.conf" "$socket" system "<include>$SOURCE_DIR/units/org.qharden.Agent1.conf</include>"
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile 2>> "$work/dbus.log" &
kill_later $!
for attempt in $(seq 1 50); do [ -S "$socket" ] && break; sleep 0.1; done
dbus-monitor --address "$address" "type='signal',interface='org.qharden.Agent1',member='AuditCompleted'" \
  > "$work/signals.log" 2>&1 &
kill_later $!

# What the agent tells systemd, one line per datagram, stamped with this
# listener's monotonic clock.
notify=$work/notify
python3 -c '
import socket, sys, time
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind(sys.argv[1])
with open(sys.argv[2], "a") as log:
    while True:
        data = listener.recv(4096).decode(errors="replace").replace("\n", " ")
        log.write("%.3f %s\n" % (time.monotonic(), data))
        log.flush()' "$notify" "$work/notify.log" &
kill_later $!
for attempt in $(seq 1 50); do [ -S "$notify" ] && break; sleep 0.1; done
now() { python3 -c 'import time; print("%.3f" % time.monotonic())'; }

start_agent() {
  ip netns exec "$namespace" env NOTIFY_SOCKET="$notify" WATCHDOG_USEC=1000000 \
    "$QHARDEND" --bus "$address" --root "$tree" >> "$work/agent.log" 2>&1 &
  agent_pid=$!
  for attempt in $(seq 1 100); do
    [ "$(grep -c 'READY=1' "$work/notify.log" 2>/dev/null)" -gt "$1" ] && return 0
    sleep 0.1
  done
  echo "      the agent never reported READY=1:"; sed 's/^/      /' "$work/agent.log"
  return 1
}
audits_completed() { grep -c 'member=AuditCompleted' "$work/signals.log" || true; }

# Part 1: the first audit, with its 14 s probe.
start_agent 0
ready_at=$(now)
sleep 1
# The bus is served while the probe waits: a property read is answered at
# once (no audit has finished yet), and an Audit call is queued behind the
# running audit and answered from it when it ends, without a second audit.
asked_at=$(now)
last_audit=$(timeout 10 busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 \
  org.qharden.Agent1 LastAuditUsec 2>&1 || true)
answer_seconds=$(python3 -c "print('%.2f' % ($(now) - $asked_at))")
echo "      LastAuditUsec read during the probe: '$last_audit' in ${answer_seconds} s"
# Order, not a wall-clock limit (the suite must hold on a loaded machine): the
# answer came while the audit, which waits at least 10 s on the silent server,
# had not finished.
completed_when_answered=$(audits_completed)
check "a property read during the probe is answered before the audit ends" \
  equals "$completed_when_answered" 0
check "and it says no audit has finished yet" equals "$last_audit" "t 0"
busctl --address="$address" --timeout=60 call org.qharden.Agent1 /org/qharden/Agent1 \
  org.qharden.Agent1 Audit as 0 > "$work/audit-call.out" 2>&1 &
audit_call=$!
for attempt in $(seq 1 400); do [ "$(audits_completed)" -ge 1 ] && break; sleep 0.1; done
done_at=$(now)
wait "$audit_call"; audit_call_status=$?
check "the Audit call made during the probe is answered with findings" \
  [ "$audit_call_status" -eq 0 -a "$(grep -c 'resolv.nameservers' "$work/audit-call.out")" -ge 1 ]
sleep 0.5
check "and from the running audit: still one AuditCompleted" [ "$(audits_completed)" -eq 1 ]
audit_seconds=$(python3 -c "print('%.1f' % ($done_at - $ready_at))")
echo "      first audit finished ${audit_seconds} s after READY=1"
check "the first audit waited on the silent server (at least 10 s)" \
  python3 -c "import sys; sys.exit(0 if $done_at - $ready_at >= 10 else 1)"
longest_gap=$(python3 -c '
import sys
ready, done = float(sys.argv[2]), float(sys.argv[3])
stamps = [float(line.split()[0]) for line in open(sys.argv[1]) if "WATCHDOG=1" in line]
inside = [ready] + [stamp for stamp in stamps if ready <= stamp <= done] + [done]
print("%.2f" % max(later - earlier for earlier, later in zip(inside, inside[1:])))' \
  "$work/notify.log" "$ready_at" "$done_at")
echo "      longest time without WATCHDOG=1 during the audit: ${longest_gap} s"
# Against the same run's audit: a loop blocked by the probe shows one gap as
# long as the audit (13.8 s before the agent's loop drove the probes); a fed
# watchdog, gaps of about WATCHDOG_USEC/2. A fifth of the audit tells them
# apart however loaded the machine is.
check "the watchdog is fed during the probe (longest gap ${longest_gap} s, under a fifth of the ${audit_seconds} s audit)" \
  python3 -c "import sys; sys.exit(0 if $longest_gap * 5 < $done_at - $ready_at else 1)"
report=$(busctl --address="$address" --json=short call org.qharden.Agent1 /org/qharden/Agent1 \
  org.qharden.Agent1 GetReport 2>&1 || true)
silent_status=$(python3 -c '
import json, sys
report = json.loads(json.loads(sys.argv[1])["data"][0])
found = [f for f in report["findings"] if f["rule"] == "resolv.nameservers" and "127.0.0.54" in f["subject"]]
print(" ".join(sorted({f["status"] + ":" + ("timeout" if "timeout" in f["message"] else "other") for f in found})))' \
  "$report" 2>&1)
check "the silent server's findings say timeout (the probe's results survived the loop)" \
  equals "$silent_status" "fail:timeout"

# Part 2: SIGTERM while a probe waits.
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null || true
before=$(audits_completed)
start_agent 1
sleep 2
# A call still queued behind the running audit when SIGTERM comes.
busctl --address="$address" --timeout=60 call org.qharden.Agent1 /org/qharden/Agent1 \
  org.qharden.Agent1 Audit as 0 > "$work/queued-call.out" 2>&1 &
queued_call=$!
sleep 0.3
term_at=$(now)
kill -TERM "$agent_pid"
status=0
wait "$agent_pid" || status=$?
stop_seconds=$(python3 -c "print('%.2f' % ($(now) - $term_at))")
echo "      stopped ${stop_seconds} s after SIGTERM, exit $status"
# Against the probe's own length in part 1: a stop that waits for the probe
# takes as long as it (11.9 s before); a cancelled probe, a small part of it.
check "SIGTERM during the probe stops the agent in under a fifth of the probe's ${audit_seconds} s" \
  python3 -c "import sys; sys.exit(0 if $stop_seconds * 5 < $audit_seconds else 1)"
check "and it exits 0" [ "$status" -eq 0 ]
queued_status=0
timeout 10 tail --pid="$queued_call" -f /dev/null || true
wait "$queued_call" || queued_status=$?
check "the call queued at SIGTERM gets an error, not a hang (busctl exit $queued_status)" \
  [ "$queued_status" -ne 0 -a "$queued_status" -ne 124 ]
check "STOPPING=1 was sent twice (once per run)" [ "$(grep -c 'STOPPING=1' "$work/notify.log")" -eq 2 ]
sleep 0.3
check "the cut-short audit emitted no AuditCompleted" [ "$(audits_completed)" -eq "$before" ]
if [ "$failures" -ne 0 ]; then sed 's/^/      agent: /' "$work/agent.log" | tail -20; fi
finish
