#!/usr/bin/env bash
# resolv.nameservers against real servers in a network namespace: a healthy
# unbound, one that refuses, one that answers SERVFAIL, a silent address
# (DROP) and one where nothing listens. Checks each server's error class and
# severity, bad input (unparsable lines, a scope id, no nameserver), and the
# fix: apply, audit, rollback, and the refusal of a managed resolv.conf.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dns_lib.sh"
require_root
require_program python3
namespace=qh-resolv-$$
make_namespace "$namespace"
dns_workdir

dns_server_new healthy
dns_server_start "$namespace" healthy 127.0.0.10
dns_server_new refusing
dns_refuse_all refusing
dns_server_start "$namespace" refusing 127.0.0.11
dns_server_new servfail
dns_servfail_all servfail
dns_server_start "$namespace" servfail 127.0.0.12
dns_silent_address "$namespace" 127.0.0.13
dns_link_local "$namespace" qhv0 fe80::53
dns_server_new linklocal
dns_server_start "$namespace" linklocal "fe80::53%qhv0"

new_tree() {  # NAME RESOLV_CONF_TEXT
  mkdir -p "$DNS_WORKDIR/$1/etc/qharden"
  printf '%b' "$2" > "$DNS_WORKDIR/$1/etc/resolv.conf"
  printf '[paths]\nrun_scripts = []\n[rules."resolv.nameservers"]\ntimeout_ms = 800\ntries = 1\n' \
    > "$DNS_WORKDIR/$1/etc/qharden/qharden.toml"
}
field() {  # REPORT SUBJECT FIELD [CHECK]
  python3 -c 'import json,sys
report=json.load(open(sys.argv[1]))
hits=[f for f in report["findings"] if f["rule"]=="resolv.nameservers" and f["subject"]==sys.argv[2]
      and (len(sys.argv) < 5 or f["evidence"].get("check")==sys.argv[4])]
if not hits: print("none"); sys.exit()
value=hits[0][sys.argv[3]] if sys.argv[3] in hits[0] else hits[0]["evidence"].get(sys.argv[3])
print("null" if value is None else value)' "$@"
}
qharden() { ip netns exec "$namespace" "$QHARDEN" "$@"; }

new_tree main 'nameserver 127.0.0.13\nnameserver 127.0.0.10\nnameserver 127.0.0.11\nnameserver 127.0.0.12\nnameserver 127.0.0.14\n'
main=$DNS_WORKDIR/main
cp -p "$main/etc/resolv.conf" "$DNS_WORKDIR/original-resolv.conf"
# The baseline, measured in this run: an audit whose only server is the silent one.
new_tree single 'nameserver 127.0.0.13\n'
start=$(date +%s%N)
qharden audit --root "$DNS_WORKDIR/single" --rule resolv.nameservers --json > /dev/null || true
single_ms=$(( ($(date +%s%N) - start) / 1000000 ))
status=0
start=$(date +%s%N)
qharden audit --root "$main" --rule resolv.nameservers --json > "$DNS_WORKDIR/main.json" || status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "audit exits 2 (critical)" [ "$status" -eq 2 ]
for expected in 127.0.0.13:timeout:critical 127.0.0.10:null:critical 127.0.0.11:refused:warning \
  127.0.0.12:servfail:warning 127.0.0.14:unreachable:warning; do
  IFS=: read -r address error severity <<< "$expected"
  got=$(field "$DNS_WORKDIR/main.json" "$address" error)
  check "$address: error $error (got $got)" [ "$got" = "$error" ]
  [ "$error" = null ] && continue
  check "$address: severity $severity" [ "$(field "$DNS_WORKDIR/main.json" "$address" severity)" = "$severity" ]
done
check "127.0.0.10 passes" [ "$(field "$DNS_WORKDIR/main.json" 127.0.0.10 status)" = pass ]
check "127.0.0.10 has a latency, shorter than the whole audit (${elapsed_ms} ms)" python3 -c "import sys; sys.exit(0 if 0 <= float('$(field "$DNS_WORKDIR/main.json" 127.0.0.10 latency_ms)') < $elapsed_ms else 1)"
message=$(field "$DNS_WORKDIR/main.json" 127.0.0.13 message)
check "the dead first server: every connection pays" contains "$message" "every connection pays"
check "the dead first server: glibc's stall per connection" contains "$message" "20 s per connection"
check "the dead first server: djbdns's stall" contains "$message" "djbdns (tcpserver, rblsmtpd) waits 3 s"
check "127.0.0.14 (5th) is used by djbdns only" [ "$(field "$DNS_WORKDIR/main.json" 127.0.0.14 used_by)" = "['djbdns (tcpserver, rblsmtpd)']" ]
check "all servers probed at once: ${elapsed_ms} ms < 1.5 x the silent server alone (${single_ms} ms)" \
  [ "$elapsed_ms" -lt $(( single_ms * 3 / 2 )) ]

