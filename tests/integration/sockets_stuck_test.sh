#!/usr/bin/env bash
# sockets.stuck against real loopback sockets in a network namespace: exact
# counts per state from sock_diag, by_port keyed by the listening side, and the
# CLOSE_WAIT and held FIN_WAIT_2 owners named by pid. Also --offline (every
# finding skips) and the thresholds from a config under --root.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/tools/socket_tools.sh"
require_root
require_program python3
tree=$(make_tree)
namespace=qh-sockets-$$
make_namespace "$namespace"
generator=$(socket_states_program)
case $generator in /tmp/qharden-socket-states.*) defer "rm -f '$generator'" ;; esac
# TIME_WAIT on loopback is only stable without reuse (tech notes).
ip netns exec "$namespace" sysctl -qw net.ipv4.tcp_tw_reuse=0
mkdir -p "$tree/etc/qharden"
cat > "$tree/etc/qharden/qharden.toml" <<'TOML'
[rules."sockets.stuck"]
close_wait_max = 4
fin_wait_2_max = 4
time_wait_max = 1000
TOML

ip netns exec "$namespace" "$generator" --port 42000 --listeners 2 --time-wait 9 \
  --close-wait-orphans 5 --fin-wait-2-held 3 > "$tree/ready" &
generator_pid=$!
kill_later "$generator_pid"
for attempt in $(seq 1 100); do grep -q ready "$tree/ready" && break; sleep 0.1; done
read -r _ generator_field holder_field < "$tree/ready"
# IPv6 sockets count in the same walk: 2 CLOSE_WAIT (orphan clients) and 4 TIME_WAIT on [::1]:42100.
ip netns exec "$namespace" "$generator" --ipv6 --port 42100 --listeners 1 --time-wait 4 \
  --close-wait-orphans 2 > "$tree/ready6" &
kill_later "$!"
for attempt in $(seq 1 100); do grep -q ready "$tree/ready6" && break; sleep 0.1; done
read -r _ _ holder6_field < "$tree/ready6"
holder6_pid=${holder6_field#holder=}
holder_pid=${holder_field#holder=}
echo "      generator pid ${generator_field#generator=}, holder pid $holder_pid"
sleep 0.3

status=0
report=$(ip netns exec "$namespace" "$QHARDEN" audit --root "$tree" --rule sockets.stuck --json) || status=$?
check "audit exits 1 (warning failures)" [ "$status" -eq 1 ]
field() {
  python3 -c '
import json, sys
report = json.loads(sys.argv[1])
found = [f for f in report["findings"] if f["subject"] == sys.argv[2]]
value = found[0] if len(found) == 1 else {"missing": True}
for key in sys.argv[3].split(".") if sys.argv[3] else []:
    value = value[key] if not isinstance(value, list) else value[int(key)]
print(json.dumps(value, sort_keys=True) if not isinstance(value, str) else value)
' "$report" "$1" "$2"
}
owners() { python3 -c '
import json, sys
report = json.loads(sys.argv[1])
finding = [f for f in report["findings"] if f["subject"] == sys.argv[2]][0]
print(" ".join("%d:%d" % (p["pid"], p["count"]) for p in finding["evidence"]["by_process"]))
' "$report" "$1"; }
count_of_findings=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])["findings"]))' "$report")
check "one finding per watched state (6)" [ "$count_of_findings" -eq 6 ]
check "CLOSE_WAIT count is exactly 10 (8 IPv4 + 2 IPv6)" [ "$(field CLOSE_WAIT evidence.count)" = 10 ]
check "CLOSE_WAIT fails over its threshold of 4" [ "$(field CLOSE_WAIT status)" = fail ]
check "CLOSE_WAIT by_port is keyed by the listening ports" equals "$(field CLOSE_WAIT evidence.by_port)" '{"42000": 4, "42001": 4, "42100": 2}'
check "CLOSE_WAIT by_process names both holder children (8 and 2)" equals "$(owners CLOSE_WAIT)" "$holder_pid:8 $holder6_pid:2"
check "CLOSE_WAIT message names the process" contains "$(field CLOSE_WAIT message)" "pid $holder_pid"
check "CLOSE_WAIT message says no timeout ends it" contains "$(field CLOSE_WAIT message)" "no timeout will do it"
check "FIN_WAIT_2 count is exactly 10 (5+2 orphans + 3 held)" [ "$(field FIN_WAIT_2 evidence.count)" = 10 ]
check "FIN_WAIT_2 by_port is keyed by the remote listening ports" equals "$(field FIN_WAIT_2 evidence.by_port)" '{"42000": 4, "42001": 4, "42100": 2}'
check "FIN_WAIT_2 by_process names the generator for its 3 held sockets" [ "$(owners FIN_WAIT_2)" = "${generator_field#generator=}:3" ]
check "FIN_WAIT_2 message mentions tcp_fin_timeout" contains "$(field FIN_WAIT_2 message)" "tcp_fin_timeout"
check "TIME_WAIT count is exactly 13 (9 IPv4 + 4 IPv6)" [ "$(field TIME_WAIT evidence.count)" = 13 ]
check "TIME_WAIT passes under 1000" [ "$(field TIME_WAIT status)" = pass ]
check "TIME_WAIT has no owners" [ "$(field TIME_WAIT evidence.by_process)" = '[]' ]
check "TIME_WAIT threshold comes from the config" [ "$(field TIME_WAIT evidence.threshold)" = 1000 ]
for state in FIN_WAIT_1 CLOSING LAST_ACK; do
  check "$state is reported with count 0 and passes" [ "$(field $state evidence.count)/$(field $state status)" = 0/pass ]
