#!/usr/bin/env bash
# qhardend on a private system-type dbus-daemon that includes the shipped bus
# policy (units/org.qharden.Agent1.conf), fixing a Plesk-like --root tree in a
# network namespace of its own:
# - nobody may Audit, GetReport and read properties, and gets AccessDenied for
#   Plan, Apply and Rollback (from the bus policy; on a bus without that
#   policy, from the agent's own GetConnectionUnixUser check);
# - bad arguments get InvalidArgs and change nothing;
# - root's Apply fixes the tree and FixApplied is emitted;
# - Plesk overwriting smtp_psa is repaired and DriftDetected is emitted,
#   until the re-apply rate limit stops the agent from fighting;
# - a Latin-1 file name: Audit, Plan and Apply answer (U+FFFD in its place),
#   and its DriftDetected does not stop the re-apply of a kept fix;
# - a folder as --config is refused (exit 3);
# - `qharden status` reads the agent's properties;
# - SIGHUP with a bad config keeps the old one; SIGTERM stops cleanly.
source "$(dirname "$0")/lib.sh"
require_root
for program in dbus-daemon dbus-send dbus-monitor busctl setpriv unshare; do require_program "$program"; done
QHARDEND=$(dirname "$QHARDEN")/qhardend
SOURCE_DIR=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
qharden_version=$("$QHARDEN" --version | awk '{print $2}')
[ -x "$QHARDEND" ] || { echo "FAIL: no qhardend beside $QHARDEN"; exit 1; }

work=$(make_tree)
defer "rm -rf '$work'"  # make_tree runs in a subshell, so its own defer is lost
chmod 755 "$work"  # nobody must reach the bus socket
tree=$work/tree
mkdir -p "$tree"
cp -a "$SOURCE_DIR/tests/fixtures/hosts/plesk/." "$tree/"
cp "$tree/etc/xinetd.d/smtp_psa" "$work/smtp_psa.unfixed"
smtp_psa=$tree/etc/xinetd.d/smtp_psa

# start_bus CONFIG: starts dbus-daemon and waits for its socket.
start_bus() {
  dbus-daemon --config-file="$1" --nofork --nopidfile 2>> "$work/dbus.log" &
  kill_later $!
  local attempt
  for attempt in $(seq 1 50); do [ -S "$2" ] && return 0; sleep 0.1; done
  echo "FAIL: dbus-daemon did not listen on $2"; cat "$work/dbus.log"; exit 1
}

# start_agent ADDRESS TREE LOG [ARGS...]: qhardend in a network namespace of
# its own (no live probe reaches the machine's network); waits for its first
# audit. Sets agent_pid.
start_agent() {
  local address=$1 root=$2 log=$3
  shift 3
  unshare -n "$QHARDEND" --bus "$address" --root "$root" "$@" > "$log" 2>&1 &
  agent_pid=$!
  kill_later "$agent_pid"
  local attempt
  for attempt in $(seq 1 100); do
    if busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 \
         org.qharden.Agent1 LastAuditUsec 2>/dev/null | grep -qv '^t 0$'; then
      return 0
    fi
    sleep 0.1
  done
  echo "FAIL: qhardend did not come up on $address"; cat "$log"; exit 1
}

as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# call ADDRESS METHOD ARGS...: dbus-send, which prints the error's name.
# (dbus-send --address skips Hello; --system with the address set does not.)
call() {
  local address=$1 method=$2
  shift 2
  DBUS_SYSTEM_BUS_ADDRESS=$address ${runner:-} dbus-send --system --print-reply --dest=org.qharden.Agent1 /org/qharden/Agent1 \
    "org.qharden.Agent1.$method" "$@" 2>&1 || true
}
nobody_call() { runner="setpriv --reuid=nobody --regid=nogroup --clear-groups" call "$@"; }
tree_sha() { find "$tree/etc" -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum; }

socket=$work/system_bus_socket
address=unix:path=$socket
write_bus_config "$work/system.conf" "$socket" system \
  "<include>$SOURCE_DIR/units/org.qharden.Agent1.conf</include>"
start_bus "$work/system.conf" "$socket"

