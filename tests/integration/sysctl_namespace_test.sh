#!/usr/bin/env bash
# sysctl.tcp-fin-timeout in a network namespace (tcp_fin_timeout is per
# netns): apply writes the runtime value and a drop-in that wins precedence
# over a later file; rollback restores both. The machine's own value and
# /etc/sysctl.d are never touched.
source "$(dirname "$0")/lib.sh"
require_root
tree=$(make_tree)
namespace=qh-sysctl-$$
make_namespace "$namespace"
host_value=$(cat /proc/sys/net/ipv4/tcp_fin_timeout)
mkdir -p "$tree/etc/sysctl.d" "$tree/run/systemd/system" "$tree/usr/lib/sysctl.d"
echo "net.ipv4.tcp_fin_timeout = 60" > "$tree/etc/sysctl.d/99-sysctl.conf"
echo "net.ipv4.tcp_fin_timeout = 45" > "$tree/usr/lib/sysctl.d/50-default.conf"
cp -p "$tree/etc/sysctl.d/99-sysctl.conf" "$tree/original-99"
ip netns exec "$namespace" sh -c 'echo 60 > /proc/sys/net/ipv4/tcp_fin_timeout'

in_namespace() { ip netns exec "$namespace" "$QHARDEN" "$@"; }
status=0
in_namespace audit --root "$tree" --rule sysctl.tcp-fin-timeout > /dev/null || status=$?
check "audit fails with warning exit 1" [ "$status" -eq 1 ]
plan=$(in_namespace plan --root "$tree" --rule sysctl.tcp-fin-timeout)
echo "$plan" | sed 's/^/      /'
check "plan names the later file it has to outrank" contains "$plan" "99-sysctl.conf"
in_namespace apply --root "$tree" --rule sysctl.tcp-fin-timeout | sed 's/^/      /'
check "runtime value in the namespace is 30" [ "$(ip netns exec "$namespace" cat /proc/sys/net/ipv4/tcp_fin_timeout)" = 30 ]
check "the machine's own value is untouched" [ "$(cat /proc/sys/net/ipv4/tcp_fin_timeout)" = "$host_value" ]
check "99-sysctl.conf, which qharden does not own, is untouched" cmp -s "$tree/etc/sysctl.d/99-sysctl.conf" "$tree/original-99"
status=0
in_namespace audit --root "$tree" --rule sysctl.tcp-fin-timeout > /dev/null || status=$?
check "audit passes after apply" [ "$status" -eq 0 ]
in_namespace rollback --last --root "$tree" > /dev/null
check "rollback restores the runtime value" [ "$(ip netns exec "$namespace" cat /proc/sys/net/ipv4/tcp_fin_timeout)" = 60 ]
check "rollback removes the drop-in" [ -z "$(ls "$tree/etc/sysctl.d" | grep -v '^99-sysctl.conf$')" ]
finish
