#!/usr/bin/env bash
# smtp.greeting against real listeners in a network namespace, each run
# qharden inside it: xinetd serving a tcp-env stand-in (judged from the
# xinetd file, ident predicted, then fixed by tcp-env.flags and
# firewall.ident-reject), a hand-started tcpserver with a slow greeter (judged
# from /proc/PID/cmdline, slow for no cause qharden knows), a silent TLS port
# that hits give_up_ms, and an inetd line that nothing listens on.
source "$(dirname "$0")/lib.sh"
require_root
require_program xinetd
require_program tcpserver
require_program python3

tree=$(make_tree)
namespace=qh-greeting-$$
make_namespace "$namespace"
in_namespace() { ip netns exec "$namespace" "$@"; }

stand_in=$tree/var/qmail/bin/tcp-env
write_xinetd_tree "$tree"
mkdir -p "$tree/etc/qharden"
cat > "$tree/etc/xinetd.d/smtp_psa" <<SERVICE
service smtp
{
	socket_type	= stream
	protocol	= tcp
	wait		= no
	disable		= no
	user		= root
	flags		= IPv4
	server		= $stand_in
	server_args	= /var/qmail/bin/qmail-smtpd
}
SERVICE
# An inetd line for a port nothing listens on: said, not silently dropped.
printf '2626 stream tcp nowait root %s tcp-env /var/qmail/bin/qmail-smtpd\n' "$stand_in" > "$tree/etc/inetd.conf"
cat > "$tree/etc/qharden/qharden.toml" <<'CONFIG'
[rules."smtp.greeting"]
ports = [25, 465, 587, 2626]
max_ms = 2000
give_up_ms = 4000
CONFIG
# No DNS server runs in the namespace, so the resolver is dead: tcp-env's
# name lookups make resolv.nameservers a cause too.
printf 'nameserver 127.0.0.1\n' > "$tree/etc/resolv.conf"

cat > "$tree/slow-greeter" <<'GREETER'
#!/bin/sh
sleep 2.5
printf '220 slow.lab ESMTP\r\n'
read line
GREETER
# Reads until the probe hangs up, so no child outlives the test.
cat > "$tree/silent" <<'SILENT'
#!/bin/sh
exec cat > /dev/null
SILENT
chmod 755 "$tree/slow-greeter" "$tree/silent"

# Started with ip netns exec itself (it execs the daemon), so $! is the
# daemon's pid; a shell function would leave the daemon behind on exit.
ip netns exec "$namespace" xinetd -f "$tree/xinetd-daemon.conf" -pidfile "$tree/run/xinetd.pid" \
  -filelog "$tree/xinetd.log" -dontfork &
kill_later $!
ip netns exec "$namespace" tcpserver -RHl0 0 587 "$tree/slow-greeter" &
kill_later $!
ip netns exec "$namespace" tcpserver -RHl0 0 465 "$tree/silent" &
kill_later $!
wait_for_port "$namespace" 25
wait_for_port "$namespace" 587
wait_for_port "$namespace" 465

# field JSON SUBJECT EXPRESSION: evaluates EXPRESSION (Python, `f` is the
# finding) for the smtp.greeting finding with that subject.
field() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for f in report["findings"]:
    if f["rule"] == "smtp.greeting" and f["subject"] == sys.argv[2]:
        print(eval(sys.argv[3]))
        break
else:
    print("no finding for " + sys.argv[2])
PY
}

started=$(date +%s%N)
status=0
in_namespace "$QHARDEN" audit --root "$tree" --rule smtp.greeting --json > "$tree/before.json" || status=$?
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
check "audit exits 2: smtp.greeting is critical" [ "$status" -eq 2 ]
# One probe after the other cannot take less than the sum of the two delays.
check "the probes ran together: the audit took ${elapsed_ms} ms, under 2.5 s + 4 s" [ "$elapsed_ms" -lt 6500 ]

