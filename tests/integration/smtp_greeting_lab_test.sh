#!/usr/bin/env bash
# The greeting lab (issue 6): proves end to end, on real programs, that
# `qharden apply` removes a slow SMTP greeting and `qharden rollback` brings
# it back.
#
#   C (client netns) --veth-- S (server netns)
#   10.53.25.2                10.53.25.1
#   drops inbound TCP 113     tcpserver -v 0 25 rblsmtpd -r bl.lab.test greeter
#                             (no -R: an ident lookup to C for every client)
#                             resolv.conf: a silent nameserver, then unbound
#
# Before the fix a client in C waits about 35 s: tcpserver's 26 s ident
# timeout, plus 3 s on the silent first nameserver for each of three DNS
# lookups (tcpserver's local and remote PTR, rblsmtpd's TXT; Debian's
# ucspi-tcp 0.88-7, measured with strace). `qharden apply` in S
# (default rules) rejects outbound port 113 and puts unbound first, and the
# greeting comes at once, without restarting tcpserver.
#
# Nothing on the machine's own /etc is touched: S's tcpserver runs in a
# mount namespace of its own where the tree's resolv.conf is bind-mounted on
# /etc/resolv.conf, and qharden reads the tree through --root.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dns_lib.sh"
require_root
# The lab runs for two minutes: an interrupted run still takes its
# namespaces, daemons and files with it (lib.sh cleans up on EXIT only).
trap 'exit 130' INT
trap 'exit 143' TERM
for program in tcpserver rblsmtpd python3 nsenter unshare setsid; do require_program "$program"; done
client_tool=$(cd "$(dirname "$0")/tools" && pwd)/time_to_220.py

server=qh-lab-s-$$
client=qh-lab-c-$$
server_ip=10.53.25.1
client_ip=10.53.25.2
unbound_ip=127.0.0.10
silent_ip=127.0.0.13

# The machine's own resolver config, to show at the end that the lab left it alone.
host_resolv_before=$(sha256sum /etc/resolv.conf 2>/dev/null || echo none)
host_netns_dir_before=$([ -e /etc/netns ] && echo present || echo absent)

make_namespace "$server"
make_namespace "$client"
# The veth is created inside S with its peer moved straight into C, so no
# interface name ever appears in the machine's own namespace.
ip netns exec "$server" ip link add lab0 type veth peer name lab1 netns "$client"
ip netns exec "$server" ip addr add "$server_ip/24" dev lab0
ip netns exec "$client" ip addr add "$client_ip/24" dev lab1
ip netns exec "$server" ip link set lab0 up
ip netns exec "$client" ip link set lab1 up
# C's firewall drops ident silently: S's connect to C:113 gets no answer at all.
ip netns exec "$client" iptables -A INPUT -p tcp --dport 113 -j DROP

# unbound in S answers everything the greeting needs, authoritatively, and
# forwards nothing anywhere: the PTRs of both ends (tcpserver looks up the
# local and the remote name), and the DNSBL (NXDOMAIN for C, the RFC 5782
# test point listed, so rblsmtpd.sources sees a healthy zone).
dns_workdir
lab=$DNS_WORKDIR
dns_server_new lab
dns_add lab 'local-zone: "lab.test." static' \
  "local-data: \"mail.lab.test. A $server_ip\"" "local-data: \"client.lab.test. A $client_ip\"" \
  'local-zone: "25.53.10.in-addr.arpa." static' \
  "local-data-ptr: \"$server_ip mail.lab.test\"" "local-data-ptr: \"$client_ip client.lab.test\""
dns_dnsbl_zone lab bl.lab.test
dns_server_start "$server" lab "$unbound_ip"
# The silent nameserver: a DROP rule, so every query to it times out.
dns_silent_address "$server" "$silent_ip"

# The tree S's services and qharden read: one daemontools-style service.
tree=$lab/tree
# etc/sysctl.d: the default rules include the sysctls, whose fix adds a
# drop-in there (the runtime value is written in S's own network namespace).
mkdir -p "$tree/etc/sysctl.d" "$tree/service/smtpd"
printf 'nameserver %s\nnameserver %s\n' "$silent_ip" "$unbound_ip" > "$tree/etc/resolv.conf"
cp -p "$tree/etc/resolv.conf" "$lab/resolv.conf.original"
# The greeter stands in for qmail-smtpd: greet, then wait briefly for QUIT.
cat > "$lab/greeter" <<'GREETER'
#!/bin/sh
printf '220 lab ESMTP\r\n'
read -r line || true
printf '221 bye\r\n'
GREETER
chmod 755 "$lab/greeter"
printf '#!/bin/sh\nexec tcpserver -v 0 25 rblsmtpd -r bl.lab.test %s\n' "$lab/greeter" > "$tree/service/smtpd/run"
chmod 755 "$tree/service/smtpd/run"
cp -p "$tree/service/smtpd/run" "$lab/run.original"

