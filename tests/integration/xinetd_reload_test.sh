#!/usr/bin/env bash
# Real xinetd in a network namespace: apply fixes tcp-env's options in the
# --root tree, reloads xinetd through the tree's pidfile, and a new connection
# shows -Rt0; a second apply changes nothing; rollback restores the bytes and
# the old banner. Then, on the live root inside the namespace, with a pidfile
# that names nothing: the one xinetd of the namespace is found by name, and
# with two running neither is signalled.
source "$(dirname "$0")/lib.sh"
require_root
require_program xinetd

tree=$(make_tree)
namespace=qh-xinetd-$$
make_namespace "$namespace"
stand_in=$tree/var/qmail/bin/tcp-env
write_xinetd_tree "$tree"
cat > "$tree/etc/xinetd.d/smtp_psa" <<SERVICE
# Plesk-style service; the comment and tabs must survive the fix.
service smtp
{
	socket_type	= stream
	protocol	= tcp
	wait		= no
	disable		= no
	user		= root
	instances	= UNLIMITED
	server		= $stand_in
	server_args	= /usr/sbin/rblsmtpd -r sbl-xbl.spamhaus.org /var/qmail/bin/qmail-smtpd
	type		= UNLISTED
	port		= 2525
}
SERVICE
original_sha=$(sha256sum < "$tree/etc/xinetd.d/smtp_psa")
cp -p "$tree/etc/xinetd.d/smtp_psa" "$tree/original"

# xinetd's own echo: a connection to it keeps a child named xinetd alive,
# which the fallback by name below must not take for a second daemon.
printf 'service echo\n{\n\ttype\t\t= INTERNAL UNLISTED\n\tid\t\t= echo-stream\n\tsocket_type\t= stream\n\tprotocol\t= tcp\n\twait\t\t= no\n\tuser\t\t= root\n\tport\t\t= 2527\n}\n' \
  > "$tree/etc/xinetd.d/echo_stream"
ip netns exec "$namespace" xinetd -f "$tree/xinetd-daemon.conf" -pidfile "$tree/run/xinetd.pid" \
  -filelog "$tree/xinetd.log" -dontfork &
xinetd_pid=$!
kill_later $xinetd_pid
wait_for_port "$namespace" 2525

before=$(first_line "$namespace" 2525)
check "before: the banner shows no -R ($before)" lacks "$before" "-Rt0"

audit_status=0
"$QHARDEN" audit --root "$tree" --rule tcp-env.flags --json > "$tree/audit.json" || audit_status=$?
check "audit exits 2 (critical failure)" [ "$audit_status" -eq 2 ]

plan=$("$QHARDEN" plan --root "$tree" --rule tcp-env.flags)
check "plan shows the diff" contains "$plan" "+	server_args	= -Rt0 /usr/sbin/rblsmtpd"
check "plan wrote nothing" [ "$(sha256sum < "$tree/etc/xinetd.d/smtp_psa")" = "$original_sha" ]

apply_output=$("$QHARDEN" apply --root "$tree" --rule tcp-env.flags)
echo "$apply_output" | sed 's/^/      /'
check "apply reloaded xinetd with SIGHUP" contains "$apply_output" "reloaded with SIGHUP"
sleep 0.5
after=$(first_line "$namespace" 2525)
check "after apply: a new connection shows -Rt0 ($after)" contains "$after" "argv: -Rt0 /usr/sbin/rblsmtpd"
check "only tcp-env's options changed, every other byte is the same" \
  cmp -s <(sed 's/= -Rt0 \/usr/= \/usr/' "$tree/etc/xinetd.d/smtp_psa") "$tree/original"
audit_after=0
"$QHARDEN" audit --root "$tree" --rule tcp-env.flags > /dev/null || audit_after=$?
check "audit passes after apply" [ "$audit_after" -eq 0 ]

second=$("$QHARDEN" apply --root "$tree" --rule tcp-env.flags)
check "a second apply changes nothing and says so" contains "$second" "nothing to do"

rollback_output=$("$QHARDEN" rollback --last --root "$tree")
check "rollback reloads xinetd" contains "$rollback_output" "reloaded with SIGHUP"
check "rollback restores the exact bytes" [ "$(sha256sum < "$tree/etc/xinetd.d/smtp_psa")" = "$original_sha" ]
sleep 0.5
restored=$(first_line "$namespace" 2525)
check "after rollback the old banner is back ($restored)" [ "$restored" = "$before" ]
echo "# live root, paths.xinetd_pidfile names nothing"
# Every path qharden reads or writes is in the tree, so the machine's own
# /etc is neither read for services nor written; /run/systemd is hidden so
# that a machine whose systemd runs an xinetd unit does not get it reloaded.
cat > "$tree/live.toml" <<TOML
[paths]
xinetd_conf = "$tree/xinetd-daemon.conf"
inetd_conf = "$tree/no-inetd.conf"
run_scripts = []
systemd_unit_dirs = []
xinetd_pidfile = "$tree/run/nothing.pid"
state_dir = "$tree/live-state"
TOML
live() {
  ip netns exec "$namespace" unshare -m --propagation private sh -c \
    '[ -d /run/systemd ] && mount -t tmpfs none /run/systemd; exec "$@"' _ "$QHARDEN" "$@"
}
ip netns exec "$namespace" bash -c 'exec 3<>/dev/tcp/127.0.0.1/2527; sleep 60' &
echo_client=$!
defer "kill $echo_client"
children=0
for attempt in $(seq 1 50); do
  children=$(pgrep -cx -P "$xinetd_pid" xinetd || true)
  [ "$children" -ge 1 ] && break
  sleep 0.1
done
check "a held echo connection gives xinetd a child of the same name ($children)" [ "$children" -ge 1 ]
live_apply=$(live apply --config "$tree/live.toml" --rule tcp-env.flags 2>&1) || true
echo "$live_apply" | sed 's/^/      /'
check "apply finds the namespace's one xinetd by name and reloads it" \
  contains "$live_apply" "found by name: $tree/run/nothing.pid names no live xinetd) reloaded with SIGHUP"
sleep 0.5
check "and a new connection shows -Rt0" contains "$(first_line "$namespace" 2525)" "argv: -Rt0"
live rollback --last --config "$tree/live.toml" > /dev/null 2>&1 || true
sleep 0.5
check "rollback reloads it the same way" [ "$(first_line "$namespace" 2525)" = "$before" ]
kill "$echo_client" 2>/dev/null || true

printf 'service other\n{\n\tsocket_type = stream\n\twait = no\n\tuser = root\n\tserver = /bin/true\n\ttype = UNLISTED\n\tport = 2526\n}\n' \
  > "$tree/second-xinetd.conf"
ip netns exec "$namespace" xinetd -f "$tree/second-xinetd.conf" -pidfile "$tree/run/second.pid" -dontfork &
kill_later $!
wait_for_port "$namespace" 2526
two_status=0
two=$(live apply --config "$tree/live.toml" --rule tcp-env.flags 2>&1) || two_status=$?
echo "$two" | sed 's/^/      /'
check "with two xinetd in the namespace, none is signalled and apply says so (exit 1)" \
  [ "$two_status" -eq 1 ]
check "the message names both and the setting to fix" contains "$two" "paths.xinetd_pidfile"
check "the running xinetd kept its old configuration" [ "$(first_line "$namespace" 2525)" = "$before" ]
finish
