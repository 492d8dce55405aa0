#!/usr/bin/env bash
# Real xinetd decides when USERID costs an ident lookup, and qharden's verdicts
# must agree with it (xinetd's service.h: SVC_LOGS_USERID_ON_* need a log;
# service.c: log_on_failure's lookup is for refused connections only):
#
#   port  log_type           USERID in       connection   ident to port 113
#   2601  FILE (service)     log_on_success  accepted     yes, before the server starts
#   2602  none anywhere      log_on_success  accepted     no
#   2603  FILE (service)     log_on_failure  accepted     no
#   2604  FILE (service)     log_on_failure  refused      yes, in a logging process
#
# (2604 refuses by `instances = 1` while a first connection holds it: xinetd
# looks up USERID for the refusals its parent makes, by limits; only_from and
# no_access refuse in the child, which exits without a lookup.)
# Every ident connect goes to 127.0.0.1:113, where an OUTPUT rule rejects it
# at once and counts it: the test reads that counter around each connection,
# so it needs no 30 s timeout and no clock.
source "$(dirname "$0")/lib.sh"
require_root
require_program xinetd
require_program iptables

tree=$(make_tree)
namespace=qh-userid-$$
make_namespace "$namespace"
stand_in=$tree/var/qmail/bin/tcp-env
write_xinetd_tree "$tree"

# write_service NAME PORT EXTRA_LINES
write_service() {
  cat > "$tree/etc/xinetd.d/$1" <<SERVICE
service $1
{
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= root
	flags		= IPv4
	type		= UNLISTED
	port		= $2
	server		= $stand_in
	server_args	= -Rt0 /var/qmail/bin/qmail-smtpd
$3
}
SERVICE
}
write_service success 2601 "	log_type	= FILE $tree/success.log
	log_on_success	+= USERID"
write_service nolog 2602 "	log_on_success	+= USERID"
write_service failure 2603 "	log_type	= FILE $tree/failure.log
	log_on_failure	+= USERID"
write_service refused 2604 "	log_type	= FILE $tree/refused.log
	log_on_failure	+= USERID
	instances	= 1"
# Its server holds the one instance for as long as the test needs.
sed -i "s|server\t\t= $stand_in|server\t\t= /bin/sleep|; s|server_args\t= .*|server_args\t= 61|" \
  "$tree/etc/xinetd.d/refused"

ip netns exec "$namespace" iptables -A OUTPUT -p tcp -d 127.0.0.1 --dport 113 -j REJECT --reject-with tcp-reset
ident_connects() {
  ip netns exec "$namespace" iptables -nvxL OUTPUT | awk '$0 ~ /dpt:113/ { print $1; exit }'
}

ip netns exec "$namespace" xinetd -f "$tree/xinetd-daemon.conf" -pidfile "$tree/run/xinetd.pid" \
  -filelog "$tree/xinetd.log" -dontfork &
kill_later $!
for port in 2601 2602 2603; do wait_for_port "$namespace" "$port"; done

# connects_during PORT: ident connects while one client connects to PORT; a
# refused connection's lookup runs in a logging process after the close, so
# the count is read again until it settles.
connects_during() {
  local before after previous attempt
  before=$(ident_connects)
  first_line "$namespace" "$1" > /dev/null
  after=$(ident_connects)
  for attempt in $(seq 1 30); do
    sleep 0.1
    previous=$after
    after=$(ident_connects)
    [ "$after" = "$previous" ] && [ "$attempt" -ge 10 ] && break
  done
  echo $((after - before))
}

check "log_type and USERID in log_on_success: xinetd connects to port 113" \
  equals "$(connects_during 2601)" 1
check "USERID in log_on_success without any log_type: no ident connect" \
  equals "$(connects_during 2602)" 0
check "USERID in log_on_failure, an accepted connection: no ident connect" \
  equals "$(connects_during 2603)" 0
ip netns exec "$namespace" bash -c 'exec 3<>/dev/tcp/127.0.0.1/2604; sleep 60' &
holder=$!
defer "kill $holder"
held=no
for attempt in $(seq 1 50); do
  pgrep -f "^(/bin/)?sleep 61$" > /dev/null && { held=yes; break; }
  sleep 0.1
done
check "a first connection holds the refusing service's one instance" equals "$held" yes
check "USERID in log_on_failure, a connection refused by instances: xinetd connects to port 113" \
  equals "$(connects_during 2604)" 1

audit_status=0
"$QHARDEN" audit --root "$tree" --rule tcp-env.flags --json > "$tree/audit.json" || audit_status=$?
check "audit exits 2 (a critical failure)" equals "$audit_status" 2
verdict() {
  python3 -c 'import json,sys
for finding in json.load(open(sys.argv[1]))["findings"]:
    if finding["subject"].endswith(":" + sys.argv[2]):
        print(finding["status"], " ".join(finding["evidence"]["xinetd_userid"]), "|", finding["message"])' \
    "$tree/audit.json" "$1"
}
success=$(verdict success)
check "qharden fails the service whose connections wait for ident ($success)" \
  contains "$success" "fail log_on_success |"
check "and says the greeting waits" contains "$success" "before 220"
nolog=$(verdict nolog)
check "qharden passes the service that logs nothing ($nolog)" contains "$nolog" "pass  |"
failure=$(verdict failure)
check "qharden fails USERID in log_on_failure, saying it is for connections it refuses ($failure)" \
  contains "$failure" "fail log_on_failure | xinetd itself does an ident lookup (USERID in log_on_failure: each connection it refuses"
check "and does not claim a greeting delay for it" lacks "$failure" "before 220"

plan=$("$QHARDEN" plan --root "$tree" --rule tcp-env.flags)
check "plan removes USERID from log_on_success where it is logged" \
  contains "$plan" "+	log_on_success -= USERID"
check "plan leaves the service that logs nothing alone" lacks "$plan" "xinetd.d/nolog"
finish
