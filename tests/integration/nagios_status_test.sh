#!/usr/bin/env bash
# `qharden status --format nagios` against a real qhardend on a private
# system-type dbus-daemon carrying the shipped bus policy, the agent in a
# network namespace with a real unbound as its nameserver:
# - OK on a compliant tree, then WARNING when the ident REJECT rules go, then
#   CRITICAL when Plesk's smtp_psa loses -R, each with the audit's exit code;
# - UNKNOWN (3) when the report is older than --max-age, when the agent has
#   not finished its first audit (a silent nameserver holds it up), and when
#   no agent runs; a one-rule audit does not make a stale report fresh;
# - an audit in progress (a silent nameserver) does not delay the check: the
#   last report is answered at once;
# - a stopped agent is never started by the check: on a bus whose activation
#   file would start it, the check leaves it stopped, while a plain call does
#   start it (so the test can tell);
# - the first line follows the plugin guidelines: "QHARDEN STATE - text |"
#   and perfdata in 'label'=value[UOM];[warn];[crit];[min];[max] form;
# - the check runs as nobody, as Nagios/Icinga's user would.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dns_lib.sh"
require_root
for program in dbus-daemon busctl setpriv python3 ip6tables; do require_program "$program"; done
QHARDEND=$(dirname "$QHARDEN")/qhardend
SOURCE_DIR=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
[ -x "$QHARDEND" ] || { echo "FAIL: no qhardend beside $QHARDEN"; exit 1; }

namespace=qh-nagios-$$
make_namespace "$namespace"
dns_workdir
dns_server_new healthy
# The compliant host's identity (PTR that forward-confirms) and a DNSBL zone
# with its test points that does not list it, for smtp.identity and dnsbl.self.
dns_add healthy 'local-zone: "2.0.192.in-addr.arpa." static' \
  'local-data-ptr: "192.0.2.1 mail.example.test."' \
  'local-zone: "example.test." static' \
  'local-data: "mail.example.test. A 192.0.2.1"'
dns_dnsbl_zone healthy ok.test
dns_server_start "$namespace" healthy 127.0.0.10
dns_silent_address "$namespace" 127.0.0.13
work=$DNS_WORKDIR
chmod 755 "$work"  # nobody must reach the bus socket

# A compliant mail host: tcp-env with -Rt0, no DNSBL, a healthy nameserver,
# xinetd's cps raised, rcpthosts, and a name that forward-confirms.
new_tree() {  # NAME NAMESERVER
  local tree=$work/$1
  mkdir -p "$tree/etc/xinetd.d" "$tree/etc/sysctl.d" "$tree/etc/qharden" "$tree/run" "$tree/var/qmail/control"
  printf 'defaults\n{\n}\nincludedir /etc/xinetd.d\n' > "$tree/etc/xinetd.conf"
  printf 'service smtp\n{\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\tcps = 100 10\n\tserver = /var/qmail/bin/tcp-env\n\tserver_args = -Rt0 /var/qmail/bin/qmail-smtpd\n}\n' \
    > "$tree/etc/xinetd.d/smtp_psa"
  printf 'mail.example.test\n' > "$tree/var/qmail/control/me"
  printf 'example.test\n' > "$tree/var/qmail/control/rcpthosts"
  printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$2" > "$tree/etc/resolv.conf"
  printf 'net.ipv4.tcp_fin_timeout = 30\n' > "$tree/etc/sysctl.d/90-mail.conf"
  # The agent keeps no fix here: the test changes the host and wants reports.
  printf '[paths]\nrun_scripts = []\n[agent]\nreapply = []\naudit_interval_s = 3600\n[rules."resolv.nameservers"]\ntimeout_ms = 3000\ntries = 1\n[rules."smtp.identity"]\naddresses = ["192.0.2.1"]\ntimeout_ms = 3000\n[rules."dnsbl.self"]\nzones = ["ok.test"]\naddresses = ["192.0.2.1"]\ntimeout_ms = 3000\n' \
    > "$tree/etc/qharden/qharden.toml"
}
new_tree compliant 127.0.0.10
new_tree silent 127.0.0.13
ip netns exec "$namespace" sysctl -qw net.ipv4.tcp_fin_timeout=30
ip netns exec "$namespace" "$QHARDEN" apply --root "$work/compliant" --rule firewall.ident-reject > "$work/apply.log" 2>&1 ||
  { cat "$work/apply.log"; echo "FAIL: could not set up the ident REJECT rules"; exit 1; }