printf '[agent]\nreapply_limit = 2\nreapply_window_s = 600\naudit_interval_s = 3600\n' > "$work/agent.toml"
dbus-monitor --address "$address" "type='signal',interface='org.qharden.Agent1'" > "$work/signals.log" 2>&1 &
kill_later $!
echo "-- a folder as --config"
config_status=0
unshare -n "$QHARDEND" --bus "unix:path=$work/no_bus_here" --root "$tree" --config "$work" \
  > "$work/folder-config.log" 2>&1 || config_status=$?
check "a folder as --config exits 3 ($config_status)" [ "$config_status" -eq 3 ]
check "and is named as a folder" grep -q "$work: is a folder, not a config file" "$work/folder-config.log"

start_agent "$address" "$tree" "$work/agent.log" --config "$work/agent.toml"
before=$(tree_sha)

echo "-- nobody"
audit=$(as_nobody busctl --address="$address" call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Audit as 0 2>&1 || true)
check "nobody can Audit: smtp_psa fails tcp-env.flags" contains "$audit" '"tcp-env.flags" "/etc/xinetd.d/smtp_psa:smtp" "fail" "critical"'
report=$(as_nobody busctl --address="$address" call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 GetReport 2>&1 || true)
check "nobody can GetReport (schema 1 JSON)" contains "$report" '\"schema\":1'
compliant=$(as_nobody busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Compliant 2>&1 || true)
check "nobody reads Compliant = false ($compliant)" [ "$compliant" = "b false" ]
version=$(as_nobody busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Version 2>&1 || true)
check "nobody reads Version ($version)" [ "$version" = "s \"$qharden_version\"" ]
introspection=$(as_nobody busctl --address="$address" introspect org.qharden.Agent1 /org/qharden/Agent1 2>&1 || true)
check "nobody can introspect" contains "$introspection" ".DriftEvents"
for method in Plan Apply; do
  reply=$(nobody_call "$address" "$method" array:string:tcp-env.flags)
  check "nobody's $method gets AccessDenied" contains "$reply" "org.freedesktop.DBus.Error.AccessDenied"
done
reply=$(nobody_call "$address" Rollback string:)
check "nobody's Rollback gets AccessDenied" contains "$reply" "org.freedesktop.DBus.Error.AccessDenied"
check "nothing changed in the tree" [ "$(tree_sha)" = "$before" ]

echo "-- bad arguments"
reply=$(nobody_call "$address" Audit array:string:no.such-rule)
check "Audit with an unknown rule id gets InvalidArgs naming it" contains "$reply" 'org.freedesktop.DBus.Error.InvalidArgs: rules: unknown rule id "no.such-rule"'
reply=$(call "$address" Apply array:string:tcp-env.flags,no.such-rule)
check "root's Apply with an unknown rule id gets InvalidArgs" contains "$reply" "org.freedesktop.DBus.Error.InvalidArgs"
many=$(printf 'tcp-env.flags,%.0s' $(seq 1 65)); many=${many%,}
reply=$(call "$address" Apply "array:string:$many")
check "65 rules get InvalidArgs" contains "$reply" "org.freedesktop.DBus.Error.InvalidArgs: rules: 65 ids"
reply=$(call "$address" Apply "array:string:$(printf 'x%.0s' $(seq 1 300))")
check "a 300-byte rule id gets InvalidArgs" contains "$reply" "org.freedesktop.DBus.Error.InvalidArgs"
reply=$(call "$address" Rollback string:20991231T000000Z-ffff)
check "Rollback of an unknown change id gets InvalidArgs" contains "$reply" "org.freedesktop.DBus.Error.InvalidArgs: change_id"
reply=$(call "$address" Rollback string:../../etc)
check "Rollback of a malformed change id gets InvalidArgs" contains "$reply" "org.freedesktop.DBus.Error.InvalidArgs: change_id"
check "still nothing changed in the tree" [ "$(tree_sha)" = "$before" ]

echo "-- root"
plan=$(call "$address" Plan array:string:tcp-env.flags)
check "root's Plan shows the diff" contains "$plan" "+	server_args	= -Rt0 /usr/sbin/rblsmtpd"
check "Plan wrote nothing" [ "$(tree_sha)" = "$before" ]
apply=$(busctl --address="$address" call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Apply as 1 tcp-env.flags 2>&1 || true)
echo "      $apply"
check "root's Apply reports smtp_psa applied" contains "$apply" '"tcp-env.flags" "/etc/xinetd.d/smtp_psa" "applied"'
check "root's Apply fixed smtp_psa" grep -q 'server_args	= -Rt0 /usr/sbin/rblsmtpd' "$smtp_psa"
failing=$(busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 FailingRules)
check "FailingRules no longer lists tcp-env.flags ($failing)" lacks "$failing" "tcp-env.flags"

