#!/usr/bin/env bash
# rblsmtpd.sources against real unbound servers in a network namespace: each
# zone's verdict through the resolvers rblsmtpd uses (resolv.conf, or
# DNSCACHEIP from a run script's envdir), the wall time of the whole check,
# and the fix (drop dead zones, or rblsmtpd itself when no -r would remain)
# with apply, audit and a byte-exact rollback.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dns_lib.sh"
require_root
require_program python3
namespace=qh-rbl-$$
make_namespace "$namespace"
dns_workdir
tree=$DNS_WORKDIR/tree

dns_server_new main
dns_dnsbl_zone main ok.test
dns_dnsbl_zone main anti.test
dns_everything_zone main all.test
dns_no_test_points_zone main empty.test
dns_blocked_zone main blocked.test
dns_address_only_zone main notxt.test
dns_silent_zone main silent.test
dns_server_start "$namespace" main 127.0.0.10
dns_server_new refusing
dns_refuse_all refusing
dns_server_start "$namespace" refusing 127.0.0.11
dns_server_new servfail
dns_servfail_all servfail
dns_server_start "$namespace" servfail 127.0.0.12

run_script() {  # NAME DNSCACHEIP ARGS...
  local folder=$tree/service/$1 cache=$2
  shift 2
  mkdir -p "$folder"
  if [ -n "$cache" ]; then
    mkdir -p "$folder/env"
    echo "$cache" > "$folder/env/DNSCACHEIP"
    printf '#!/bin/sh\nexec envdir ./env tcpserver -vR 0 25 \\\n  rblsmtpd %s \\\n  qmail-smtpd\n' "$*" > "$folder/run"
  else
    printf '#!/bin/sh\nexec tcpserver -vR 0 25 \\\n  rblsmtpd %s \\\n  qmail-smtpd\n' "$*" > "$folder/run"
  fi
  chmod 755 "$folder/run"
}
mkdir -p "$tree/etc/qharden"
printf 'nameserver 127.0.0.10\n' > "$tree/etc/resolv.conf"
printf '[paths]\nrun_scripts = ["/service/*/run"]\n[rules."rblsmtpd.sources"]\ntimeout_ms = 1000\ntries = 1\n' \
  > "$tree/etc/qharden/qharden.toml"
run_script smtpd "" -r ok.test -r all.test -c -r empty.test -r blocked.test -r silent.test -r notxt.test -a anti.test
run_script smtpd-refusing 127.0.0.11 -r refused.test
run_script smtpd-servfail 127.0.0.12 -r servfail.test
cp -a "$tree/service" "$DNS_WORKDIR/original-service"

verdict_of() {  # REPORT SUBJECT FIELD
  python3 -c 'import json,sys
report=json.load(open(sys.argv[1]))
hits=[f for f in report["findings"] if f["rule"]=="rblsmtpd.sources" and f["subject"]==sys.argv[2]]
print(hits[0].get(sys.argv[3]) if sys.argv[3] in ("status","severity","message") else hits[0]["evidence"].get(sys.argv[3]) if hits else "none")' "$@"
}

