#!/usr/bin/env bash
# firewall.ident-reject against real netfilter in throwaway network namespaces:
# iptables with the nft backend (Debian's default), iptables-legacy, nft alone
# (iptables hidden in a private mount namespace), and no tool at all. Each
# setup is audited; apply, a second apply and rollback are checked on the real
# rulesets. A dummy interface stands in for a remote client, so the test also
# sees what REJECT and DROP do to a real connect to port 113.
source "$(dirname "$0")/lib.sh"
require_root
require_program iptables-legacy
require_program nft
require_program python3
tree=$(make_tree)

status_of() {  # JSON SUBJECT -> status
  python3 -c '
import json, sys
found = [f for f in json.loads(sys.argv[1])["findings"] if f["subject"] == sys.argv[2]]
print(found[0]["status"] + ":" + found[0]["evidence"].get("verdict", "-") if len(found) == 1 else "missing")
' "$1" "$2"
}
message_of() {
  python3 -c '
import json, sys
print([f for f in json.loads(sys.argv[1])["findings"] if f["subject"] == sys.argv[2]][0]["message"])
' "$1" "$2"
}

# new_namespace NAME: loopback, plus a "client network" 192.0.2.0/24 and
# 2001:db8::/64 on a veth pair whose far end stays down, with static neighbour
# entries: packets to a client leave and are never answered, like a client
# firewall that drops port 113.
new_namespace() {
  make_namespace "$1"
  ip netns exec "$1" ip link add client0 type veth peer name client1
  ip netns exec "$1" ip addr add 192.0.2.2/24 dev client0
  ip netns exec "$1" ip addr add 2001:db8::2/64 dev client0 nodad
  ip netns exec "$1" ip link set client0 up
  ip netns exec "$1" ip neigh replace 192.0.2.1 lladdr 02:00:00:00:00:01 dev client0 nud permanent
  ip netns exec "$1" ip neigh replace 2001:db8::1 lladdr 02:00:00:00:00:01 dev client0 nud permanent
}

# in NS [hide WHAT] -- command...: runs in the namespace; `hide iptables` or
# `hide all` bind-mounts /dev/null over the binaries in a private mount namespace.
run_in() {
  local namespace=$1 hidden=$2
  shift 3
  local script='exec "$@"'
  case $hidden in
    iptables) script='mount --bind /dev/null /usr/sbin/xtables-nft-multi && mount --bind /dev/null /usr/sbin/xtables-legacy-multi && exec "$@"' ;;
    all) script='mount --bind /dev/null /usr/sbin/xtables-nft-multi && mount --bind /dev/null /usr/sbin/xtables-legacy-multi && mount --bind /dev/null /usr/sbin/nft && exec "$@"' ;;
  esac
  ip netns exec "$namespace" unshare -m bash -c "$script" _ "$@"
}
audit_json() { run_in "$1" "$2" -- "$QHARDEN" audit --root "$tree" --rule firewall.ident-reject --json || true; }

# connect_seconds NS ADDRESS: how long a connect to ADDRESS port 113 takes (3 s cap).
connect_seconds() {
  local start end
  start=$(date +%s%N)
  ip netns exec "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/113" 2>/dev/null || true
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}