echo "-- drift"
# wait_fixed SECONDS: until smtp_psa holds -Rt0 again.
wait_fixed() {
  local attempt
  for attempt in $(seq 1 $(($1 * 20))); do
    grep -q 'server_args	= -Rt0' "$smtp_psa" && return 0
    sleep 0.05
  done
  return 1
}
# Plesk rewrites the file in place; editors and package scripts rename over it.
cat "$work/smtp_psa.unfixed" > "$smtp_psa"
check "an in-place overwrite is repaired" wait_fixed 5
sleep 0.3
cp "$work/smtp_psa.unfixed" "$smtp_psa.new" && mv "$smtp_psa.new" "$smtp_psa"
check "a rename over the file is repaired" wait_fixed 5
sleep 0.3
drift_events=$(busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 DriftEvents)
check "DriftEvents counts both ($drift_events)" [ "$drift_events" = "u 2" ]
check "DriftDetected was emitted for smtp_psa" grep -q 'string "/etc/xinetd.d/smtp_psa:smtp"' "$work/signals.log"
check "DriftDetected is on the bus" grep -q 'member=DriftDetected' "$work/signals.log"
check "FixApplied is on the bus" grep -q 'member=FixApplied' "$work/signals.log"
check "AuditCompleted is on the bus" grep -q 'member=AuditCompleted' "$work/signals.log"
status_output=$(as_nobody "$QHARDEN" status --bus "$address" 2>&1 || true)
echo "$status_output" | sed 's/^/      /'
check "qharden status, as nobody, reports the agent and its drift count" \
  bash -c "[[ '$status_output' == *'qhardend $qharden_version: '*'drift events: 2'* ]]"
# reapply_limit = 2: the third overwrite within the window is left alone.
cat "$work/smtp_psa.unfixed" > "$smtp_psa"
sleep 1
check "after reapply_limit re-applies the agent stops fighting" grep -q 'server_args	= /usr/sbin/rblsmtpd' "$smtp_psa"
check "and says so in its log" grep -q 'stops re-applying it' "$work/agent.log"
reply=$(call "$address" Apply array:string:tcp-env.flags)
check "an explicit Apply still fixes it" grep -q 'server_args	= -Rt0' "$smtp_psa"

echo "-- bytes that are not UTF-8: a Latin-1 file name"
latin=$tree/etc/xinetd.d/$'smtp_\xe9x'
cp "$work/smtp_psa.unfixed" "$latin"
sleep 0.5
audit=$(as_nobody busctl --address="$address" call org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Audit as 1 tcp-env.flags 2>&1 || true)
check "Audit answers, with U+FFFD for the byte" contains "$audit" '"/etc/xinetd.d/smtp_\357\277\275x:smtp" "fail"'
plan=$(call "$address" Plan array:string:tcp-env.flags)
check "Plan answers, with U+FFFD in the diff" contains "$plan" $'+++ /etc/xinetd.d/smtp_\xef\xbf\xbdx\n'
check "and is not refused" lacks "$plan" "org.freedesktop.DBus.Error"
reply=$(call "$address" Apply array:string:tcp-env.flags)
check "Apply answers, with U+FFFD for the byte" contains "$reply" $'string "/etc/xinetd.d/smtp_\xef\xbf\xbdx"'
check "and fixes the Latin-1 file" grep -q 'server_args	= -Rt0' "$latin"
# Passing (written here too, so this part does not depend on Apply), then both
# files overwritten at once: one drift audit finds the kept smtp_psa and the
# Latin-1 file failing, and DriftDetected for the latter must not stop the
# re-apply.
sed 's/= \/usr\/sbin\/rblsmtpd/= -Rt0 \/usr\/sbin\/rblsmtpd/' "$work/smtp_psa.unfixed" > "$latin"
sleep 0.5
cat "$work/smtp_psa.unfixed" > "$latin"
cat "$work/smtp_psa.unfixed" > "$smtp_psa"
check "the kept fix is put back beside a Latin-1 drift" wait_fixed 5
check "DriftDetected names the Latin-1 file with U+FFFD" grep -q $'smtp_\xef\xbf\xbdx:smtp' "$work/signals.log"
rm -f "$latin"
sleep 0.3