socket=$work/system_bus_socket
address=unix:path=$socket
write_bus_config "$work/system.conf" "$socket" system \
  "<include>$SOURCE_DIR/units/org.qharden.Agent1.conf</include>"
dbus-daemon --config-file="$work/system.conf" --nofork --nopidfile 2>> "$work/dbus.log" &
kill_later $!
for attempt in $(seq 1 50); do [ -S "$socket" ] && break; sleep 0.1; done

start_agent() {  # TREE LOG: sets agent_pid; returns once the name is on the bus
  ip netns exec "$namespace" "$QHARDEND" --bus "$address" --root "$1" > "$2" 2>&1 &
  agent_pid=$!
  kill_later "$agent_pid"
  for attempt in $(seq 1 100); do
    busctl --address="$address" status org.qharden.Agent1 > /dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "FAIL: qhardend did not take its name"; cat "$2"; exit 1
}
wait_for_audit() {
  for attempt in $(seq 1 200); do
    busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 \
      org.qharden.Agent1 LastAuditUsec 2>/dev/null | grep -qv '^t 0$' && return 0
    sleep 0.1
  done
  echo "FAIL: no audit finished"; exit 1
}
stop_agent() { kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; }
reaudit() {  # past the agent's 2 s coalescing, so the call really audits
  sleep 2.2
  busctl --address="$address" --timeout=60 call org.qharden.Agent1 /org/qharden/Agent1 \
    org.qharden.Agent1 Audit as 0 > /dev/null
}
# nagios [OPTIONS]: runs the check as nobody; sets output and status.
nagios() {
  status=0
  output=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$QHARDEN" status --format nagios --bus "$address" "$@" 2>&1) || status=$?
  echo "      $(head -1 <<< "$output")"
}
# Monitoring-plugin guidelines: the first line is "TEXT | PERFDATA" and every
# perfdata item is 'label'=value[UOM];[warn];[crit];[min];[max].
grammar_ok() {
  python3 - "$1" <<'PY'
import re, sys
first = sys.argv[1].splitlines()[0]
head, bar, perfdata = first.partition(" | ")
if not re.fullmatch(r"QHARDEN (OK|WARNING|CRITICAL|UNKNOWN) - [^|]+", head):
    sys.exit("bad head: " + head)
if not bar:
    sys.exit(0 if "UNKNOWN" in head else "no perfdata")
label = r"(?:'[^'=]+'|[^'= ]+)"
number = r"-?[0-9]+(?:\.[0-9]+)?"
rng = r"@?(?:~|" + number + r")?:?(?:" + number + r")?"
item = label + "=" + r"(?:" + number + r"|U)(?:s|ms|us|%|B|KB|MB|TB|c)?" + \
       r"(?:;(?:" + rng + r")?){0,2}(?:;(?:" + number + r")?){0,2}"
items = re.findall(r"(?:'[^']*'|\S)+", perfdata)
bad = [i for i in items if not re.fullmatch(item, i)]
sys.exit("bad perfdata items: %s" % bad if bad else 0)
PY
}

echo "-- compliant host"
start_agent "$work/compliant" "$work/agent.log"
wait_for_audit
nagios
check "OK exits 0 (got $status)" [ "$status" -eq 0 ]
check "OK line (info findings do not alarm)" contains "$output" "QHARDEN OK - no critical or warning finding fails on"
check "OK perfdata counts" contains "$output" "| critical=0;;0;0 warning=0;0;;0"
check "OK line parses by the plugin guidelines" grammar_ok "$output"

echo "-- the ident REJECT rules removed: a warning"
ip netns exec "$namespace" iptables -F OUTPUT
ip netns exec "$namespace" ip6tables -F OUTPUT
reaudit
nagios
check "WARNING exits 1 (got $status)" [ "$status" -eq 1 ]
check "WARNING names the count" contains "$output" "QHARDEN WARNING - 2 warning, "
check "long output names the finding" contains "$output" "WARNING firewall.ident-reject ipv4: "
check "WARNING line parses" grammar_ok "$output"

echo "-- Plesk rewrites smtp_psa without -R: critical"
sed -i 's/-Rt0 //' "$work/compliant/etc/xinetd.d/smtp_psa"
reaudit
nagios --max-age 600
check "CRITICAL exits 2 (got $status)" [ "$status" -eq 2 ]
check "CRITICAL summary" contains "$output" "QHARDEN CRITICAL - 1 critical, 2 warning, "
check "long output names smtp_psa" contains "$output" "CRITICAL tcp-env.flags /etc/xinetd.d/smtp_psa:smtp: "
check "age perfdata carries --max-age as critical" contains "$output" ";;600;0"
check "CRITICAL line parses" grammar_ok "$output"