echo "== iptables with the nft backend"
ns=qh-fw-nft-$$
new_namespace "$ns"
report=$(audit_json "$ns" none)
check "no rule: ipv4 fails" [ "$(status_of "$report" ipv4)" = fail:none ]
check "no rule: ipv6 fails" [ "$(status_of "$report" ipv6)" = fail:none ]
waited_ms=$(connect_seconds "$ns" 192.0.2.1)
check "without the rule a connect to a silent client waits (>= 2.5 s, got $waited_ms ms)" [ "$waited_ms" -ge 2500 ]
ip netns exec "$ns" iptables -A OUTPUT -p tcp --dport 113 -j REJECT --reject-with tcp-reset
ip netns exec "$ns" ip6tables -A OUTPUT -p tcp --dport 113 -j REJECT --reject-with tcp-reset
report=$(audit_json "$ns" none)
check "REJECT tcp-reset: ipv4 passes" [ "$(status_of "$report" ipv4)" = pass:reject ]
check "REJECT tcp-reset: ipv6 passes" [ "$(status_of "$report" ipv6)" = pass:reject ]
ip netns exec "$ns" iptables -F OUTPUT
ip netns exec "$ns" iptables -A OUTPUT -p tcp --dport 113 -j REJECT
report=$(audit_json "$ns" none)
check "REJECT icmp-port-unreachable: passes" [ "$(status_of "$report" ipv4)" = pass:reject ]
check "  and the message recommends tcp-reset" contains "$(message_of "$report" ipv4)" "tcp-reset is recommended"
ip netns exec "$ns" iptables -F OUTPUT
ip netns exec "$ns" iptables -A OUTPUT -j ACCEPT
ip netns exec "$ns" iptables -A OUTPUT -p tcp --dport 113 -j REJECT --reject-with tcp-reset
report=$(audit_json "$ns" none)
check "REJECT after -A OUTPUT -j ACCEPT: fails as shadowed" [ "$(status_of "$report" ipv4)" = fail:shadowed ]
check "  and names the ACCEPT" contains "$(message_of "$report" ipv4)" "-A OUTPUT -j ACCEPT"
ip netns exec "$ns" iptables -F OUTPUT
ip netns exec "$ns" iptables -A OUTPUT -p tcp --dport 113 -j DROP
report=$(audit_json "$ns" none)
check "DROP: fails" [ "$(status_of "$report" ipv4)" = fail:drop ]
check "  and says the connect still waits" contains "$(message_of "$report" ipv4)" "still waits"
check "DROP really leaves the connect waiting (>= 2.5 s)" [ "$(connect_seconds "$ns" 192.0.2.1)" -ge 2500 ]
ip netns exec "$ns" iptables -F OUTPUT
ip netns exec "$ns" ip6tables -F OUTPUT
plan=$(run_in "$ns" none -- "$QHARDEN" plan --root "$tree" --rule firewall.ident-reject)
check "plan shows the exact iptables argv" contains "$plan" "-I OUTPUT 1 -p tcp --dport 113 -m comment --comment qharden:ident-reject -j REJECT --reject-with tcp-reset"
check "plan says how the rule survives a reboot" contains "$plan" "re-asserts it at start"
status=0
run_in "$ns" none -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > "$tree/apply.out" || status=$?
check "apply exits 0" [ "$status" -eq 0 ]
report=$(audit_json "$ns" none)
check "after apply: ipv4 passes" [ "$(status_of "$report" ipv4)" = pass:reject ]
check "after apply: ipv6 passes" [ "$(status_of "$report" ipv6)" = pass:reject ]
# Compared with the wait measured above in this run, not with a wall time.
check "after apply the connect is refused at once (< 1/3 of the $waited_ms ms wait)" [ "$(connect_seconds "$ns" 192.0.2.1)" -lt $(( waited_ms / 3 )) ]
check "after apply the IPv6 connect is refused at once (< 1/3 of the wait)" [ "$(connect_seconds "$ns" 2001:db8::1)" -lt $(( waited_ms / 3 )) ]
run_in "$ns" none -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > "$tree/apply2.out" || true
check "apply again changes nothing" contains "$(cat "$tree/apply2.out")" "nothing to do"
check "exactly one owned ipv4 rule" [ "$(ip netns exec "$ns" iptables-save | grep -c qharden:ident-reject)" -eq 1 ]
check "exactly one owned ipv6 rule" [ "$(ip netns exec "$ns" ip6tables-save | grep -c qharden:ident-reject)" -eq 1 ]
run_in "$ns" none -- "$QHARDEN" rollback --last --root "$tree" > /dev/null
check "rollback removes the ipv4 rule" [ "$(ip netns exec "$ns" iptables-save | grep -c qharden:ident-reject)" -eq 0 ]
check "rollback removes the ipv6 rule" [ "$(ip netns exec "$ns" ip6tables-save | grep -c qharden:ident-reject)" -eq 0 ]
# A reboot or an iptables-restore flushes the rule without qharden: its undo
# then fails, and the rollback still completes and removes the rest.
run_in "$ns" none -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > /dev/null || true
ip netns exec "$ns" iptables -F OUTPUT
status=0
out=$(run_in "$ns" none -- "$QHARDEN" rollback --last --root "$tree" 2>&1) || status=$?
check "rollback after the ipv4 rule was flushed exits 0" [ "$status" -eq 0 ]
check "  and says the rule was already gone" contains "$out" "already gone: iptables"
check "  and still removes the ipv6 rule" [ "$(ip netns exec "$ns" ip6tables-save | grep -c qharden:ident-reject)" -eq 0 ]
report=$(run_in "$ns" none -- "$QHARDEN" audit --offline --root "$tree" --rule firewall.ident-reject --json || true)
check "--offline: ipv4 and ipv6 skip" [ "$(status_of "$report" ipv4)/$(status_of "$report" ipv6)" = "skip:-/skip:-" ]
plan=$(run_in "$ns" none -- "$QHARDEN" plan --offline --root "$tree" --rule firewall.ident-reject)
check "--offline: no command in the plan" lacks "$plan" "iptables"
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
report=$(audit_json "$ns" none)
check "IPv6 disabled: ipv6 skips" [ "$(status_of "$report" ipv6)" = skip:- ]

