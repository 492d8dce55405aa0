#!/usr/bin/env bash
# Fixes only on request, with the agent privilege-separated as under its unit:
# qhardend runs as nobody with no capability, --fixer-socket and
# --reader-socket; every fix goes to `qharden-fixer --serve fixes` and every
# privileged read to `qharden-fixer --serve reads`, each started per
# connection as root by systemd-socket-activate (what qharden-fixer.socket and
# qharden-reader.socket do under systemd), all
# in a network namespace of its own on a Plesk-like --root tree, with a
# private system-type dbus-daemon that includes the shipped bus policy.
# - A fresh host: the agent runs with the built-in defaults for 10 s while
#   Plesk overwrites the operator's hand-made fix of smtp_psa once.
#   DriftDetected is emitted, and nothing else changes: every file's sha256,
#   iptables -S, ip6tables -S, nft list ruleset and the namespace's sysctls.
# - Opt in: Apply over D-Bus (root) fixes the tree through the fixer; the next
#   overwrite is repaired within the drift window, and KeptChanges lists it.
# - Opt out: Rollback over D-Bus; KeptChanges is empty and a later overwrite
#   stays overwritten.
source "$(dirname "$0")/lib.sh"
require_root
for program in dbus-daemon dbus-monitor busctl setpriv systemd-socket-activate iptables nft sha256sum; do
  require_program "$program"
done
QHARDEND=$(dirname "$QHARDEN")/qhardend
FIXER=$(dirname "$QHARDEN")/qharden-fixer
SOURCE_DIR=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
[ -x "$QHARDEND" ] && [ -x "$FIXER" ] || { echo "FAIL: no qhardend or qharden-fixer beside $QHARDEN"; exit 1; }

work=$(make_tree)
chmod 755 "$work"
tree=$work/tree
mkdir -p "$tree"
cp -a "$SOURCE_DIR/tests/fixtures/hosts/plesk/." "$tree/"
chmod -R a+rX "$tree"
smtp_psa=$tree/etc/xinetd.d/smtp_psa
cp "$smtp_psa" "$work/smtp_psa.plesk"
# The operator's hand-made fix, which Plesk will overwrite.
sed -i 's|server_args\t= /usr/sbin/rblsmtpd|server_args\t= -Rt0 /usr/sbin/rblsmtpd|' "$smtp_psa"
grep -q 'server_args	= -Rt0' "$smtp_psa" || { echo "FAIL: could not make the hand fix"; exit 1; }
namespace=qh-request-$$
make_namespace "$namespace"

socket=$work/system_bus_socket
address=unix:path=$socket
# The shipped policy lets qharden and root own the name; here the agent runs as
# nobody, which this test's bus allows as well.
write_bus_config "$work/bus.conf" "$socket" system \
  "<policy user=\"nobody\"><allow own=\"org.qharden.Agent1\"/></policy>
  <include>$SOURCE_DIR/units/org.qharden.Agent1.conf</include>"
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile 2>> "$work/dbus.log" &
kill_later $!
for attempt in $(seq 1 50); do [ -S "$socket" ] && break; sleep 0.1; done
dbus-monitor --address "$address" "type='signal',interface='org.qharden.Agent1'" > "$work/signals.log" 2>&1 &
kill_later $!

# The fixer's and the reader's sockets: one root qharden-fixer per connection,
# as Accept=yes does. Both log into one file, in the order of their calls.
fixer_socket=$work/fixer.socket
reader_socket=$work/reader.socket
for part in fixes:$fixer_socket reads:$reader_socket; do
  ip netns exec "$namespace" systemd-socket-activate --accept --inetd -l "${part#*:}" \
    "$FIXER" --serve "${part%%:*}" --root "$tree" --allow-user nobody 2>> "$work/fixer.log" &
  kill_later $!
  for attempt in $(seq 1 50); do [ -S "${part#*:}" ] && break; sleep 0.1; done
  chmod 666 "${part#*:}"  # SocketMode=0660 with the agent's group, in the units
done