qharden plan --root "$main" --rule resolv.nameservers | sed 's/^/      /'
status=0
qharden apply --root "$main" --rule resolv.nameservers > "$DNS_WORKDIR/apply.txt" 2>&1 || status=$?
sed 's/^/      /' "$DNS_WORKDIR/apply.txt"
check "apply succeeds" [ "$status" -eq 0 ]
expected_conf=$(printf 'nameserver 127.0.0.10\n# qharden: timeout on the probes: nameserver 127.0.0.13\n# qharden: refused on the probes: nameserver 127.0.0.11\n# qharden: servfail on the probes: nameserver 127.0.0.12\n# qharden: unreachable on the probes: nameserver 127.0.0.14\noptions timeout:1 attempts:2')
check "healthy first, dead commented out with the reason, policy options" [ "$(cat "$main/etc/resolv.conf")" = "$expected_conf" ]
status=0
qharden audit --root "$main" --rule resolv.nameservers --json > "$DNS_WORKDIR/after.json" || status=$?
check "audit passes after apply" [ "$status" -eq 0 ]
qharden rollback --last --root "$main" > /dev/null
check "rollback restores resolv.conf byte for byte" cmp -s "$main/etc/resolv.conf" "$DNS_WORKDIR/original-resolv.conf"

# Bad input: an unparsable line, a scope id on an interface this namespace lacks.
new_tree bad 'this is no resolv.conf line\nnameserver fe80::1%qhmissing\nnameserver 127.0.0.10\n'
qharden audit --root "$DNS_WORKDIR/bad" --rule resolv.nameservers --json > "$DNS_WORKDIR/bad.json" || true
check "an unparsable line is an error naming the line" \
  contains "$(field "$DNS_WORKDIR/bad.json" /etc/resolv.conf message unparsable)" "/etc/resolv.conf:1"
check "a scope id on a missing interface: error naming it" \
  contains "$(field "$DNS_WORKDIR/bad.json" fe80::1%qhmissing message)" "qhmissing"
check "the healthy server beside them still passes" [ "$(field "$DNS_WORKDIR/bad.json" 127.0.0.10 status)" = pass ]
new_tree scoped 'nameserver fe80::53%qhv0\nnameserver 127.0.0.10\n'
qharden audit --root "$DNS_WORKDIR/scoped" --rule resolv.nameservers --json > "$DNS_WORKDIR/scoped.json" || true
check "a link-local server with a scope id is asked over that interface and passes" \
  [ "$(field "$DNS_WORKDIR/scoped.json" fe80::53%qhv0 status)" = pass ]

# No nameserver line: both resolvers ask 127.0.0.1, where nothing listens here.
new_tree empty 'search example.org\n'
qharden audit --root "$DNS_WORKDIR/empty" --rule resolv.nameservers --json > "$DNS_WORKDIR/empty.json" || true
check "no nameserver: the file finding says 127.0.0.1" \
  contains "$(field "$DNS_WORKDIR/empty.json" /etc/resolv.conf message no-nameserver)" "127.0.0.1"
check "no nameserver: 127.0.0.1 is probed and unreachable" [ "$(field "$DNS_WORKDIR/empty.json" 127.0.0.1 error)" = unreachable ]
check "no nameserver: the fix refuses to leave none" \
  contains "$(qharden plan --root "$DNS_WORKDIR/empty" --rule resolv.nameservers 2>&1)" "will not comment out every one"

# A resolv.conf managed by systemd-resolved is never edited.
new_tree managed ''
mkdir -p "$DNS_WORKDIR/managed/run/systemd/resolve" "$DNS_WORKDIR/managed/run/systemd/system"
printf 'nameserver 127.0.0.13\nnameserver 127.0.0.10\n' > "$DNS_WORKDIR/managed/run/systemd/resolve/stub-resolv.conf"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$DNS_WORKDIR/managed/etc/resolv.conf"
status=0
qharden apply --root "$DNS_WORKDIR/managed" --rule resolv.nameservers > "$DNS_WORKDIR/managed.txt" 2>&1 || status=$?
check "a managed resolv.conf: apply refuses (exit 1)" [ "$status" -eq 1 ]
check "the refusal names the file to change" contains "$(cat "$DNS_WORKDIR/managed.txt")" "/etc/systemd/resolved.conf"
check "the managed file is untouched" [ "$(cat "$DNS_WORKDIR/managed/run/systemd/resolve/stub-resolv.conf")" = "$(printf 'nameserver 127.0.0.13\nnameserver 127.0.0.10')" ]
finish