echo "== iptables-legacy"
ns=qh-fw-legacy-$$
new_namespace "$ns"
ip netns exec "$ns" iptables-legacy -A OUTPUT -p tcp --dport 113 -j REJECT --reject-with tcp-reset
report=$(audit_json "$ns" none)
check "legacy REJECT: ipv4 passes" [ "$(status_of "$report" ipv4)" = pass:reject ]
check "  and the backend is named" contains "$report" '"iptables-legacy"'
ip netns exec "$ns" iptables-legacy -I OUTPUT 1 -p tcp --dport 113 -j DROP
report=$(audit_json "$ns" none)
check "legacy DROP first: ipv4 fails" [ "$(status_of "$report" ipv4)" = fail:drop ]
ip netns exec "$ns" iptables-legacy -F OUTPUT
ip netns exec "$ns" iptables-legacy -A OUTPUT -o lo -j ACCEPT
ip netns exec "$ns" iptables-legacy -A OUTPUT -j ACCEPT
plan=$(run_in "$ns" none -- "$QHARDEN" plan --root "$tree" --rule firewall.ident-reject)
check "legacy rules in use: the fix uses iptables-legacy" contains "$plan" "run: iptables-legacy -I OUTPUT 1"
run_in "$ns" none -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > /dev/null || true
report=$(audit_json "$ns" none)
check "legacy: after apply ipv4 passes" [ "$(status_of "$report" ipv4)" = pass:reject ]
check "legacy: the owned rule is first in legacy OUTPUT" [ "$(ip netns exec "$ns" iptables-legacy-save | grep -m1 '^-A OUTPUT' | grep -c qharden:ident-reject)" -eq 1 ]
run_in "$ns" none -- "$QHARDEN" rollback --last --root "$tree" > /dev/null
check "legacy: rollback removes it" [ "$(ip netns exec "$ns" iptables-legacy-save | grep -c qharden:ident-reject)" -eq 0 ]