agent_property() {
  busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 "$1"
}
tree_hashes() { (cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
netfilter_now() {
  ip netns exec "$namespace" iptables -S
  ip netns exec "$namespace" ip6tables -S
  ip netns exec "$namespace" nft list ruleset
}
sysctls_now() {
  ip netns exec "$namespace" sysctl -n net.ipv4.tcp_fin_timeout net.ipv4.tcp_keepalive_time \
    net.ipv4.tcp_keepalive_intvl net.ipv4.tcp_keepalive_probes
}
hashes_before=$(tree_hashes)
netfilter_before=$(netfilter_now)
sysctls_before=$(sysctls_now)

echo "-- a fresh host: built-in defaults, 10 s, one Plesk overwrite"
started=$(date +%s%N)
ip netns exec "$namespace" setpriv --reuid=nobody --regid=nogroup --clear-groups \
  --inh-caps=-all --bounding-set=-all \
  "$QHARDEND" --bus "$address" --root "$tree" --fixer-socket "$fixer_socket" \
  --reader-socket "$reader_socket" > "$work/agent.log" 2>&1 &
agent_pid=$!
kill_later "$agent_pid"
for attempt in $(seq 1 150); do
  agent_property LastAuditUsec 2>/dev/null | grep -qv '^t 0$' && break
  sleep 0.1
done
check "the agent runs as nobody" equals "$(stat -c %U /proc/$agent_pid)" nobody
check "  with no capability" equals "$(sed -n 's/^CapEff:\t//p' /proc/$agent_pid/status)" 0000000000000000
audit=$(busctl --address="$address" call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Audit as 1 firewall.ident-reject 2>&1 || true)
echo "      $audit"
check "netfilter is read for it by the reader: firewall.ident-reject ipv4 fails, no error" \
  contains "$audit" '"firewall.ident-reject" "ipv4" "fail"'
check "  and the reader logged the read" grep -q 'read-commands for agent read: read ' "$work/fixer.log"
check "tcp-env.flags passes with the hand-made fix" \
  bash -c "busctl --address='$address' call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Audit as 1 tcp-env.flags | grep -q '\"/etc/xinetd.d/smtp_psa:smtp\" \"pass\"'"
sleep 2
cat "$work/smtp_psa.plesk" > "$smtp_psa"  # Plesk rewrites it in place
hand_overwritten=$(tree_hashes)
remaining=$(( 10000 - ($(date +%s%N) - started) / 1000000 ))
[ "$remaining" -gt 0 ] && sleep "$(awk -v ms="$remaining" 'BEGIN { printf "%.3f", ms / 1000 }')"
drifted() { grep -A2 'member=DriftDetected' "$work/signals.log" | grep 'string "/etc/xinetd.d/smtp_psa:smtp"' > /dev/null; }
check "DriftDetected was emitted for smtp_psa" drifted
check "  and the log says it is reported only" grep -q 'smtp_psa:smtp passed and now fails; reported only' "$work/agent.log"
check "smtp_psa still holds what Plesk wrote" cmp -s "$smtp_psa" "$work/smtp_psa.plesk"
check "no file of the tree changed after the overwrite (sha256 of each)" equals "$(tree_hashes)" "$hand_overwritten"
check "  nor before it: only smtp_psa differs from the start" \
  equals "$(diff <(echo "$hashes_before") <(tree_hashes) | grep -c '^[<>]')" 2
check "no journal, no state dir was made" bash -c "! [ -e '$tree/var/lib/qharden' ]"
check "iptables -S, ip6tables -S and nft list ruleset are unchanged" equals "$(netfilter_now)" "$netfilter_before"
check "the namespace's tcp sysctls are unchanged" equals "$(sysctls_now)" "$sysctls_before"
check "KeptChanges is empty" equals "$(agent_property KeptChanges)" "a(sss) 0"
check "the fixer was never asked to apply" bash -c "! grep -q 'apply for' '$work/fixer.log'"

echo "-- opt in: Apply over D-Bus"
apply=$(busctl --address="$address" call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Apply as 1 tcp-env.flags 2>&1 || true)
echo "      $apply"
check "Apply fixed smtp_psa through the fixer" contains "$apply" '"tcp-env.flags" "/etc/xinetd.d/smtp_psa" "applied"'
check "  the fixer logged the D-Bus caller" grep -q 'apply for D-Bus Apply from :[0-9.]* (uid 0): change ' "$work/fixer.log"
applied_change=$(echo "$apply" | sed -n 's/^sa(sss) "\([0-9TZ-]*\)".*/\1/p')
check "  and names its change ($applied_change)" [ -n "$applied_change" ]
kept=$(agent_property KeptChanges)
check "KeptChanges lists smtp_psa ($kept)" contains "$kept" "\"$applied_change\" \"tcp-env.flags\" \"/etc/xinetd.d/smtp_psa\""
sleep 0.5
overwrite_at=$(date +%s%N)
cat "$work/smtp_psa.plesk" > "$smtp_psa"
repaired=never
for attempt in $(seq 1 200); do
  if grep -q 'server_args	= -Rt0' "$smtp_psa"; then repaired=$(( ($(date +%s%N) - overwrite_at) / 1000000 )); break; fi
  sleep 0.01
done
echo "      drift window with the fixer socket: $repaired ms"
check "the next overwrite is repaired ($repaired ms)" [ "$repaired" != never ]
# The fixer logs its apply once it is over (reload and re-audit included),
# a moment after the file shows the fix.
for attempt in $(seq 1 100); do
  grep -q 'apply for drift re-apply: change ' "$work/fixer.log" && break
  sleep 0.05
done
check "  by a re-apply of the kept fix" grep -q 'apply for drift re-apply: change ' "$work/fixer.log"

echo "-- opt out: Rollback over D-Bus"
rollback=$(busctl --address="$address" call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Rollback s "$applied_change" 2>&1 || true)
echo "      $rollback"
check "Rollback restored smtp_psa" contains "$rollback" '"tcp-env.flags" "/etc/xinetd.d/smtp_psa"'
check "  to what Plesk wrote" cmp -s "$smtp_psa" "$work/smtp_psa.plesk"
kept_empty() { [ "$(agent_property KeptChanges)" = "a(sss) 0" ]; }
wait_until() { for attempt in $(seq 1 50); do "$@" && return 0; sleep 0.1; done; return 1; }
check "KeptChanges is empty" wait_until kept_empty
sleep 0.5
printf '# Plesk again\n' | cat - "$work/smtp_psa.plesk" > "$smtp_psa"
sleep 2
check "a later overwrite stays overwritten" grep -q '^# Plesk again' "$smtp_psa"
check "  and smtp_psa has no -R" grep -q 'server_args	= /usr/sbin/rblsmtpd' "$smtp_psa"

echo "-- bad input on the fixer's and the reader's sockets"
# send_to SOCKET USER GROUP: stdin to SOCKET as USER; prints the answer.
send_to() {
  setpriv --reuid="$2" --regid="$3" --clear-groups /usr/bin/python3 -c "
import socket, sys
connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
connection.connect(sys.argv[1])
connection.sendall(sys.stdin.buffer.read())
connection.shutdown(socket.SHUT_WR)
print(connection.makefile('rb').read().decode())" "$1" 2>&1 || true
}
reply=$(printf '{"version":1,"operation":"read-process","root":"%s","caller":"test","pid":1}' "$tree" \
  | send_to "$reader_socket" daemon daemon)
check "a user the reader does not serve is refused ($reply)" contains "$reply" "uid $(id -u daemon) may not use the fixer"
reply=$(printf '{"version":1,"operation":"apply","root":' | send_to "$fixer_socket" nobody nogroup)
check "a truncated request is refused, saying so ($reply)" contains "$reply" "request: not a JSON object"
reply=$(printf '{"version":1,"operation":"read-commands","root":"%s","caller":"test","commands":[["sh","-c","id"]],"timeout_ms":100}' "$tree" \
  | send_to "$reader_socket" nobody nogroup)
check "a command outside the read list is refused, naming it ($reply)" contains "$reply" 'sh -c id: not one of the read-only commands'
reply=$(printf '{"version":1,"operation":"read-process","root":"%s","caller":"test","pid":1}' "$tree" \
  | send_to "$fixer_socket" nobody nogroup)
check "the fixer refuses a read ($reply)" contains "$reply" "this is qharden's fixer, which only fixes"
reply=$(printf '{"version":1,"operation":"rollback","root":"%s","caller":"test","change_id":""}' "$tree" \
  | send_to "$reader_socket" nobody nogroup)
check "the reader refuses a rollback ($reply)" contains "$reply" "this is qharden's reader, which changes nothing"
reply=$(printf '{"version":1,"operation":"apply","root":"/","caller":"test","rules":[],"rules_named":false,"only_kept":false,"reload":true}' \
  | send_to "$fixer_socket" root root)
check "a request for another root is refused ($reply)" contains "$reply" "this fixer serves root $tree, not /"

kill -TERM "$agent_pid"
agent_status=0
wait "$agent_pid" || agent_status=$?
check "SIGTERM stops the agent cleanly (exit $agent_status)" [ "$agent_status" -eq 0 ]
echo "fixer log:"
sed 's/^/      /' "$work/fixer.log"
echo "agent log:"
sed 's/^/      /' "$work/agent.log"
finish
