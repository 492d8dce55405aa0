#!/usr/bin/env bash
# qhardend re-asserts the ident rule (firewall.ident-reject) only once the
# operator applied it, with real iptables in a network namespace of its own
# and a private system-type dbus-daemon that includes the shipped bus policy:
# - on a host where nothing was applied, the agent leaves netfilter alone,
#   at start and on its timer, although the rule fails;
# - after `qharden apply`, KeptChanges lists both families; deleted while the
#   agent is down, the REJECT is put back at start, journaled, and FixApplied
#   is emitted;
# - deleted with iptables, it is back within agent.netfilter_check_s (2 here)
#   and DriftDetected is emitted;
# - after firewalld's Reloaded signal (played here by a small raw D-Bus client
#   that owns org.fedoraproject.FirewallD1 on the private bus) it is back at
#   once, without waiting for the timer (set to an hour for that part);
# - a Reloaded from a connection that does not own that name is ignored;
# - with the rule left out of agent.reapply, the agent leaves netfilter alone;
# - after `qharden rollback`, KeptChanges is empty and a deleted rule stays
#   deleted.
source "$(dirname "$0")/lib.sh"
require_root
for program in dbus-daemon dbus-monitor busctl python3 iptables ip6tables; do require_program "$program"; done
QHARDEND=$(dirname "$QHARDEN")/qhardend
SOURCE_DIR=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
[ -x "$QHARDEND" ] || { echo "FAIL: no qhardend beside $QHARDEN"; exit 1; }

work=$(make_tree)
tree=$work/tree
mkdir -p "$tree/etc/qharden"
cp -a "$SOURCE_DIR/tests/fixtures/hosts/plesk/." "$tree/"
config=$tree/etc/qharden/qharden.toml
printf '[agent]\nnetfilter_check_s = 2\naudit_interval_s = 3600\n' > "$config"
namespace=qh-ident-$$
make_namespace "$namespace"

socket=$work/system_bus_socket
address=unix:path=$socket
# Root may own firewalld's name, as firewalld's own policy file allows.
write_bus_config "$work/bus.conf" "$socket" system \
  "<policy user=\"root\"><allow own=\"org.fedoraproject.FirewallD1\"/></policy>
  <include>$SOURCE_DIR/units/org.qharden.Agent1.conf</include>"
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile 2>> "$work/dbus.log" &
kill_later $!
for attempt in $(seq 1 50); do [ -S "$socket" ] && break; sleep 0.1; done
dbus-monitor --address "$address" "type='signal',interface='org.qharden.Agent1'" \
  "type='signal',member='Reloaded'" > "$work/signals.log" 2>&1 &
kill_later $!

# A client of the D-Bus wire protocol (python3 has no dbus module here):
# authenticates, optionally takes a well-known name, and emits
# org.fedoraproject.FirewallD1.Reloaded on /org/fedoraproject/FirewallD1.
cat > "$work/reloaded.py" <<'EMITTER'
import os, socket, struct, sys, time

def pad(buffer, alignment):
    buffer += b"\0" * (-len(buffer) % alignment)

def string(buffer, value):
    pad(buffer, 4)
    encoded = value.encode()
    buffer += struct.pack("<I", len(encoded)) + encoded + b"\0"

def header_field(buffer, code, signature, value):
    pad(buffer, 8)
    buffer += bytes([code, len(signature)]) + signature.encode() + b"\0"
    if signature == "g":
        buffer += bytes([len(value)]) + value.encode() + b"\0"
    else:
        string(buffer, value)

def message(kind, serial, path, interface, member, destination=None, body=b"", signature=None):
    fields = bytearray()  # starts at offset 16, so relative alignment holds
    header_field(fields, 1, "o", path)
    header_field(fields, 2, "s", interface)
    header_field(fields, 3, "s", member)
    if destination:
        header_field(fields, 6, "s", destination)
    if signature:
        header_field(fields, 8, "g", signature)
    header = bytearray(b"l" + bytes([kind, 0, 1]) + struct.pack("<III", len(body), serial, len(fields)))
    header += fields
    pad(header, 8)
    return bytes(header) + body

address, own_name = sys.argv[1], sys.argv[2] == "own"
connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
connection.connect(address[len("unix:path="):])
connection.sendall(b"\0AUTH EXTERNAL " + str(os.getuid()).encode().hex().encode() + b"\r\n")
if not connection.recv(4096).startswith(b"OK"):
    sys.exit("authentication refused")