echo "== nft alone (iptables hidden)"
ns=qh-fw-nftonly-$$
new_namespace "$ns"
report=$(audit_json "$ns" iptables)
check "nft-only, no rule: fails, not an error" [ "$(status_of "$report" ipv4)" = fail:none ]
ip netns exec "$ns" nft 'add table inet mine { chain out { type filter hook output priority 0; tcp dport 113 reject with tcp reset; }; }'
report=$(audit_json "$ns" iptables)
check "nft REJECT tcp reset: ipv4 passes" [ "$(status_of "$report" ipv4)" = pass:reject ]
check "nft REJECT tcp reset: ipv6 passes" [ "$(status_of "$report" ipv6)" = pass:reject ]
ip netns exec "$ns" nft 'insert rule inet mine out accept'
report=$(audit_json "$ns" iptables)
check "nft accept before the REJECT: fails as shadowed" [ "$(status_of "$report" ipv4)" = fail:shadowed ]
ip netns exec "$ns" nft 'add table ip early { chain out { type filter hook output priority -10; tcp dport 113 drop; }; }'
ip netns exec "$ns" nft flush chain inet mine out
report=$(audit_json "$ns" iptables)
check "nft DROP at priority -10: fails" [ "$(status_of "$report" ipv4)" = fail:drop ]
check "  while IPv6, which that ip table does not see, has no REJECT" [ "$(status_of "$report" ipv6)" = fail:none ]
plan=$(run_in "$ns" iptables -- "$QHARDEN" plan --root "$tree" --rule firewall.ident-reject)
check "plan: an owned nft table before priority -10" contains "$plan" "add table inet qharden { chain output { type filter hook output priority -11;"
check "plan: undo deletes that table" contains "$plan" "undo: nft delete table inet qharden"
status=0
run_in "$ns" iptables -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > "$tree/apply.out" || status=$?
check "nft apply exits 0" [ "$status" -eq 0 ]
report=$(audit_json "$ns" iptables)
check "nft: after apply ipv4 passes" [ "$(status_of "$report" ipv4)" = pass:reject ]
check "nft: after apply ipv6 passes" [ "$(status_of "$report" ipv6)" = pass:reject ]
check "nft: the early DROP no longer delays the connect (< 1/3 of the $waited_ms ms wait)" [ "$(connect_seconds "$ns" 192.0.2.1)" -lt $(( waited_ms / 3 )) ]
run_in "$ns" iptables -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > "$tree/apply2.out" || true
check "nft: apply again changes nothing" contains "$(cat "$tree/apply2.out")" "nothing to do"
check "nft: one owned table with one rule" [ "$(ip netns exec "$ns" nft list ruleset | grep -c 'qharden:ident-reject')" -eq 1 ]
run_in "$ns" iptables -- "$QHARDEN" rollback --last --root "$tree" > /dev/null
check "nft: rollback deletes the owned table" lacks "$(ip netns exec "$ns" nft list tables)" "qharden"
check "nft: the operator's tables stay" contains "$(ip netns exec "$ns" nft list tables)" "table ip early"
run_in "$ns" iptables -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > /dev/null || true
ip netns exec "$ns" nft delete table inet qharden
status=0
out=$(run_in "$ns" iptables -- "$QHARDEN" rollback --last --root "$tree" 2>&1) || status=$?
check "nft: rollback after the owned table was deleted exits 0" [ "$status" -eq 0 ]
check "  and says it was already gone" contains "$out" "already gone: nft list tables"

echo "== firewalld (a private system bus, firewalld in the namespace, its config copied)"
if ! command -v firewalld > /dev/null || ! command -v dbus-daemon > /dev/null; then
  check "firewalld and dbus-daemon are installed (packaging/bootstrap.sh test)" false
