#!/usr/bin/env bash
# smtp.open-relay against the real qmail-smtpd (notqmail 1.09, built here from
# the vendored tarball), behind the real tcpserver with a real tcprules cdb,
# and behind the real xinetd:
#
#   C (client netns) --veth-- S (server netns)
#   192.0.2.2                 192.0.2.1, tcpserver or xinetd on 0.0.0.0:25
#
# qharden audits in S (the tree through --root, the listeners live); the
# ground truth is a python3 smtplib session from C: EHLO, MAIL FROM:<>,
# RCPT TO an outside domain, never DATA.
#
# qmail-smtpd reads control/ under its compiled conf-qmail folder. It is
# compiled for a fixed scratch folder, and each scenario's tree is
# bind-mounted there inside a private mount namespace, so the machine's own
# /var/qmail (if any) is never used or touched.
source "$(dirname "$0")/lib.sh"
require_root
trap 'exit 130' INT
trap 'exit 143' TERM
for program in tcpserver tcprules xinetd python3 unshare setsid make gcc; do require_program "$program"; done

source_dir=${QHARDEN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
vendor_dir=${QHARDEN_VENDOR_DIR:-$source_dir/../shared/vendor}
tarball=$vendor_dir/notqmail-1.09.tar.gz
if [ ! -f "$tarball" ]; then
  echo "SKIP: $tarball is missing (set QHARDEN_VENDOR_DIR to the folder holding notqmail-1.09.tar.gz); the real qmail-smtpd cannot be built"
  exit $SKIP
fi
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
cache=/var/cache/qharden-tests/notqmail-$sha
qmail=$cache/qmail   # conf-qmail: compiled in, an empty mount point outside the lab
bin=$cache/bin
started=$(date +%s.%N)
if [ ! -x "$bin/qmail-smtpd" ] || [ ! -x "$bin/tcp-env" ]; then
  build=$(mktemp -d "$test_scratch/build.XXXXXX")
  tar -xzf "$tarball" -C "$build"
  (cd "$build/notqmail-1.09" && echo "$qmail" > conf-qmail &&
    make qmail-smtpd tcp-env > "$build/make.log" 2>&1) ||
    { tail -20 "$build/make.log"; echo "FAIL: building notqmail"; exit 1; }
  mkdir -p "$bin"
  install -m 755 "$build/notqmail-1.09/qmail-smtpd" "$build/notqmail-1.09/tcp-env" "$bin/"
fi
mkdir -p "$qmail"
echo "notqmail ready in $(python3 -c "import time; print(round(time.time() - $started, 1))") s"

server=qh-relay-s-$$
client=qh-relay-c-$$
make_namespace "$server"
make_namespace "$client"
ip netns exec "$server" ip link add relay0 type veth peer name relay1 netns "$client"
ip netns exec "$server" ip addr add 192.0.2.1/24 dev relay0
ip netns exec "$client" ip addr add 192.0.2.2/24 dev relay1
ip netns exec "$server" ip link set relay0 up
ip netns exec "$client" ip link set relay1 up

qharden() { ip netns exec "$server" "$QHARDEN" "$@"; }

# A tree: qmail's control files under the compiled folder, a tcprules source
# and its cdb (made by the real tcprules), and the run script.
new_tree() {  # RULES [RCPTHOSTS]
  local tree
  tree=$(make_tree)
  mkdir -p "$tree$qmail/control" "$tree/service/qmail-smtpd" "$tree/etc/qharden"
  echo "mail.lab.test" > "$tree$qmail/control/me"
  echo "lab.test" > "$tree$qmail/control/locals"
  [ $# -ge 2 ] && printf '%s\n' "$2" > "$tree$qmail/control/rcpthosts"
  printf '%b' "$1" > "$tree$qmail/tcp.smtp"
  tcprules "$tree$qmail/tcp.smtp.cdb" "$tree$qmail/tcp.smtp.tmp" < "$tree$qmail/tcp.smtp"
  printf '#!/bin/sh\nexec tcpserver -vRHl0 -x %s/tcp.smtp.cdb 0 25 %s/qmail-smtpd 2>&1\n' \
    "$qmail" "$bin" > "$tree/service/qmail-smtpd/run"
  chmod 755 "$tree/service/qmail-smtpd/run"
  printf '[paths]\nqmail_control = "%s/control"\n' "$qmail" > "$tree/etc/qharden/qharden.toml"
  echo "$tree"
}

server_pid=
start_tcpserver() {  # TREE
  ip netns exec "$server" setsid unshare -m --propagation private \
    sh -c 'mount --bind "$1" "$2" && exec sh "$3"' _ "$1$qmail" "$qmail" \
    "$1/service/qmail-smtpd/run" > "$1/server.log" 2>&1 &
  server_pid=$!
  defer "kill -- -$server_pid 2>/dev/null; wait $server_pid 2>/dev/null"
  wait_for_port "$server" 25
}

start_xinetd() {  # TREE
  printf 'nameserver 127.0.0.1\n' > "$1/resolv.conf"
  ip netns exec "$server" setsid unshare -m --propagation private \
    sh -c 'mount --bind "$1" "$2" && mount --bind "$3" /etc/resolv.conf &&
           exec xinetd -dontfork -pidfile "$4/run/xinetd.pid" -f "$4/etc/xinetd.conf"' _ \
    "$1$qmail" "$qmail" "$1/resolv.conf" "$1" > "$1/server.log" 2>&1 &
  server_pid=$!
  defer "kill -- -$server_pid 2>/dev/null; wait $server_pid 2>/dev/null"
  wait_for_port "$server" 25
}

stop_server() {
  kill -- "-$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

# The RCPT reply code a stranger in C gets (for RECIPIENT, by default an
# outside domain).
ground_truth() {
  ip netns exec "$client" python3 - "${1:-victim@relay-test.invalid}" <<'PY' 2>&1
import smtplib, sys
session = smtplib.SMTP("192.0.2.1", 25, timeout=10)
session.ehlo("client.lab.test")
session.mail("")
code, _ = session.rcpt(sys.argv[1])
print(code)
session.rset()
session.quit()
PY
}

# audit TREE: qharden's JSON for this rule, live, from S.
audit() { qharden audit --root "$1" --json --rule smtp.open-relay || true; }

# field JSON SUBJECT KEY: a finding's status, or an evidence key ("evidence.rcpt_code").
field() {
  python3 -c '
import json, sys
report = json.loads(sys.argv[1])
for finding in report["findings"]:
    if finding["subject"] == sys.argv[2]:
        value = finding
        for part in sys.argv[3].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        print(value if not isinstance(value, bool) else str(value).lower())
        break
else:
    print("no-finding")' "$1" "$2" "$3"
}

rcpthosts_subject=$qmail/control/rcpthosts
run_subject=/service/qmail-smtpd/run
live=0.0.0.0:25  # the listener, named as smtp.greeting names it
scenario_start=$(date +%s.%N)

echo "# 1: rcpthosts missing"
tree=$(new_tree '127.:allow,RELAYCLIENT=""\n')
start_tcpserver "$tree"
report=$(audit "$tree")
python3 -c 'import json,sys; [print("      ", f["status"], f["subject"], f["message"][:150]) for f in json.loads(sys.argv[1])["findings"]]' "$report"
check "rcpthosts missing fails" equals "$(field "$report" "$rcpthosts_subject" status)" fail
check "the live RCPT from 192.0.2.1 is accepted: fail" equals "$(field "$report" "$live" status)" fail
check "the probe came from the non-loopback address" \
  equals "$(field "$report" "$live" evidence.source_address)" 192.0.2.1
check "the ground truth agrees: a stranger gets 250" equals "$(ground_truth)" 250
check "exit code 2" equals "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["exit_code"])' "$report")" 2
missing_tree=$tree
stop_server

echo "# 2: rcpthosts present"
tree=$(new_tree '127.:allow,RELAYCLIENT=""\n' lab.test)
start_tcpserver "$tree"
report=$(audit "$tree")
check "rcpthosts present passes" equals "$(field "$report" "$rcpthosts_subject" status)" pass
check "the live RCPT passes" equals "$(field "$report" "$live" status)" pass
check "with 553" equals "$(field "$report" "$live" evidence.rcpt_code)" 553
check "the ground truth is 553" equals "$(ground_truth)" 553
stop_server

echo "# 3: :allow,RELAYCLIENT=\"\""
tree=$(new_tree ':allow,RELAYCLIENT=""\n' lab.test)
start_tcpserver "$tree"
report=$(audit "$tree")
check "the default grant fails the service" equals "$(field "$report" "$run_subject" status)" fail
check "naming the tcprules line" contains "$(field "$report" "$run_subject" message)" "$qmail/tcp.smtp:1"
check "the live probe skips: every local address is granted" \
  equals "$(field "$report" "$live" status)" skip
check "the ground truth is 250" equals "$(ground_truth)" 250
stop_server

echo "# 4: a grant to the client's own address only"
tree=$(new_tree '192.0.2.2:allow,RELAYCLIENT=""\n127.:allow,RELAYCLIENT=""\n' lab.test)
start_tcpserver "$tree"
report=$(audit "$tree")
check "the service passes" equals "$(field "$report" "$run_subject" status)" pass
check "the live probe from 192.0.2.1 passes with 553" \
  equals "$(field "$report" "$live" evidence.rcpt_code)" 553
check "qharden does not fail" equals "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["status"])' "$report")" pass
check "while the granted client itself relays (ground truth 250)" equals "$(ground_truth)" 250
stop_server

echo "# 5: xinetd env = RELAYCLIENT="
tree=$(new_tree '127.:allow\n' lab.test)
rm "$tree/service/qmail-smtpd/run"
mkdir -p "$tree/run"
cat > "$tree/etc/xinetd.conf" <<CONF
defaults
{
}
service smtp
{
	socket_type	= stream
	protocol	= tcp
	wait		= no
	user		= root
	port		= 25
	bind		= 0.0.0.0
	flags		= REUSE
	env		= RELAYCLIENT=
	server		= $bin/tcp-env
	server_args	= -R $bin/qmail-smtpd
}
CONF
start_xinetd "$tree"
report=$(audit "$tree")
check "xinetd env fails the service" equals "$(field "$report" /etc/xinetd.conf:smtp status)" fail
check "naming env" contains "$(field "$report" /etc/xinetd.conf:smtp message)" "env"
check "the ground truth is 250" equals "$(ground_truth)" 250
check "the live probe skips: the environment grants every address" \
  equals "$(field "$report" "$live" status)" skip
stop_server

echo "# 5b: xinetd passenv = RELAYCLIENT, with xinetd started holding it"
sed -i 's/^\tenv\t\t= RELAYCLIENT=$/\tpassenv\t\t= RELAYCLIENT/' "$tree/etc/xinetd.conf"
RELAYCLIENT= start_xinetd "$tree"
report=$(audit "$tree")
check "offline, passenv is a warning on the service" \
  equals "$(field "$report" /etc/xinetd.conf:smtp severity)" warning
check "live, xinetd's own RELAYCLIENT fails the listener" \
  equals "$(field "$report" "$live" status)" fail
check "the ground truth is 250" equals "$(ground_truth)" 250
stop_server

echo "# 5c: xinetd on the IPv6 wildcard (no bind), as Plesk's smtp_psa runs: probed over IPv4"
sed -i -e '/^\tbind\t\t= 0.0.0.0$/d' -e '/^\tpassenv\t\t= RELAYCLIENT$/d' "$tree/etc/xinetd.conf"
start_xinetd "$tree"
report=$(audit "$tree")
check "the [::]:25 listener is probed and passes with 553" \
  equals "$(field "$report" "[::]:25" status) $(field "$report" "[::]:25" evidence.rcpt_code)" "pass 553"
rm "$tree$qmail/control/rcpthosts"
report=$(audit "$tree")
check "and fails without rcpthosts (the ground truth is $(ground_truth))" \
  equals "$(field "$report" "[::]:25" status)" fail
stop_server

echo "# 5d: an IPv6-only wildcard listener (IPV6_V6ONLY) takes no IPv4 client: a skip that says so"
ip netns exec "$server" python3 -c '
import socket, time
listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
listener.bind(("::", 25))
listener.listen(5)
time.sleep(120)' &
server_pid=$!
defer "kill $server_pid 2>/dev/null; wait $server_pid 2>/dev/null"
# Not wait_for_port: it connects over IPv4, which this listener refuses.
for attempt in $(seq 1 50); do
  [ -n "$(ip netns exec "$server" ss -Hltn 'sport = :25')" ] && break
  sleep 0.1
done
report=$(audit "$tree")
check "the v6only [::]:25 listener is skipped as IPv6-only, not misjudged over IPv4" \
  contains "$(field "$report" "[::]:25" status) $(field "$report" "[::]:25" message)" "skip IPv6-only wildcard listener"
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true

echo "# 6: apply --rule smtp.open-relay creates rcpthosts"
start_tcpserver "$missing_tree"
check "a plan without --rule leaves it out (fixed only when named)" \
  contains "$(qharden plan --root "$missing_tree" --offline 2>&1)" "smtp.open-relay: fixed only when named"
check "apply --rule smtp.open-relay succeeds" \
  ip netns exec "$server" "$QHARDEN" apply --root "$missing_tree" --rule smtp.open-relay
check "rcpthosts holds me and locals" \
  equals "$(cat "$missing_tree$qmail/control/rcpthosts" 2>/dev/null)" "$(printf 'mail.lab.test\nlab.test')"
check "the ground truth turns to 553" equals "$(ground_truth)" 553
report=$(audit "$missing_tree")
check "and qharden passes the live probe" equals "$(field "$report" "$live" status)" pass
stop_server

echo "# 7: percenthack, the relay no RCPT probe sees"
tree=$(new_tree '127.:allow,RELAYCLIENT=""\n' lab.test)
echo lab.test > "$tree$qmail/control/percenthack"
start_tcpserver "$tree"
report=$(audit "$tree")
check "percenthack ∩ rcpthosts fails offline" \
  equals "$(field "$report" "$qmail/control/percenthack" status)" fail
check "while the live probe passes" equals "$(field "$report" "$live" status)" pass
check "and qmail-smtpd accepts user%victim@lab.test (250), which qmail-send would relay" \
  equals "$(ground_truth 'victim%relay-test.invalid@lab.test')" 250
stop_server

echo "scenarios took $(python3 -c "import time; print(round(time.time() - $scenario_start, 1))") s"
finish
