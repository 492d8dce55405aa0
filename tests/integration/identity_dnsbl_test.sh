#!/usr/bin/env bash
# smtp.identity and dnsbl.self against a real unbound in a network namespace:
# identity zones (a PTR that forward-confirms, a PTR without A, no PTR) and
# DNSBL zones (127.0.0.2, .4, .10, 127.255.255.254, NXDOMAIN, no test points),
# control files from a fixture tree (--root), and the sending address found
# through the kernel's route in the namespace (a veth pair inside it, nothing leaves).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dns_lib.sh"
require_root
require_program python3
namespace=qh-idbl-$$
make_namespace "$namespace"
dns_workdir
tree=$DNS_WORKDIR/tree

# 192.0.2.1 and .2 on a veth pair inside the namespace with a default route:
# the kernel names 192.0.2.1 as the source for 1.1.1.1, and nothing can leave.
ip -n "$namespace" link add out0 type veth peer name out0p
ip -n "$namespace" link set out0 up
ip -n "$namespace" link set out0p up
ip -n "$namespace" addr add 192.0.2.1/24 dev out0
ip -n "$namespace" addr add 192.0.2.2/24 dev out0
ip -n "$namespace" route add default via 192.0.2.254 dev out0

dns_server_new main
dns_add main 'local-zone: "2.0.192.in-addr.arpa." static' \
  'local-data-ptr: "192.0.2.1 mail.example.test."' \
  'local-data-ptr: "192.0.2.2 noa.example.test."' \
  'local-zone: "example.test." static' \
  'local-data: "mail.example.test. A 192.0.2.1"' \
  'local-data: "noa.example.test. TXT \"no address here\""'
dns_dnsbl_zone main ok.test
dns_dnsbl_zone main zen.spamhaus.org
dns_listing main zen.spamhaus.org 192.0.2.1 127.0.0.4
dns_listing main zen.spamhaus.org 192.0.2.2 127.0.0.10
dns_dnsbl_zone main bl.spamcop.net
dns_listing main bl.spamcop.net 192.0.2.1 127.0.0.2
dns_blocked_zone main blocked.test
dns_no_test_points_zone main dead.test
dns_server_start "$namespace" main 127.0.0.10
dns_silent_address "$namespace" 127.0.0.13

mkdir -p "$tree/etc/qharden" "$tree/var/qmail/control"
printf 'nameserver 127.0.0.10\n' > "$tree/etc/resolv.conf"
printf 'mail.example.test\n' > "$tree/var/qmail/control/me"
printf 'mail.example.test ESMTP\n' > "$tree/var/qmail/control/smtpgreeting"
write_config() {  # IDENTITY_ADDRESSES
  cat > "$tree/etc/qharden/qharden.toml" <<CONFIG
[rules."smtp.identity"]
addresses = [$1]
route_probe = ["1.1.1.1"]
timeout_ms = 1000
[rules."dnsbl.self"]
zones = ["ok.test", "zen.spamhaus.org", "bl.spamcop.net", "blocked.test", "dead.test"]
addresses = ["192.0.2.1", "192.0.2.2"]
resolvers = ["127.0.0.10"]
timeout_ms = 1000
CONFIG
}

field() {  # REPORT RULE SUBJECT FIELD (status, severity, message or an evidence key)
  python3 -c 'import json,sys
report=json.load(open(sys.argv[1]))
hits=[f for f in report["findings"] if f["rule"]==sys.argv[2] and f["subject"]==sys.argv[3]]
if not hits: print("none"); sys.exit()
f=hits[0]; key=sys.argv[4]
value=f.get(key) if key in ("status","severity","message") else f["evidence"].get(key)
print(json.dumps(value) if isinstance(value,(list,dict)) else value)' "$@"
}
audit() { ip netns exec "$namespace" "$QHARDEN" audit --root "$tree" --json "$@"; }

# 1. The sending address from the kernel's route, and a host that is right.
write_config ""
status=0
audit --rule smtp.identity > "$DNS_WORKDIR/route.json" || status=$?
check "route discovery finds 192.0.2.1 and it passes (exit $status)" \
  [ "$(field "$DNS_WORKDIR/route.json" smtp.identity 192.0.2.1 status)" = pass ]
check "evidence.from is route" [ "$(field "$DNS_WORKDIR/route.json" smtp.identity 192.0.2.1 from)" = route ]
check "audit exits 0" [ "$status" -eq 0 ]

# 2. Three addresses: matching PTR/A, PTR without A, no PTR.
write_config '"192.0.2.1", "192.0.2.2", "192.0.2.3"'
status=0
audit --rule smtp.identity > "$DNS_WORKDIR/identity.json" || status=$?
check "audit exits 1 (warning)" [ "$status" -eq 1 ]
check "192.0.2.1: PTR mail.example.test forward-confirms" \
  [ "$(field "$DNS_WORKDIR/identity.json" smtp.identity 192.0.2.1 status)" = pass ]
check "192.0.2.2: PTR without A fails" \
  [ "$(field "$DNS_WORKDIR/identity.json" smtp.identity 192.0.2.2 status)" = fail ]