done
check "TIME_WAIT under its threshold is counted from sockstat, not walked" \
  [ "$(field TIME_WAIT evidence.census.method)" = sockstat+filtered ]
check "sockstat's tw held the 7 orphaned FIN_WAIT_2 mini-sockets, taken off" \
  [ "$(field TIME_WAIT evidence.census.fin_wait_2_timewait)" = 7 ]
check "TIME_WAIT under its threshold has no port breakdown" [ "$(field TIME_WAIT evidence.by_port)" = '{}' ]

# The same sockets with TIME_WAIT over its threshold: one full walk, same counts.
mkdir -p "$tree/full/etc/qharden"
sed 's/^time_wait_max = .*/time_wait_max = 5/' "$tree/etc/qharden/qharden.toml" > "$tree/full/etc/qharden/qharden.toml"
fast_counts="$(field CLOSE_WAIT evidence.count)/$(field FIN_WAIT_2 evidence.count)/$(field TIME_WAIT evidence.count)"
report=$(ip netns exec "$namespace" "$QHARDEN" audit --root "$tree/full" --rule sockets.stuck --json || true)
check "TIME_WAIT over its threshold takes the full walk" [ "$(field TIME_WAIT evidence.census.method)" = full ]
check "the full walk counts what the fast path counted ($fast_counts)" \
  [ "$(field CLOSE_WAIT evidence.count)/$(field FIN_WAIT_2 evidence.count)/$(field TIME_WAIT evidence.count)" = "$fast_counts" ]
check "and gives TIME_WAIT's ports" equals "$(field TIME_WAIT evidence.by_port)" '{"42000": 5, "42001": 4, "42100": 4}'

# With tcp_fin_timeout over 60 s the kernel keeps orphaned FIN_WAIT_2 as full
# sockets, which sockstat counts as orphans, not in tw: nothing is taken off.
long_namespace=qh-sockets-long-$$
make_namespace "$long_namespace"
ip netns exec "$long_namespace" sysctl -qw net.ipv4.tcp_tw_reuse=0 net.ipv4.tcp_fin_timeout=120
ip netns exec "$long_namespace" "$generator" --port 43000 --listeners 1 --time-wait 6 \
  --close-wait-orphans 5 > "$tree/ready-long" &
kill_later "$!"
for attempt in $(seq 1 100); do grep -q ready "$tree/ready-long" && break; sleep 0.1; done
sleep 0.3
report=$(ip netns exec "$long_namespace" "$QHARDEN" audit --root "$tree" --rule sockets.stuck --json || true)
check "fin_timeout 120: TIME_WAIT is exactly 6 on the fast path" \
  [ "$(field TIME_WAIT evidence.count)/$(field TIME_WAIT evidence.census.method)" = 6/sockstat+filtered ]
check "fin_timeout 120: the 5 orphans are full sockets, none taken off tw" \
  [ "$(field TIME_WAIT evidence.census.fin_wait_2_timewait)/$(field FIN_WAIT_2 evidence.count)" = 0/5 ]
report=$(ip netns exec "$long_namespace" "$QHARDEN" audit --root "$tree/full" --rule sockets.stuck --json || true)
check "fin_timeout 120: the full walk agrees (6 TIME_WAIT, 5 FIN_WAIT_2)" \
  [ "$(field TIME_WAIT evidence.count)/$(field FIN_WAIT_2 evidence.count)/$(field TIME_WAIT evidence.census.method)" = 6/5/full ]