# Start the service from its run script, in S, in a private mount namespace
# that sees the tree's resolv.conf as /etc/resolv.conf. ip netns exec,
# setsid, unshare, sh and the run script all exec, so $! is tcpserver itself;
# setsid gives it a process group of its own, so cleanup also ends the
# children still waiting for an ident reply.
ip netns exec "$server" setsid unshare -m --propagation private \
  sh -c 'mount --bind "$1" /etc/resolv.conf && cd "$2" && exec ./run' _ \
  "$tree/etc/resolv.conf" "$tree/service/smtpd" > "$lab/tcpserver.log" 2>&1 &
tcpserver_pid=$!
defer "kill -- -$tcpserver_pid; wait $tcpserver_pid 2>/dev/null"
wait_for_port "$server" 25
check "tcpserver runs as the started process (pid $tcpserver_pid)" \
  [ "$(cat "/proc/$tcpserver_pid/comm" 2>/dev/null)" = tcpserver ]
# The server's mount namespace sees the file the tree holds now. qharden
# replaces resolv.conf by rename (a new inode), so after apply and rollback
# the new file is bound in its place. The old bind mount goes first: its
# file is unlinked, and the kernel refuses to mount on top of a deleted file.
server_sees_tree_resolv_conf() {
  [ "$(nsenter --mount="/proc/$tcpserver_pid/ns/mnt" cat /etc/resolv.conf)" = "$(cat "$tree/etc/resolv.conf")" ]
}
rebind_resolv_conf() {
  nsenter --mount="/proc/$tcpserver_pid/ns/mnt" \
    sh -c 'umount /etc/resolv.conf && mount --bind "$1" /etc/resolv.conf' _ "$tree/etc/resolv.conf"
}
check "tcpserver's mount namespace sees the tree's resolv.conf" server_sees_tree_resolv_conf

qharden() { ip netns exec "$server" "$QHARDEN" "$@"; }

# time_to_220 LABEL COUNT parallel|sequential: the client in C; sets median_s.
time_to_220() {
  local label=$1 output status=0
  output=$(ip netns exec "$client" python3 "$client_tool" "$server_ip" 25 "$2" "$3" 60) || status=$?
  sed "s/^/      $label: /" <<< "$output"
  median_s=$(sed -n 's/^median //p' <<< "$output")
  [ "$status" -eq 0 ] || median_s=none
}
# at_least SECONDS VALUE / at_most SECONDS VALUE (decimal seconds)
at_least() { [ "$2" != none ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) >= float(sys.argv[1]) else 1)' "$1" "$2"; }
at_most() { [ "$2" != none ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[2]) <= float(sys.argv[1]) else 1)' "$1" "$2"; }

# greeting REPORT FIELD: a field of the smtp.greeting finding for port 25
# ("none" when there is no such finding, "many" when more than one: the one
# tcpserver listens on 0.0.0.0:25 and must be judged once, whether it is
# found through its run script or its socket).
greeting() {
  python3 -c '
import json, sys
report = json.load(open(sys.argv[1]))
hits = [f for f in report["findings"] if f["rule"] == "smtp.greeting" and f["subject"].endswith(":25")]
if len(hits) != 1:
    print("none" if not hits else "many: " + " ".join(f["subject"] for f in hits))
    sys.exit()
finding = hits[0]
value = finding[sys.argv[2]] if sys.argv[2] in finding else finding.get("evidence", {}).get(sys.argv[2])
print(" ".join(value) if isinstance(value, list) else value)' "$@"
}
one_finding() { [ "$1" != none ] && [ "${1#many}" = "$1" ]; }
show_greeting() {
  python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["findings"]:
    if f["rule"] == "smtp.greeting":
        print("      " + f["status"].upper(), f["subject"], f["message"], json.dumps(f.get("evidence", {})))' "$1"
}