connection.sendall(b"BEGIN\r\n")
bus = ("/org/freedesktop/DBus", "org.freedesktop.DBus")
connection.sendall(message(1, 1, *bus, "Hello", destination="org.freedesktop.DBus"))
name = "org.fedoraproject.FirewallD1"
if own_name:
    body = bytearray()
    string(body, name)
    pad(body, 4)
    body += struct.pack("<I", 4)  # DBUS_NAME_FLAG_DO_NOT_QUEUE
    connection.sendall(message(1, 2, *bus, "RequestName", destination="org.freedesktop.DBus",
                               body=bytes(body), signature="su"))
    received = b""
    connection.settimeout(5)
    while not (b"NameAcquired" in received and name.encode() in received):
        received += connection.recv(4096)
connection.sendall(message(4, 3, "/org/fedoraproject/FirewallD1", name, "Reloaded"))
time.sleep(0.3)
EMITTER
emit_reloaded() { python3 "$work/reloaded.py" "$address" "$1"; }

agent_property() {
  busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 "$1"
}
owned_rules() {  # iptables-save|ip6tables-save: count of qharden's REJECT rules
  ip netns exec "$namespace" "$1" | grep -c 'qharden:ident-reject' || true
}
delete_owned() {
  ip netns exec "$namespace" "$1" -D OUTPUT -p tcp --dport 113 -m comment \
    --comment qharden:ident-reject -j REJECT --reject-with tcp-reset
}
# wait_rule SECONDS: until both families hold qharden's rule again; prints the ms.
wait_rule() {
  local start attempt
  start=$(date +%s%N)
  for attempt in $(seq 1 $(($1 * 20))); do
    if [ "$(owned_rules iptables-save)" -eq 1 ] && [ "$(owned_rules ip6tables-save)" -eq 1 ]; then
      echo $(( ($(date +%s%N) - start) / 1000000 ))
      return 0
    fi
    sleep 0.05
  done
  echo never
  return 1
}
wait_log() {  # PATTERN
  local attempt
  for attempt in $(seq 1 100); do grep -q "$1" "$work/agent.log" && return 0; sleep 0.1; done
  return 1
}

# start_agent: in the namespace, waiting for its first audit; sets agent_pid.
start_agent() {
  ip netns exec "$namespace" "$QHARDEND" --bus "$address" --root "$tree" >> "$work/agent.log" 2>&1 &
  agent_pid=$!
  kill_later "$agent_pid"
  for attempt in $(seq 1 100); do
    agent_property LastAuditUsec 2>/dev/null | grep -qv '^t 0$' && break
    sleep 0.1
  done
}
netfilter_now() {
  { ip netns exec "$namespace" iptables-save; ip netns exec "$namespace" ip6tables-save; } \
    | grep -v '^#' || true
}

echo "-- a host where nothing was applied"
check "no ident rule before the agent starts" [ "$(owned_rules iptables-save)" -eq 0 ]
netfilter_before=$(netfilter_now)
start_agent
sleep 5  # the first audit, then two netfilter_check_s periods
check "the agent left netfilter as it was" equals "$(netfilter_now)" "$netfilter_before"
check "  KeptChanges is empty" equals "$(agent_property KeptChanges)" "a(sss) 0"
check "  and nothing was journaled" bash -c "! [ -e '$tree/var/lib/qharden/changes' ]"
check "  and the log says nothing is kept" grep -q 'keeping no applied fix' "$work/agent.log"
lacks_reassert() { ! grep -q 're-asserting it' "$work/agent.log"; }
check "  and never tried to re-assert it" lacks_reassert

echo "-- the operator applies it: kept from now on"
ip netns exec "$namespace" "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > "$work/apply.out" 2>&1 || true
operator_change=$(sed -n 's/^change \([0-9TZ-]*\) .*/\1/p' "$work/apply.out")
check "qharden apply put both families in place" \
  bash -c "[ \$(ip netns exec '$namespace' iptables-save | grep -c qharden:ident-reject) -eq 1 ]"
kept_listed() { agent_property KeptChanges | grep '"firewall.ident-reject" "ipv4".*"firewall.ident-reject" "ipv6"' > /dev/null; }
wait_kept() { for attempt in $(seq 1 50); do kept_listed && return 0; sleep 0.1; done; return 1; }
check "  KeptChanges lists ipv4 and ipv6 ($(agent_property KeptChanges))" wait_kept
kill -TERM "$agent_pid"
wait "$agent_pid" || true
delete_owned iptables
delete_owned ip6tables

echo "-- at start"
check "no ident rule before the agent starts again" [ "$(owned_rules iptables-save)" -eq 0 ]
start_agent
elapsed=$(wait_rule 10 || true)
check "the agent put the IPv4 and IPv6 REJECT in place at start ($elapsed ms after its first audit)" [ "$elapsed" != never ]
check "  and says why in its log" grep -q 'start: firewall.ident-reject fails (ipv4, ipv6); re-asserting it' "$work/agent.log"
check "  and logged the re-apply with its change id" wait_log 'drift: re-applied firewall.ident-reject ipv4: applied (change '
fix_applied() { grep -A3 'member=FixApplied' "$work/signals.log" | grep 'string "firewall.ident-reject"' > /dev/null; }
wait_signal() { for attempt in $(seq 1 50); do "$@" && return 0; sleep 0.1; done; return 1; }
check "  and emitted FixApplied" wait_signal fix_applied
history=$("$QHARDEN" history --root "$tree" 2>&1 || true)
check "  and journaled it" contains "$history" "firewall.ident-reject"

