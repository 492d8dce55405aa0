#!/usr/bin/env bash
# Which xinetd services are live, by the real daemon, and qharden must judge
# exactly those (a skipped service that xinetd serves is a check silently
# lost; a judged one it does not serve is a false alarm):
#
#   service    line                  defaults: no list   enabled = (list)
#   plain      -                     served              served
#   flagged    flags = DISABLE       off (parse error)   served
#   badlog     log_type = SYSLOG     off (parse error)   served
#   disabled   disable = yes         off                 off
#   unknown    flags = REUSE FOO     off (parse error)   served
#   badlimit   instances = abc       off (parse error)   served
#   lowercase  instances = unlimited served              served
#   listedport `service smtp` on 2710 off (check_entry)   off
#   nowait     no wait line          off (check_entry)   off
#   traffic    log_on_success += TRAFFIC off (check_entry) off
#   baduser    user = (no such user) off (parse error)   off (no user: check_entry)
#
# and two services not in the list, off under it: unlisted, and reenabled
# (`instances = -5` then `disable = no`, which turns the parse error back off). Each service runs
# tcp-env without -R, so a judged one fails and a skipped one says why.
source "$(dirname "$0")/lib.sh"
require_root
require_program xinetd

tree=$(make_tree)
namespace=qh-enable-$$
make_namespace "$namespace"
stand_in=$tree/var/qmail/bin/tcp-env
write_tcp_env_stand_in "$stand_in"
mkdir -p "$tree/etc/xinetd.d" "$tree/run"

# write_service NAME PORT EXTRA_LINE
write_service() {
  printf 'service %s\n{\n\tsocket_type = stream\n\tprotocol = tcp\n\twait = no\n\tuser = root\n\ttype = UNLISTED\n\tport = %s\n\tserver = %s\n\tserver_args = /var/qmail/bin/qmail-smtpd\n%s\n}\n' \
    "$1" "$2" "$stand_in" "$3" > "$tree/etc/xinetd.d/$1"
}
write_service plain 2701 ""
write_service flagged 2702 "	flags = DISABLE"
write_service badlog 2703 "	log_type = SYSLOG"
write_service disabled 2704 "	disable = yes"
write_service unknown 2705 "	flags = REUSE FOO"
write_service unlisted 2706 ""
write_service badlimit 2707 "	instances = abc"
write_service reenabled 2708 "	instances = -5
	disable = no"
write_service lowercase 2709 "	instances = unlimited"
# Dropped once every file is read (check_entry): a listed name on another
# port, and a service without wait.
write_service listedport 2710 ""
sed -i -e 's/^service listedport/service smtp/' -e '/type = UNLISTED/d' "$tree/etc/xinetd.d/listedport"
write_service nowait 2711 ""
sed -i '/wait = no/d' "$tree/etc/xinetd.d/nowait"
write_service traffic 2712 "	log_on_success += TRAFFIC"
write_service baduser 2713 ""
sed -i 's/user = root/user = qharden-no-such-user/' "$tree/etc/xinetd.d/baduser"
# qharden reads the name databases from the tree, as xinetd reads the host's.
cp /etc/services /etc/protocols /etc/passwd "$tree/etc/"
[ -e /etc/nsswitch.conf ] && cp /etc/nsswitch.conf "$tree/etc/"
names=(plain flagged badlog disabled unknown unlisted badlimit reenabled lowercase listedport nowait traffic baduser)

xinetd_pid=
# start_xinetd DEFAULTS_LINES: the tree's xinetd.conf for qharden, and a copy
# naming the same service files by their real path for the daemon.
start_xinetd() {
  printf 'defaults\n{\n%s}\nincludedir /etc/xinetd.d\n' "$1" > "$tree/etc/xinetd.conf"
  printf 'defaults\n{\n%s}\nincludedir %s/etc/xinetd.d\n' "$1" "$tree" > "$tree/xinetd-daemon.conf"
  if [ -n "$xinetd_pid" ]; then kill "$xinetd_pid"; wait "$xinetd_pid" 2>/dev/null || true; fi
  ip netns exec "$namespace" xinetd -f "$tree/xinetd-daemon.conf" -pidfile "$tree/run/xinetd.pid" \
    -filelog "$tree/xinetd.log" -dontfork &
  xinetd_pid=$!
  kill_later $xinetd_pid
  wait_for_port "$namespace" 2701
}

# served_and_judged: for each service, "name:served/off:status" where status
# is qharden's (fail when judged, skip when it holds the service off).
served_and_judged() {
  local port=2700 name served status
  "$QHARDEN" audit --root "$tree" --rule tcp-env.flags --json > "$tree/audit.json" || true
  for name in "${names[@]}"; do
    port=$((port + 1))
    served=off
    ip netns exec "$namespace" ss -Hltn "sport = :$port" | grep -q . && served=served
    status=$(python3 -c 'import json,sys
print(next((f["status"] for f in json.load(open(sys.argv[1]))["findings"]
            if f["subject"].rsplit(":", 1)[0].endswith("/" + sys.argv[2])), "missing"))' "$tree/audit.json" "$name")
    printf '%s:%s:%s ' "$name" "$served" "$status"
  done
}

start_xinetd ""
check "no enabled list: xinetd serves plain only, and qharden judges exactly that one" \
  equals "$(served_and_judged)" \
  "plain:served:fail flagged:off:skip badlog:off:skip disabled:off:skip unknown:off:skip unlisted:served:fail badlimit:off:skip reenabled:served:fail lowercase:served:fail listedport:off:skip nowait:off:skip traffic:off:skip baduser:off:skip "
check "the skip names the parse error" \
  contains "$(cat "$tree/audit.json")" "service is disabled (flags = REUSE FOO: xinetd knows no flag FOO)"
check "the skip names the rejected limit and its line" \
  contains "$(cat "$tree/audit.json")" "service is disabled (\`instances = abc\` is neither a number from 0 up nor UNLIMITED (line 11))"
check "the skip quotes xinetd's own message for a listed name on another port" \
  contains "$(cat "$tree/audit.json")" 'xinetd drops it at start (\"Service smtp expects port 25, not 2710\")'
check "xinetd logged the same message" contains "$(cat "$tree/xinetd.log")" "Service smtp expects port 25, not 2710"
check "and for the service without wait" contains "$(cat "$tree/xinetd.log")" "Service nowait missing attribute wait"

start_xinetd "	enabled = plain flagged badlog disabled unknown badlimit lowercase smtp nowait traffic baduser
"
check "enabled list: it turns parse errors back on, never disable = yes, and qharden agrees" \
  equals "$(served_and_judged)" \
  "plain:served:fail flagged:served:fail badlog:served:fail disabled:off:skip unknown:served:fail unlisted:off:skip badlimit:served:fail reenabled:off:skip lowercase:served:fail listedport:off:skip nowait:off:skip traffic:off:skip baduser:off:skip "
check "an unknown user, turned back on, has no user at all" \
  contains "$(cat "$tree/audit.json")" 'Service baduser missing attribute user - DISABLING'
finish