audit() { ip netns exec "$namespace" "$QHARDEN" audit --root "$tree" --rule rblsmtpd.sources --json "$@"; }
# The baseline, measured in this run: an audit whose only zone is the silent one.
single=$DNS_WORKDIR/single
mkdir -p "$single/etc/qharden" "$single/service/smtpd"
cp "$tree/etc/resolv.conf" "$single/etc/"
cp "$tree/etc/qharden/qharden.toml" "$single/etc/qharden/"
printf '#!/bin/sh\nexec tcpserver -vR 0 25 rblsmtpd -r silent.test qmail-smtpd\n' > "$single/service/smtpd/run"
chmod 755 "$single/service/smtpd/run"
start=$(date +%s%N)
ip netns exec "$namespace" "$QHARDEN" audit --root "$single" --rule rblsmtpd.sources --json > /dev/null || true
single_ms=$(( ($(date +%s%N) - start) / 1000000 ))
status=0
start=$(date +%s%N)
audit > "$DNS_WORKDIR/report.json" || status=$?
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "audit exits 2 (critical)" [ "$status" -eq 2 ]
for expected in ok.test:ok anti.test:ok all.test:lists-everything empty.test:test-point-missing \
  blocked.test:resolver-blocked notxt.test:no-txt silent.test:timeout refused.test:refused servfail.test:servfail; do
  zone=${expected%%:*} want=${expected#*:}
  got=$(verdict_of "$DNS_WORKDIR/report.json" "$zone" verdict)
  check "$zone: verdict $want (got $got)" [ "$got" = "$want" ]
done
check "notxt.test fails as a warning" \
  [ "$(verdict_of "$DNS_WORKDIR/report.json" notxt.test status):$(verdict_of "$DNS_WORKDIR/report.json" notxt.test severity)" = fail:warning ]
blocked_message=$(verdict_of "$DNS_WORKDIR/report.json" blocked.test message)
check "blocked.test (127.255.255.254 + TXT Error: open resolver): every client gets a 451" \
  contains "$blocked_message" "every client gets a 451"

# The real rblsmtpd against the same unbound (DNSCACHEIP): the open-resolver
# TXT refuses a client with 451; an A-only zone lets through a client it lists
# (127.0.0.2, the test point), since rblsmtpd -r asks for TXT only.
rblsmtpd_says() {  # ZONE
  printf 'HELO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@server.test>\r\nQUIT\r\n' |
    ip netns exec "$namespace" env DNSCACHEIP=127.0.0.10 TCPREMOTEIP=127.0.0.2 \
      timeout 20 rblsmtpd -r "$1" sh -c 'echo 220 program-reached' 2>/dev/null | tr -d '\r'
}
real_blocked=$(rblsmtpd_says blocked.test)
check "real rblsmtpd -r blocked.test answers 451 (got: $(echo $real_blocked))" contains "$real_blocked" "451 Error: open resolver"
real_notxt=$(rblsmtpd_says notxt.test | head -1)
check "real rblsmtpd -r notxt.test lets the client through (got: $real_notxt)" [ "$real_notxt" = "220 program-reached" ]
check "the client 127.0.0.2 is listed there by A, all the same" \
  contains "$(ip netns exec "$namespace" dig +short @127.0.0.10 2.0.0.127.notxt.test A)" "127.0.0.2"

check "ok.test passes" [ "$(verdict_of "$DNS_WORKDIR/report.json" ok.test status)" = pass ]
check "refused.test was asked through DNSCACHEIP 127.0.0.11" \
  [ "$(verdict_of "$DNS_WORKDIR/report.json" refused.test resolver)" = 127.0.0.11 ]
silent_message=$(verdict_of "$DNS_WORKDIR/report.json" silent.test message)
check "a silent zone under -c: the message says 451" contains "$silent_message" "451"
all_message=$(verdict_of "$DNS_WORKDIR/report.json" all.test message)
check "a zone listing everything: the message says every client is refused" contains "$all_message" "every client"
check "used_by names the run script" contains "$(verdict_of "$DNS_WORKDIR/report.json" all.test used_by)" "/service/smtpd/run"
check "all zones and resolvers probed at once: ${elapsed_ms} ms < 1.5 x the silent zone alone (${single_ms} ms)" \
  [ "$elapsed_ms" -lt $(( single_ms * 3 / 2 )) ]

# An invalid zone name is an error and is never queried.
mkdir -p "$DNS_WORKDIR/bad/etc" "$DNS_WORKDIR/bad/service/smtpd"
cp "$tree/etc/resolv.conf" "$DNS_WORKDIR/bad/etc/"
printf "#!/bin/sh\nexec tcpserver -R 0 25 rblsmtpd -r 'bad..zone' -r ok.test qmail-smtpd\n" > "$DNS_WORKDIR/bad/service/smtpd/run"
ip netns exec "$namespace" "$QHARDEN" audit --root "$DNS_WORKDIR/bad" --rule rblsmtpd.sources --json \
  > "$DNS_WORKDIR/bad.json" || true
check "bad..zone is an error" [ "$(verdict_of "$DNS_WORKDIR/bad.json" bad..zone status)" = error ]
check "the query log works (ok.test is in it)" contains "$(cat "$DNS_WORKDIR/main/unbound.log")" "2.0.0.127.ok.test."
check "bad..zone was never queried" lacks "$(cat "$DNS_WORKDIR/main/unbound.log")" "bad"

# A silent first resolver: djbdns moves on to the next, so the zone is judged
# on the answer of the second.
dns_silent_address "$namespace" 127.0.0.13
mkdir -p "$DNS_WORKDIR/two/etc/qharden" "$DNS_WORKDIR/two/service/smtpd"
printf 'nameserver 127.0.0.13\nnameserver 127.0.0.10\n' > "$DNS_WORKDIR/two/etc/resolv.conf"
cp "$tree/etc/qharden/qharden.toml" "$DNS_WORKDIR/two/etc/qharden/"
printf '#!/bin/sh\nexec tcpserver -R 0 25 rblsmtpd -r ok.test -r all.test qmail-smtpd\n' > "$DNS_WORKDIR/two/service/smtpd/run"
ip netns exec "$namespace" "$QHARDEN" audit --root "$DNS_WORKDIR/two" --rule rblsmtpd.sources --json \
  > "$DNS_WORKDIR/two.json" || true
check "silent first resolver: ok.test is judged ok through the second" \
  [ "$(verdict_of "$DNS_WORKDIR/two.json" ok.test verdict):$(verdict_of "$DNS_WORKDIR/two.json" ok.test resolver)" = ok:127.0.0.10 ]
check "silent first resolver: all.test still lists everything" \
  [ "$(verdict_of "$DNS_WORKDIR/two.json" all.test verdict)" = lists-everything ]

# The fix is only made when the rule is named.
ip netns exec "$namespace" "$QHARDEN" apply --root "$tree" > "$DNS_WORKDIR/apply-all.txt" 2>&1 || true
check "apply without --rule leaves the run scripts alone" diff -r "$DNS_WORKDIR/original-service" "$tree/service"
ip netns exec "$namespace" "$QHARDEN" plan --root "$tree" --rule rblsmtpd.sources > "$DNS_WORKDIR/plan.txt"
sed 's/^/      /' "$DNS_WORKDIR/plan.txt"
status=0
ip netns exec "$namespace" "$QHARDEN" apply --root "$tree" --rule rblsmtpd.sources > "$DNS_WORKDIR/apply.txt" 2>&1 || status=$?
sed 's/^/      /' "$DNS_WORKDIR/apply.txt"
check "apply --rule rblsmtpd.sources succeeds" [ "$status" -eq 0 ]
smtpd=$(cat "$tree/service/smtpd/run")
check "the healthy zones stay" contains "$smtpd" "rblsmtpd -r ok.test -c -a anti.test"
check "the dead zones are gone" lacks "$smtpd" "all.test"
check "no rblsmtpd is left without -r: removed from the chain" \
  [ "$(cat "$tree/service/smtpd-refusing/run")" = "$(printf '#!/bin/sh\nexec envdir ./env tcpserver -vR 0 25 \\\n  qmail-smtpd')" ]
status=0
audit > "$DNS_WORKDIR/after.json" || status=$?
check "audit passes after the fix" [ "$status" -eq 0 ]
ip netns exec "$namespace" "$QHARDEN" rollback --last --root "$tree" > /dev/null
check "rollback restores every run script byte for byte" diff -r "$DNS_WORKDIR/original-service" "$tree/service"
finish