echo "== before the fix"
status=0
qharden audit --root "$tree" --json > "$lab/before.json" || status=$?
show_greeting "$lab/before.json"
check "audit exits 2 (critical failures)" [ "$status" -eq 2 ]
subject=$(greeting "$lab/before.json" subject)
check "one smtp.greeting finding for the listener on port 25 (got $subject)" one_finding "$subject"
check "smtp.greeting fails on port 25" [ "$(greeting "$lab/before.json" status)" = fail ]
causes=$(greeting "$lab/before.json" causes)
check "its causes name firewall.ident-reject (got: $causes)" contains " $causes " " firewall.ident-reject "
check "its causes name resolv.nameservers (got: $causes)" contains " $causes " " resolv.nameservers "
predicted_ms=$(greeting "$lab/before.json" predicted_remote_ms)
check "predicted remote time-to-220 >= 25 s (got $predicted_ms ms)" at_least 25000 "$predicted_ms"
time_to_220 before 3 parallel
before_s=$median_s
check "client in C: median time-to-220 >= 25 s (got $before_s s)" at_least 25 "$before_s"
# The prediction is the point of the rule: S's own probe plus the ident wait
# it cannot see must come close to what the remote client really waits.
check "the prediction ($predicted_ms ms) is within 5 s of the client's wait ($before_s s)" \
  python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) / 1000 - float(sys.argv[2])) <= 5 else 1)' \
  "$predicted_ms" "$before_s"

echo "== qharden apply (default rules)"
qharden plan --root "$tree" | sed 's/^/      /'
status=0
qharden apply --root "$tree" > "$lab/apply.txt" 2>&1 || status=$?
sed 's/^/      /' "$lab/apply.txt"
check "apply exits 0" [ "$status" -eq 0 ]
check "unbound is the first nameserver" [ "$(grep -m1 '^nameserver' "$tree/etc/resolv.conf")" = "nameserver $unbound_ip" ]
check "the run script gets -R" grep -q -- 'tcpserver -v.*-R\|tcpserver -R\|tcpserver -vR\|tcpserver -Rv' "$tree/service/smtpd/run"
check "ident to port 113 is rejected in S" \
  bash -c "ip netns exec '$server' iptables -S OUTPUT | grep -q -- '--dport 113 .*-j REJECT'"
rebind_resolv_conf
check "tcpserver's mount namespace sees the fixed resolv.conf" server_sees_tree_resolv_conf

echo "== after the fix"
time_to_220 after 5 sequential
after_s=$median_s
# Against the wait measured before the fix in this run (>= 25 s), not a wall time.
check "client in C: median time-to-220 <= 1/50 of the wait before ($before_s s; got $after_s s)" \
  at_most "$(python3 -c 'import sys; print(float(sys.argv[1]) / 50)' "$before_s")" "$after_s"
status=0
qharden audit --root "$tree" --json > "$lab/after.json" || status=$?
show_greeting "$lab/after.json"
check "smtp.greeting passes on port 25" [ "$(greeting "$lab/after.json" status)" = pass ]
# The running tcpserver was not restarted, so it still does ident; the
# finding says that only the REJECT keeps it fast.
check "smtp.greeting says the running tcpserver still does ident" \
  contains "$(greeting "$lab/after.json" message)" "tcpserver still does ident"

echo "== qharden rollback --last"
status=0
qharden rollback --last --root "$tree" > "$lab/rollback.txt" 2>&1 || status=$?
sed 's/^/      /' "$lab/rollback.txt"
check "rollback exits 0" [ "$status" -eq 0 ]
check "resolv.conf is restored byte for byte" cmp -s "$lab/resolv.conf.original" "$tree/etc/resolv.conf"
check "the run script is restored byte for byte" cmp -s "$lab/run.original" "$tree/service/smtpd/run"
check "the ident REJECT is gone from S" \
  bash -c "! ip netns exec '$server' iptables -S OUTPUT | grep -q -- '--dport 113'"
rebind_resolv_conf
check "tcpserver's mount namespace sees the restored resolv.conf" server_sees_tree_resolv_conf

echo "== after rollback"
time_to_220 rollback 3 parallel
rollback_s=$median_s
check "client in C: median time-to-220 >= 25 s again (got $rollback_s s)" at_least 25 "$rollback_s"

if [ "$failures" -ne 0 ]; then
  echo "tcpserver's log:"
  sed 's/^/      /' "$lab/tcpserver.log"
fi
echo "lab: time-to-220 before $before_s s, after $after_s s, after rollback $rollback_s s" \
  "(client in C; median of 3 parallel, 5 sequential, 3 parallel connections)"

check "the machine's /etc/resolv.conf is unchanged" \
  [ "$(sha256sum /etc/resolv.conf 2>/dev/null || echo none)" = "$host_resolv_before" ]
check "no /etc/netns was created" [ "$([ -e /etc/netns ] && echo present || echo absent)" = "$host_netns_dir_before" ]
finish