else
  ns=qh-fw-firewalld-$$
  new_namespace "$ns"
  bus_dir=$(mktemp -d /tmp/qharden-bus.XXXXXX)
  defer "rm -rf '$bus_dir'"
  cp -a /etc/firewalld "$bus_dir/firewalld-config"
  cat > "$bus_dir/bus.conf" <<BUS
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$bus_dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
BUS
  dbus-daemon --config-file="$bus_dir/bus.conf" --fork --print-pid > "$bus_dir/bus.pid"
  defer "kill $(cat "$bus_dir/bus.pid")"
  export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$bus_dir/bus
  ip netns exec "$ns" firewalld --nofork --nopid --system-config "$bus_dir/firewalld-config" \
    --log-target file --log-file "$bus_dir/firewalld.log" > /dev/null 2>&1 &
  kill_later "$!"
  for attempt in $(seq 1 120); do
    ip netns exec "$ns" firewall-cmd --state > /dev/null 2>&1 && break
    sleep 0.5
  done
  check "firewalld runs in the namespace" [ "$(ip netns exec "$ns" firewall-cmd --state 2>&1)" = running ]
  report=$(audit_json "$ns" none)
  check "firewalld: fails before the fix" [ "$(status_of "$report" ipv4)" = fail:none ]
  check "  and the backend is named" contains "$report" '"firewalld"'
  check "  firewalld's own INPUT rejects are not taken for an output REJECT" lacks "$(message_of "$report" ipv4)" "filter_INPUT"
  plan=$(run_in "$ns" none -- "$QHARDEN" plan --root "$tree" --rule firewall.ident-reject)
  check "firewalld: the plan goes through firewall-cmd --direct" contains "$plan" "run: firewall-cmd --direct --add-rule ipv4 filter OUTPUT 0 -p tcp --dport 113"
  check "firewalld: and makes it permanent" contains "$plan" "run: firewall-cmd --permanent --direct --add-rule ipv4"
  status=0
  run_in "$ns" none -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > /dev/null || status=$?
  check "firewalld: apply exits 0" [ "$status" -eq 0 ]
  report=$(audit_json "$ns" none)
  check "firewalld: after apply ipv4 passes" [ "$(status_of "$report" ipv4)" = pass:reject ]
  check "firewalld: after apply ipv6 passes" [ "$(status_of "$report" ipv6)" = pass:reject ]
  ip netns exec "$ns" firewall-cmd --reload > /dev/null
  report=$(audit_json "$ns" none)
  check "firewalld: a reload keeps the rule (permanent direct rule)" [ "$(status_of "$report" ipv4)" = pass:reject ]
  check "firewalld: the permanent config holds it" grep -q qharden:ident-reject "$bus_dir/firewalld-config/direct.xml"
  run_in "$ns" none -- "$QHARDEN" apply --root "$tree" --rule firewall.ident-reject > "$tree/apply2.out" || true
  check "firewalld: apply again changes nothing" contains "$(cat "$tree/apply2.out")" "nothing to do"
  # The runtime ipv4 rule removed by hand: firewall-cmd warns and the
  # rollback goes on.
  ip netns exec "$ns" firewall-cmd --direct --remove-rule ipv4 filter OUTPUT 0 -p tcp --dport 113 \
    -m comment --comment qharden:ident-reject -j REJECT --reject-with tcp-reset > /dev/null
  status=0
  run_in "$ns" none -- "$QHARDEN" rollback --last --root "$tree" > /dev/null || status=$?
  check "firewalld: rollback after a rule was removed by hand exits 0" [ "$status" -eq 0 ]
  check "firewalld: rollback removes the runtime rule" [ "$(ip netns exec "$ns" iptables-save | grep -c qharden:ident-reject)" -eq 0 ]
  check "firewalld: rollback removes the permanent rule" [ "$(grep -c qharden:ident-reject "$bus_dir/firewalld-config/direct.xml")" -eq 0 ]
  unset DBUS_SYSTEM_BUS_ADDRESS
fi

echo "== no firewall tool at all"
ns=qh-fw-none-$$
new_namespace "$ns"
report=$(audit_json "$ns" all)
check "no tool: ipv4 is an error, not a crash" [ "$(status_of "$report" ipv4)" = error:- ]
check "no tool: ipv6 is an error" [ "$(status_of "$report" ipv6)" = error:- ]
check "  and the message names the missing tools" contains "$(message_of "$report" ipv4)" "neither iptables nor nft is installed"
finish