xinetd_finding=0.0.0.0:25
check "xinetd's listener fails" [ "$(field "$tree/before.json" $xinetd_finding 'f["status"]')" = fail ]
check "it is judged from the xinetd file" \
  [ "$(field "$tree/before.json" $xinetd_finding 'f["evidence"]["command_source"]')" = /etc/xinetd.d/smtp_psa:smtp ]
causes=$(field "$tree/before.json" $xinetd_finding '" ".join(f["evidence"]["causes"])')
check "causes name tcp-env.flags, firewall.ident-reject and resolv.nameservers ($causes)" \
  [ "$causes" = "tcp-env.flags firewall.ident-reject resolv.nameservers" ]
predicted=$(field "$tree/before.json" $xinetd_finding 'int(f["evidence"]["predicted_remote_ms"] - f["evidence"]["measured_ms"])')
check "the prediction adds tcp-env's 30 s ident wait ($predicted ms)" [ "$predicted" -eq 30000 ]

metrics=$(in_namespace "$QHARDEN" audit --root "$tree" --rule smtp.greeting --format prometheus || true)
predicted_metric=$(printf '%s\n' "$metrics" | awk '/^qharden_smtp_greeting_seconds\{listener="0.0.0.0:25",kind="predicted_remote"\}/ {print int($2)}')
check "prometheus: the predicted remote greeting of port 25 is a gauge (${predicted_metric:-missing} s)" \
  [ "${predicted_metric:-0}" -ge 30 ]

slow_finding=0.0.0.0:587
check "the slow tcpserver fails" [ "$(field "$tree/before.json" $slow_finding 'f["status"]')" = fail ]
measured=$(field "$tree/before.json" $slow_finding 'int(f["evidence"]["measured_ms"])')
check "its 220 took at least 2.5 s ($measured ms)" [ "$measured" -ge 2450 ]
check "it is judged from its own command line" \
  contains "$(field "$tree/before.json" $slow_finding 'f["evidence"]["command_source"]')" "/cmdline"
check "no known cause, and the message says so" \
  contains "$(field "$tree/before.json" $slow_finding 'f["message"]')" "No cause qharden checks explains it"
check "no causes listed" [ "$(field "$tree/before.json" $slow_finding 'len(f["evidence"]["causes"])')" = 0 ]

silent_finding=0.0.0.0:465
check "the silent TLS port gives up after give_up_ms" \
  [ "$(field "$tree/before.json" $silent_finding 'f["evidence"]["outcome"]')" = gave_up ]
check "and fails" [ "$(field "$tree/before.json" $silent_finding 'f["status"]')" = fail ]

idle_finding=0.0.0.0:2626
check "the inetd line nothing listens on is a skip naming the file" \
  contains "$(field "$tree/before.json" $idle_finding 'f["status"] + " " + f["message"]')" "skip /etc/inetd.conf"

# The fixes the causes name: tcp-env -R (xinetd reloads) and the REJECT.
in_namespace "$QHARDEN" apply --root "$tree" --rule tcp-env.flags --rule firewall.ident-reject > "$tree/apply.txt"
sed 's/^/      /' "$tree/apply.txt"
sleep 0.5
in_namespace "$QHARDEN" audit --root "$tree" --rule smtp.greeting --json > "$tree/after.json" || true
check "after apply xinetd's listener passes" [ "$(field "$tree/after.json" $xinetd_finding 'f["status"]')" = pass ]
check "and nothing is added to the measured time" \
  [ "$(field "$tree/after.json" $xinetd_finding 'int(f["evidence"]["predicted_remote_ms"] - f["evidence"]["measured_ms"])')" = 0 ]
check "the live argv shows -R" contains "$(field "$tree/after.json" $xinetd_finding 'f["evidence"]["reply"]')" "-R"

# Rollback undoes the whole change: the ident wait is predicted again.
in_namespace "$QHARDEN" rollback --last --root "$tree" > /dev/null
sleep 0.5
in_namespace "$QHARDEN" audit --root "$tree" --rule smtp.greeting --json > "$tree/rolled.json" || true
check "after rollback the ident wait is predicted again" \
  [ "$(field "$tree/rolled.json" $xinetd_finding 'f["status"]')" = fail ]
finish
