#!/usr/bin/env bash
# Hostile callers on a private system-type bus with the shipped policy: random
# valid and invalid calls of every method and property, wrong signatures,
# oversized arrays and strings, unknown members and calls abandoned mid-flight
# (tools/dbus_hostile.py), first as nobody, then as root with invalid
# arguments only. The agent must answer every call, never crash and never
# change a file, and still answer Audit in its normal time afterwards
# (compared with Audit calls timed before the storm, in this run).
# QHARDEN_HOSTILE_SECONDS sets the length of each storm (CI: 25 s each);
# tests/bench/bench_dbus_hostile.sh runs it with a call count instead.
source "$(dirname "$0")/lib.sh"
require_root
for program in dbus-daemon busctl setpriv unshare /usr/bin/python3; do require_program "$program"; done
/usr/bin/python3 -c 'import dbus' 2>/dev/null ||
  { echo "FAIL: python3-dbus is not installed (packaging/bootstrap.sh test installs it)"; exit 1; }
QHARDEND=$(dirname "$QHARDEN")/qhardend
SOURCE_DIR=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
seconds=${QHARDEN_HOSTILE_SECONDS:-25}
calls=${QHARDEN_HOSTILE_CALLS:-0}
workers=${QHARDEN_HOSTILE_WORKERS:-4}
seed=${QHARDEN_HOSTILE_SEED:-$(date +%s)}

work=$(make_tree)
defer "rm -rf '$work'"
chmod 755 "$work"
tree=$work/tree
mkdir -p "$tree"
cp -a "$SOURCE_DIR/tests/fixtures/hosts/plesk/." "$tree/"
socket=$work/system_bus_socket
address=unix:path=$socket
write_bus_config "$work/system.conf" "$socket" system \
  "<include>$SOURCE_DIR/units/org.qharden.Agent1.conf</include>"
dbus-daemon --config-file="$work/system.conf" --nofork --nopidfile 2>> "$work/dbus.log" &
kill_later $!
for attempt in $(seq 1 50); do [ -S "$socket" ] && break; sleep 0.1; done
printf '[agent]\naudit_interval_s = 3600\n' > "$work/agent.toml"
# Its own network namespace: every live probe fails at once, so the audits
# the storm asks for cost what the engine costs, not what a network costs.
unshare -n "$QHARDEND" --bus "$address" --root "$tree" --config "$work/agent.toml" > "$work/agent.log" 2>&1 &
agent_pid=$!
kill_later "$agent_pid"
property() {
  busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 "$1" 2>/dev/null
}
for attempt in $(seq 1 200); do property LastAuditUsec | grep -qv '^t 0$' && break; sleep 0.1; done
property LastAuditUsec | grep -qv '^t 0$' || { echo "FAIL: qhardend did not come up"; cat "$work/agent.log"; exit 1; }

tree_listing() { find "$tree" -type f -print0 | sort -z | xargs -0 sha256sum; }
tree_sha() { tree_listing | sha256sum; }
# audit_ms: one Audit call of every rule, timed.
audit_ms() {
  local start
  start=$(date +%s%N)
  busctl --timeout=120 --address="$address" call org.qharden.Agent1 /org/qharden/Agent1 \
    org.qharden.Agent1 Audit as 0 > /dev/null 2>&1 || { echo failed; return; }
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}
median_audit_ms() {
  local times=() index
  for index in 1 2 3 4 5; do times+=("$(audit_ms)"); done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$agent_pid/status"; }
fds() { ls "/proc/$agent_pid/fd" | wc -l; }

rules=$("$QHARDEN" rules | awk 'NR > 1 {print $1}' | paste -sd, -)
before_sha=$(tree_sha)
tree_listing > "$work/before.listing"
# unchanged: the tree's files hash as before; prints what differs when not.
unchanged() {
  [ "$(tree_sha)" = "$before_sha" ] && return 0
  tree_listing | diff "$work/before.listing" - | sed 's/^/      /'
  grep -Ei 'apply|rollback|plan|fail' "$work/agent.log" | tail -5 | sed 's/^/      agent: /'
  return 1
}
baseline_ms=$(median_audit_ms)
before_sha_after_audits=$(tree_sha)
check "Audit works before the storm (median of 5: $baseline_ms ms)" [ "$baseline_ms" != failed ]
check "Audit calls alone change nothing" [ "$before_sha_after_audits" = "$before_sha" ]
rss_before=$(rss_kib)
fds_before=$(fds)
storm=(/usr/bin/python3 "$SOURCE_DIR/tests/integration/tools/dbus_hostile.py" --address "$address"
       --seconds "$seconds" --calls "$calls" --workers "$workers" --rules "$rules")

echo "-- as nobody (seed $seed)"
status=0
setpriv --reuid=nobody --regid=nogroup --clear-groups "${storm[@]}" --seed "$seed" \
  > "$work/nobody.json" 2> "$work/nobody.err" || status=$?
echo "      $(cat "$work/nobody.json")"
head -40 "$work/nobody.err" | sed 's/^/      /'
check "every call as nobody got a reply or an error" [ "$status" -eq 0 ]
check "the agent is alive" kill -0 "$agent_pid"
check "nobody's Apply, Plan and Rollback were refused by the policy" \
  /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["errors"].get("org.freedesktop.DBus.Error.AccessDenied",0) > 0 and r["calls"] > 0 else 1)' "$work/nobody.json"
check "nothing changed in the tree" unchanged

echo "-- as root, invalid arguments only (seed $((seed + 1)))"
status=0
"${storm[@]}" --as-root --seed $((seed + 1)) > "$work/root.json" 2> "$work/root.err" || status=$?
echo "      $(cat "$work/root.json")"
head -40 "$work/root.err" | sed 's/^/      /'
check "every call as root got a reply or an error" [ "$status" -eq 0 ]
check "root's invalid arguments got InvalidArgs" \
  /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["errors"].get("org.freedesktop.DBus.Error.InvalidArgs",0) > 0 else 1)' "$work/root.json"
check "the agent is alive" kill -0 "$agent_pid"
check "nothing changed in the tree" unchanged

after_ms=$(median_audit_ms)
rss_after=$(rss_kib)
fds_after=$(fds)
echo "      Audit median before $baseline_ms ms, after $after_ms ms; RSS $rss_before -> $rss_after KiB; fds $fds_before -> $fds_after"
check "afterwards Audit answers in its normal time (<= 2 x $baseline_ms ms + 100 ms)" \
  bash -c "[ '$after_ms' != failed ] && [ '$after_ms' -le $(( baseline_ms * 2 + 100 )) ]"
check "no descriptor leaked ($fds_before -> $fds_after)" [ "$fds_after" -le $(( fds_before + 2 )) ]
check "the log shows no crash or sanitizer report" \
  bash -c "! grep -Eq 'AddressSanitizer|runtime error|terminate called|Assertion' '$work/agent.log'"
kill -TERM "$agent_pid"
agent_status=0
wait "$agent_pid" || agent_status=$?
check "SIGTERM stops the agent cleanly (exit $agent_status)" [ "$agent_status" -eq 0 ]
finish