check "192.0.2.2: the message says not forward-confirmed" \
  contains "$(field "$DNS_WORKDIR/identity.json" smtp.identity 192.0.2.2 message)" "not forward-confirmed"
check "192.0.2.3: no PTR fails" \
  contains "$(field "$DNS_WORKDIR/identity.json" smtp.identity 192.0.2.3 message)" "has no PTR record"
check "the log shows the PTR and the A lookups" \
  contains "$(cat "$DNS_WORKDIR/main/unbound.log")" "mail.example.test. A IN"

# 3. helohost that names another host fails, naming the file.
printf 'other.example.test\n' > "$tree/var/qmail/control/helohost"
audit --rule smtp.identity > "$DNS_WORKDIR/helohost.json" || true
check "helohost other.example.test: 192.0.2.1 fails naming control/helohost" \
  contains "$(field "$DNS_WORKDIR/helohost.json" smtp.identity 192.0.2.1 message)" "control/helohost says other.example.test"
rm "$tree/var/qmail/control/helohost"

# 4. A silent resolver: error, never fail.
printf 'nameserver 127.0.0.13\n' > "$tree/etc/resolv.conf"
status=0
audit --rule smtp.identity > "$DNS_WORKDIR/silent.json" || status=$?
check "silent resolver: 192.0.2.2 is an error, not a failure" \
  [ "$(field "$DNS_WORKDIR/silent.json" smtp.identity 192.0.2.2 status)" = error ]
check "silent resolver: audit exits 3" [ "$status" -eq 3 ]
printf 'nameserver 127.0.0.10\n' > "$tree/etc/resolv.conf"

# 5. dnsbl.self: every zone, both addresses, one round.
status=0
start=$(date +%s%N)
audit --rule dnsbl.self > "$DNS_WORKDIR/dnsbl.json" || status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "dnsbl.self: audit exits 2 (critical listing)" [ "$status" -eq 2 ]
for expected in ok.test:pass:ok zen.spamhaus.org:fail:listed bl.spamcop.net:fail:listed \
  blocked.test:error:resolver-blocked dead.test:error:test-point-missing; do
  IFS=: read -r zone want_status want_verdict <<< "$expected"
  got="$(field "$DNS_WORKDIR/dnsbl.json" dnsbl.self "$zone" status):$(field "$DNS_WORKDIR/dnsbl.json" dnsbl.self "$zone" verdict)"
  check "$zone: $want_status/$want_verdict (got $got)" [ "$got" = "$want_status:$want_verdict" ]
done
zen=$(field "$DNS_WORKDIR/dnsbl.json" dnsbl.self zen.spamhaus.org message)
check "zen: 127.0.0.4 is named as XBL" contains "$zen" "127.0.0.4: Spamhaus XBL"
check "zen: 127.0.0.10 is named as PBL" contains "$zen" "127.0.0.10: Spamhaus PBL"
check "spamcop names 192.0.2.1 only" \
  [ "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); f=[x for x in r["findings"] if x["subject"]=="bl.spamcop.net"][0]; print(",".join(a["address"]+"="+a["verdict"] for a in f["evidence"]["addresses"]))' "$DNS_WORKDIR/dnsbl.json")" = "192.0.2.1=listed,192.0.2.2=not-listed" ]
check "blocked.test (127.255.255.254) is never a listing" \
  lacks "$(field "$DNS_WORKDIR/dnsbl.json" dnsbl.self blocked.test message)" "lists 192"
check "dnsbl.self: all queries at once, ${elapsed_ms} ms < 1000 ms timeout" [ "$elapsed_ms" -lt 1000 ]

# 6. A zone that never answers costs one timeout, not one per query.
dns_server_new quiet
dns_silent_zone quiet silent.test
dns_dnsbl_zone quiet ok.test
dns_server_start "$namespace" quiet 127.0.0.11
sed -i 's/zones = \[.*\]/zones = ["ok.test", "silent.test"]/; s/resolvers = \["127.0.0.10"\]/resolvers = ["127.0.0.11"]/' \
  "$tree/etc/qharden/qharden.toml"
status=0
start=$(date +%s%N)
audit --rule dnsbl.self > "$DNS_WORKDIR/quiet.json" || status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "silent.test is an error (timeout), not a pass" \
  [ "$(field "$DNS_WORKDIR/quiet.json" dnsbl.self silent.test status):$(field "$DNS_WORKDIR/quiet.json" dnsbl.self silent.test verdict)" = error:timeout ]
check "ok.test passes beside it" [ "$(field "$DNS_WORKDIR/quiet.json" dnsbl.self ok.test status)" = pass ]
# Its four queries one after the other would take four timeouts; two leave room
# for a loaded machine and still prove they waited together.
check "a silent zone costs one timeout: ${elapsed_ms} ms < 2 timeouts (2000 ms)" [ "$elapsed_ms" -lt 2000 ]
check "offline: both rules skip" \
  [ "$(ip netns exec "$namespace" "$QHARDEN" audit --offline --root "$tree" --rule dnsbl.self --rule smtp.identity --json | python3 -c 'import json,sys; print(sorted({f["status"] for f in json.load(sys.stdin)["findings"]}))')" = "['skip']" ]
finish