report=$(ip netns exec "$namespace" "$QHARDEN" audit --root "$tree" --rule sockets.stuck --json || true)

# Processes start and exit while the owner scan walks /proc: counts stay exact
# and the holders are still named (a bounded burst of short-lived processes).
( for burst in $(seq 1 3000); do /bin/true; done ) &
churn_pid=$!
kill_later "$churn_pid"
steady=yes
for round in 1 2 3 4 5; do
  report=$(ip netns exec "$namespace" "$QHARDEN" audit --root "$tree" --rule sockets.stuck --json || true)
  [ "$(field CLOSE_WAIT evidence.count)/$(owners CLOSE_WAIT)" = "10/$holder_pid:8 $holder6_pid:2" ] || steady=no
  [ "$(field TIME_WAIT evidence.count)" = 13 ] || steady=no
done
wait "$churn_pid" 2>/dev/null || true
check "while processes come and go, 5 audits keep exact counts and owners" [ "$steady" = yes ]

# The machine's own namespace is not counted: the census is per namespace.
outside=$("$QHARDEN" audit --root "$tree" --rule sockets.stuck --json || true)
report=$outside
check "outside the namespace none of its 8 CLOSE_WAIT sockets are seen" lacks "$(field CLOSE_WAIT evidence.by_port)" '"42000"'

report=$(ip netns exec "$namespace" "$QHARDEN" audit --offline --root "$tree" --rule sockets.stuck --json || true)
skips=$(python3 -c 'import json,sys; print(sum(f["status"]=="skip" for f in json.loads(sys.argv[1])["findings"]))' "$report")
check "--offline: all 6 findings skip" [ "$skips" -eq 6 ]

# An outgoing IPv4 connection whose local port carries the number the IPv6
# service listens on ([::1]:42100) still counts against its remote service.
# A CI run once drew that port by chance; here it is bound on purpose.
# Compared with a census taken just before, not with fixed counts: on a
# loaded machine the test's orphaned FIN_WAIT_2 sockets may have reached
# tcp_fin_timeout and gone by now.
# by_port is filled only over the threshold, and the orphans may be gone by
# now: a threshold of 0 keeps FIN_WAIT_2's ports in the report.
mkdir -p "$tree/collision/etc/qharden"
sed 's/^fin_wait_2_max = .*/fin_wait_2_max = 0/' "$tree/etc/qharden/qharden.toml" > "$tree/collision/etc/qharden/qharden.toml"
report=$(ip netns exec "$namespace" "$QHARDEN" audit --root "$tree/collision" --rule sockets.stuck --json || true)
before_collision=$(field FIN_WAIT_2 evidence.by_port)
ip netns exec "$namespace" python3 -c '
import socket, sys, time
server = socket.socket(); server.bind(("127.0.0.1", 42300)); server.listen()
client = socket.socket(); client.bind(("127.0.0.1", 42100)); client.connect(("127.0.0.1", 42300))
accepted, _ = server.accept()
client.shutdown(socket.SHUT_WR)
time.sleep(0.2); print("ready", flush=True); time.sleep(600)
' > "$tree/ready-collision" &
collision_pid=$!
kill_later "$collision_pid"
for attempt in $(seq 1 100); do grep -q ready "$tree/ready-collision" && break; sleep 0.1; done
report=$(ip netns exec "$namespace" "$QHARDEN" audit --root "$tree/collision" --rule sockets.stuck --json || true)
after_collision=$(field FIN_WAIT_2 evidence.by_port)
echo "      FIN_WAIT_2 by port before: $before_collision, after: $after_collision"
check "a client on port 42100 (IPv4) counts under its service 42300, not the IPv6 service 42100" \
  python3 -c '
import json, sys
before, after = json.loads(sys.argv[1] or "{}"), json.loads(sys.argv[2] or "{}")
sys.exit(0 if after.get("42300") == 1 and after.get("42100", 0) <= before.get("42100", 0) else 1)
' "$before_collision" "$after_collision"
kill "$collision_pid"
wait "$collision_pid" 2>/dev/null || true

# The IPv4 holder exits: its CLOSE_WAIT sockets close and leave the state.
kill "$holder_pid"
sleep 0.5
report=$(ip netns exec "$namespace" "$QHARDEN" audit --root "$tree" --rule sockets.stuck --json || true)
check "after the IPv4 holder exits, CLOSE_WAIT is the 2 IPv6 ones" [ "$(field CLOSE_WAIT evidence.count)" = 2 ]
check "and under the threshold it names no owners" [ "$(field CLOSE_WAIT evidence.by_process)" = '[]' ]
finish