echo "-- a stale report"
sleep 2.2
nagios --max-age 1
check "stale is UNKNOWN, exit 3 (got $status)" [ "$status" -eq 3 ]
check "stale names --max-age" contains "$output" "more than --max-age 1 s"

echo "-- an audit waiting on a silent nameserver does not hold the check up"
# The nameserver's probe alone waits 15 s, well past the check's 5 s bus timeout.
sed -i 's/^timeout_ms = 3000$/timeout_ms = 15000/' "$work/compliant/etc/qharden/qharden.toml"
kill -HUP "$agent_pid"
printf 'nameserver 127.0.0.13\noptions timeout:1 attempts:1\n' > "$work/compliant/etc/resolv.conf"
sleep 2.2
busctl --address="$address" --timeout=90 call org.qharden.Agent1 /org/qharden/Agent1 \
  org.qharden.Agent1 Audit as 1 resolv.nameservers > /dev/null 2>&1 &
busy_audit=$!
sleep 1
started=$(date +%s%N)
nagios
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
check "the busy agent's report is not UNKNOWN (got $status)" [ "$status" -eq 2 ]
check "it is answered at once (${elapsed_ms} ms), not after the bus timeout" [ "$elapsed_ms" -lt 3000 ]
check "the audit was still running meanwhile" kill -0 "$busy_audit"
wait "$busy_audit" || true

echo "-- a partial audit does not make a stale report fresh"
printf 'nameserver 127.0.0.10\noptions timeout:1 attempts:2\n' > "$work/compliant/etc/resolv.conf"
reaudit
last_audit() {
  busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 \
    org.qharden.Agent1 LastAuditUsec
}
full_audit=$(last_audit)
sleep 2.2
busctl --address="$address" --timeout=60 call org.qharden.Agent1 /org/qharden/Agent1 \
  org.qharden.Agent1 Audit as 1 tcp-env.flags > /dev/null
check "LastAuditUsec stays that of the full audit ($full_audit, now $(last_audit))" \
  [ "$(last_audit)" = "$full_audit" ]
nagios --max-age 1
check "a one-rule audit leaves the report stale: UNKNOWN (got $status)" [ "$status" -eq 3 ]
stop_agent

echo "-- no agent"
nagios
check "no agent is UNKNOWN, exit 3 (got $status)" [ "$status" -eq 3 ]
check "no agent says so" contains "$output" "QHARDEN UNKNOWN - qhardend is not running"
check "UNKNOWN line parses" grammar_ok "$output"

echo "-- no audit finished yet (the first audit waits on a silent nameserver)"
start_agent "$work/silent" "$work/agent-silent.log"
nagios
check "no finished audit is UNKNOWN, exit 3 (got $status)" [ "$status" -eq 3 ]
check "it says no audit finished" contains "$output" "has not finished an audit yet"
stop_agent

echo "-- the check never activates the agent"
activation_socket=$work/activation_socket
mkdir -p "$work/services"
marker=$work/activated
printf '[D-BUS Service]\nName=org.qharden.Agent1\nExec=/bin/sh -c "touch %s; exec sleep 30"\n' "$marker" \
  > "$work/services/org.qharden.Agent1.service"
write_bus_config "$work/session.conf" "$activation_socket" session \
  "<servicedir>$work/services</servicedir><policy context=\"default\"><allow send_destination=\"org.qharden.Agent1\"/></policy>"
dbus-daemon --config-file="$work/session.conf" --nofork --nopidfile 2>> "$work/dbus.log" &
kill_later $!
for attempt in $(seq 1 50); do [ -S "$activation_socket" ] && break; sleep 0.1; done
status=0
output=$("$QHARDEN" status --format nagios --bus "unix:path=$activation_socket" 2>&1) || status=$?
check "UNKNOWN without activation (got $status)" [ "$status" -eq 3 ]
check "the activation file was not run" [ ! -e "$marker" ]
busctl --address="unix:path=$activation_socket" --timeout=3 get-property org.qharden.Agent1 \
  /org/qharden/Agent1 org.qharden.Agent1 Version > /dev/null 2>&1 || true
for attempt in $(seq 1 30); do [ -e "$marker" ] && break; sleep 0.1; done
check "a call with auto-start does run it (so the check above can fail)" [ -e "$marker" ]
pkill -f "exec sleep 30" 2>/dev/null || true
pkill -f "touch $marker" 2>/dev/null || true
finish