echo "-- deleted with iptables: back within netfilter_check_s = 2"
sleep 0.5
delete_owned iptables
check "the IPv4 rule is gone" [ "$(owned_rules iptables-save)" -eq 0 ]
# Nothing but the 2 s netfilter timer re-asserts it here; the wait is generous
# so that a loaded machine does not fail it, and the time is printed.
elapsed=$(wait_rule 15 || true)
check "it is back ($elapsed ms; the timer is 2000 ms + 500 ms accuracy + one audit)" \
  bash -c "[ '$elapsed' != never ]"
check "  DriftDetected was emitted for ipv4" bash -c "grep -A2 'member=DriftDetected' '$work/signals.log' | grep -q 'string \"ipv4\"'"
check "  and the log says it drifted" wait_log 'drift: firewall.ident-reject ipv4 passed and now fails'

echo "-- firewalld's Reloaded"
printf '[agent]\nnetfilter_check_s = 3600\naudit_interval_s = 3600\n' > "$config"
kill -HUP "$agent_pid"
check "the config reload is taken (netfilter_check_s = 3600)" wait_log 'config reloaded'
sleep 0.5
delete_owned iptables
delete_owned ip6tables
emit_reloaded own
check "the fake firewalld's Reloaded is on the bus" grep -q 'member=Reloaded' "$work/signals.log"
# The timer is 3600 s now, so coming back at all proves Reloaded did it.
elapsed=$(wait_rule 15 || true)
check "after Reloaded the rule is back without waiting for the timer ($elapsed ms)" \
  bash -c "[ '$elapsed' != never ]"
check "  and the log says firewalld reloaded" grep -q 'firewalld reloaded its rules: checking firewall.ident-reject' "$work/agent.log"

echo "-- a Reloaded from a connection that is not firewalld"
sleep 0.5
delete_owned iptables
emit_reloaded other
sleep 1.5
check "is ignored: the rule stays deleted (the timer is an hour away)" [ "$(owned_rules iptables-save)" -eq 0 ]
check "  and the agent logged one firewalld reload only" [ "$(grep -c 'firewalld reloaded its rules' "$work/agent.log")" -eq 1 ]

echo "-- not in agent.reapply"
printf '[agent]\nnetfilter_check_s = 1\nreapply = ["tcp-env.flags"]\n' > "$config"
kill -HUP "$agent_pid"
for attempt in $(seq 1 50); do [ "$(grep -c 'config reloaded' "$work/agent.log")" -gt 1 ] && break; sleep 0.1; done
emit_reloaded own
sleep 2.5
check "neither Reloaded nor a timer puts the rule back" [ "$(owned_rules iptables-save)" -eq 0 ]
check "  and no firewalld reload was acted on" [ "$(grep -c 'firewalld reloaded its rules' "$work/agent.log")" -eq 1 ]

echo "-- rollback opts out"
printf '[agent]\nnetfilter_check_s = 1\n' > "$config"
kill -HUP "$agent_pid"
for attempt in $(seq 1 50); do [ "$(grep -c 'config reloaded' "$work/agent.log")" -gt 2 ] && break; sleep 0.1; done
rule_back_within() { wait_rule "$1" > /dev/null; }
check "the rule is kept again with the default agent.reapply" rule_back_within 5
# The operator rolls back what they applied; the agent's later re-applies of
# the same subjects are covered by that opt-out too.
rollback_output=$(ip netns exec "$namespace" "$QHARDEN" rollback "$operator_change" --root "$tree" 2>&1 || true)
echo "$rollback_output" | sed 's/^/      /'
check "qharden rollback $operator_change removed the rule" [ "$(owned_rules iptables-save)" -eq 0 ]
kept_empty() { [ "$(agent_property KeptChanges)" = "a(sss) 0" ]; }
wait_kept_empty() { for attempt in $(seq 1 50); do kept_empty && return 0; sleep 0.1; done; return 1; }
check "  KeptChanges is empty ($(agent_property KeptChanges))" wait_kept_empty
sleep 2.5
check "  and the rule stays deleted through two netfilter checks" [ "$(owned_rules iptables-save)" -eq 0 ]

kill -TERM "$agent_pid"
agent_status=0
wait "$agent_pid" || agent_status=$?
check "SIGTERM stops the agent cleanly (exit $agent_status)" [ "$agent_status" -eq 0 ]
echo "agent log:"
sed 's/^/      /' "$work/agent.log"
finish
