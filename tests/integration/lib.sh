# Shared helpers for the root tier. Each test runs real daemons in a network
# namespace of its own and a temporary --root tree; nothing on the machine's
# own /etc is touched. Sourced by the *_test.sh scripts.
set -euo pipefail

QHARDEN=${QHARDEN:?set QHARDEN to the qharden binary}
SKIP=77
failures=0
cleanup_actions=()

require_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (network namespaces, real daemons)"
    exit $SKIP
  fi
}

require_program() {
  command -v "$1" >/dev/null 2>&1 || { echo "FAIL: $1 is not installed (packaging/bootstrap.sh test installs it)"; exit 1; }
}

on_exit() {
  local index
  for ((index = ${#cleanup_actions[@]} - 1; index >= 0; index--)); do
    eval "${cleanup_actions[$index]}" >/dev/null 2>&1 || true
  done
}
trap on_exit EXIT
defer() { cleanup_actions+=("$*"); }

# Trees live under one folder per test run, removed on exit: make_tree runs
# in $(...), where a cleanup it registered itself would be lost.
test_scratch=$(mktemp -d /tmp/qharden-it.XXXXXX)
# Tests that run clients as nobody need to reach sockets inside their trees.
chmod 755 "$test_scratch"
defer "rm -rf '$test_scratch'"
make_tree() {
  mktemp -d "$test_scratch/tree.XXXXXX"
}

# make_namespace NAME: a fresh network namespace with loopback up.
make_namespace() {
  local name=$1
  ip netns del "$name" 2>/dev/null || true
  ip netns add "$name"
  defer "ip netns del '$name'"
  ip netns exec "$name" ip link set lo up
}

# kill_later PID
kill_later() { defer "kill $1; wait $1 2>/dev/null"; }

# first_line NS PORT: the first line a TCP server on 127.0.0.1:PORT sends.
first_line() {
  ip netns exec "$1" timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$2; head -1 <&3" 2>/dev/null | tr -d '\r'
}

# wait_for_port NS PORT
wait_for_port() {
  local attempt
  for attempt in $(seq 1 50); do
    ip netns exec "$1" bash -c "exec 3<>/dev/tcp/127.0.0.1/$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: nothing listens on port $2 in $1"
  exit 1
}

check() {
  local description=$1
  shift
  if "$@"; then
    echo "ok    $description"
  else
    echo "FAIL  $description"
    failures=$((failures + 1))
  fi
}

# equals ACTUAL EXPECTED: like [ = ] but a failure shows both, so a flake in CI
# can be diagnosed from the log alone.
equals() {
  [ "$1" = "$2" ] && return 0
  echo "      got:      $1" >&2
  echo "      expected: $2" >&2
  return 1
}
contains() { [[ "$1" == *"$2"* ]]; }
lacks() { [[ "$1" != *"$2"* ]]; }

finish() {
  if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}

# A stand-in for qmail's tcp-env (qmail is not packaged in Debian): it prints
# the argv xinetd or inetd gave it, so a banner shows which options are live.
write_tcp_env_stand_in() {
  mkdir -p "$(dirname "$1")"
  cat > "$1" <<'STANDIN'
#!/bin/sh
echo "220 stand-in tcp-env argv: $*"
STANDIN
  chmod 755 "$1"
}

# write_xinetd_tree TREE: the tcp-env stand-in at TREE/var/qmail/bin/tcp-env
# and two xinetd.conf files that include TREE/etc/xinetd.d: qharden reads
# TREE/etc/xinetd.conf, whose paths are inside the tree, and the xinetd
# started in the namespace reads TREE/xinetd-daemon.conf, which names the same
# service files by their real path.
write_xinetd_tree() {
  write_tcp_env_stand_in "$1/var/qmail/bin/tcp-env"
  mkdir -p "$1/etc/xinetd.d" "$1/run"
  printf 'defaults\n{\n\tinstances = 10\n}\nincludedir /etc/xinetd.d\n' > "$1/etc/xinetd.conf"
  printf 'defaults\n{\n\tinstances = 10\n}\nincludedir %s/etc/xinetd.d\n' "$1" > "$1/xinetd-daemon.conf"
}

# A private bus like the system bus: method calls denied unless a policy
# (the shipped one, passed as the fourth argument) allows them.
# write_bus_config FILE SOCKET TYPE POLICY_INCLUDE
write_bus_config() {
  cat > "$1" <<CONFIG
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>$3</type>
  <listen>unix:path=$2</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  $4
</busconfig>
CONFIG
}
