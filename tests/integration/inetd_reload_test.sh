#!/usr/bin/env bash
# Real openbsd-inetd (unpacked with dpkg -x: it conflicts with xinetd as a
# package) in a network namespace: apply fixes the inetd.conf line, SIGHUPs
# inetd through the tree's pidfile, and a new connection shows -Rt0.
source "$(dirname "$0")/lib.sh"
require_root
inetd=${QHARDEN_INETD:-/var/cache/qharden-tests/openbsd-inetd/usr/sbin/inetd}
[ -x "$inetd" ] || { echo "FAIL: $inetd missing (packaging/bootstrap.sh test unpacks openbsd-inetd)"; exit 1; }

tree=$(make_tree)
namespace=qh-inetd-$$
make_namespace "$namespace"
stand_in=$tree/var/qmail/bin/tcp-env
write_tcp_env_stand_in "$stand_in"
mkdir -p "$tree/etc" "$tree/run"
cat > "$tree/etc/inetd.conf" <<CONF
# /etc/inetd.conf: see inetd(8) for further informations.
#<off># ident	stream	tcp	nowait	identd	/usr/sbin/identd identd
2526	stream	tcp	nowait	root	$stand_in	tcp-env /var/qmail/bin/qmail-smtpd
CONF
cp -p "$tree/etc/inetd.conf" "$tree/original"

# A private /run keeps inetd's own pidfile off the machine; the tree's
# pidfile is what qharden reads.
ip netns exec "$namespace" unshare -m sh -c "mount -t tmpfs tmpfs /run && exec $inetd -i $tree/etc/inetd.conf" &
inetd_pid=$!
kill_later $inetd_pid
echo "$inetd_pid" > "$tree/run/inetd.pid"
wait_for_port "$namespace" 2526

before=$(first_line "$namespace" 2526)
check "before: no -R in the banner ($before)" lacks "$before" "-Rt0"
apply_output=$("$QHARDEN" apply --root "$tree" --rule tcp-env.flags)
echo "$apply_output" | sed 's/^/      /'
check "apply reloaded inetd with SIGHUP" contains "$apply_output" "inetd (pid $inetd_pid) reloaded with SIGHUP"
sleep 0.5
after=$(first_line "$namespace" 2526)
check "after apply: a new connection shows -Rt0 ($after)" contains "$after" "argv: -Rt0 /var/qmail/bin/qmail-smtpd"
check "comments and the #<off># line are byte-identical" \
  cmp -s <(sed 's/tcp-env -Rt0 /tcp-env /' "$tree/etc/inetd.conf") "$tree/original"
second=$("$QHARDEN" apply --root "$tree" --rule tcp-env.flags)
check "a second apply changes nothing" contains "$second" "nothing to do"
"$QHARDEN" rollback --last --root "$tree" > /dev/null
check "rollback restores the exact bytes" cmp -s "$tree/etc/inetd.conf" "$tree/original"
sleep 0.5
check "after rollback the old banner is back" [ "$(first_line "$namespace" 2526)" = "$before" ]
finish