echo "-- signals"
printf '[agent]\nreapply_limit = "many"\n' > "$work/agent.toml"
kill -HUP "$agent_pid"
# wait_log PATTERN: the agent may be in the middle of a DNS-probing audit.
wait_log() {
  local attempt
  for attempt in $(seq 1 100); do grep -q "$1" "$work/agent.log" && return 0; sleep 0.1; done
  return 1
}
check "a bad config on SIGHUP is refused with file:line:column" wait_log "config reload refused.*agent.toml:2:"
version=$(busctl --address="$address" get-property org.qharden.Agent1 /org/qharden/Agent1 org.qharden.Agent1 Version 2>&1 || true)
check "the agent still answers after the bad reload" [ "$version" = "s \"$qharden_version\"" ]
kill -TERM "$agent_pid"
stopped=1
for attempt in $(seq 1 50); do kill -0 "$agent_pid" 2>/dev/null || { stopped=0; break; }; sleep 0.1; done
agent_status=0
wait "$agent_pid" || agent_status=$?
check "SIGTERM stops the agent cleanly (exit $agent_status)" [ "$stopped" -eq 0 ] && [ "$agent_status" -eq 0 ]
status_status=0
"$QHARDEN" status --bus "$address" > /dev/null 2>&1 || status_status=$?
check "qharden status exits 3 when no agent answers ($status_status)" [ "$status_status" -eq 3 ]

echo "-- sd_notify: READY=1, WATCHDOG=1 when WATCHDOG_USEC is set, STOPPING=1"
if command -v python3 > /dev/null; then
  cat > "$work/notify_listener.py" <<'LISTENER'
import socket, sys, time
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind(sys.argv[1])
end = time.monotonic() + float(sys.argv[2])
with open(sys.argv[3], "w") as out:
    while time.monotonic() < end:
        listener.settimeout(max(0.01, end - time.monotonic()))
        try:
            out.write(listener.recv(4096).decode().replace("\n", " ") + "\n")
            out.flush()
        except socket.timeout:
            break
LISTENER
  python3 "$work/notify_listener.py" "$work/notify" 8 "$work/notify.log" &
  listener_pid=$!
  kill_later "$listener_pid"
  for attempt in $(seq 1 50); do [ -S "$work/notify" ] && break; sleep 0.1; done
  NOTIFY_SOCKET=$work/notify WATCHDOG_USEC=400000 unshare -n "$QHARDEND" --bus "$address" \
    --root "$tree" > "$work/notify-agent.log" 2>&1 &
  notify_agent=$!
  sleep 4
  kill -TERM "$notify_agent"
  wait "$notify_agent" || true
  sleep 0.2
  sed 's/^/      /' "$work/notify.log"
  check "READY=1 is sent" grep -q '^READY=1' "$work/notify.log"
  check "WATCHDOG=1 is sent repeatedly" [ "$(grep -c '^WATCHDOG=1' "$work/notify.log")" -ge 3 ]
  check "STOPPING=1 is the last word" [ "$(tail -1 "$work/notify.log" | tr -d ' ')" = "STOPPING=1" ]
else
  echo "SKIP  sd_notify checks: python3 is not installed"
fi

echo "-- the agent's own check, on a bus without the shipped policy"
open_socket=$work/open_bus_socket
write_bus_config "$work/open.conf" "$open_socket" session \
  '<policy context="default"><allow own="org.qharden.Agent1"/><allow send_type="method_call"/></policy>'
start_bus "$work/open.conf" "$open_socket"
open_tree=$work/open-tree
mkdir -p "$open_tree" && cp -a "$SOURCE_DIR/tests/fixtures/hosts/plesk/." "$open_tree/"
start_agent "unix:path=$open_socket" "$open_tree" "$work/open-agent.log"
reply=$(nobody_call "unix:path=$open_socket" Apply array:string:tcp-env.flags)
check "nobody's Apply is refused by qhardend itself" contains "$reply" "org.freedesktop.DBus.Error.AccessDenied: only root"
check "and the tree is untouched" grep -q 'server_args	= /usr/sbin/rblsmtpd' "$open_tree/etc/xinetd.d/smtp_psa"
finish
