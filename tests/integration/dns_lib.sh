# Real DNS servers for the root tier and the DNSBL benchmark: unbound from
# Debian in a network namespace, configured per test from these pieces.
# Sourced after lib.sh. Unbound never recurses to the internet: "." is
# forwarded to a local address that drops everything, and the namespace has no
# route out anyway.
#
#   dns_workdir                         once per script: DNS_WORKDIR
#   dns_server_new NAME                 starts a config; NAME names its folder
#   dns_healthy_zone NAME ZONE          A 127.0.0.1 at the apex and www
#   dns_dnsbl_zone NAME ZONE            RFC 5782: 2.0.0.127 TXT+A, 1.0.0.127 NXDOMAIN
#   dns_everything_zone NAME ZONE       every name under ZONE is listed
#   dns_no_test_points_zone NAME ZONE   the zone exists, 2.0.0.127 is NXDOMAIN
#   dns_address_only_zone NAME ZONE     RFC 5782 test points by A only, no TXT anywhere
#   dns_listing NAME ZONE ADDRESS A     ADDRESS (IPv4) listed in ZONE with answer A
#   dns_blocked_zone NAME ZONE [A]      Spamhaus error code (127.255.255.254) for every name
#   dns_silent_zone NAME ZONE           the resolver drops every query for ZONE
#   dns_refuse_all NAME                 REFUSED to every client
#   dns_servfail_all NAME               SERVFAIL for everything, at once
#   dns_server_start NAMESPACE NAME ADDRESS [PORT]
#   dns_silent_address NAMESPACE ADDRESS  a DROP rule: queries to it are never answered
#   dns_link_local NAMESPACE IFACE ADDRESS  a veth pair with a link-local address (no DAD)

DNS_DROP_ADDRESS=127.0.0.254

dns_workdir() {
  require_program unbound
  require_program dig
  require_program iptables
  DNS_WORKDIR=$(mktemp -d /tmp/qharden-dns.XXXXXX)
  defer "rm -rf '$DNS_WORKDIR'"
}

dns_server_new() {
  mkdir -p "$DNS_WORKDIR/$1"
  : > "$DNS_WORKDIR/$1/server.conf"
  : > "$DNS_WORKDIR/$1/zones.conf"
  # unbound's built-in RFC 6761 zones would answer test. names itself.
  echo '  local-zone: "test." nodefault' >> "$DNS_WORKDIR/$1/server.conf"
  echo '  do-not-query-localhost: no' > "$DNS_WORKDIR/$1/localhost.conf"
}

dns_add() { printf '  %s\n' "${@:2}" >> "$DNS_WORKDIR/$1/server.conf"; }

dns_healthy_zone() {
  dns_add "$1" "local-zone: \"$2.\" static" \
    "local-data: \"$2. A 127.0.0.1\"" "local-data: \"www.$2. A 127.0.0.1\""
}

dns_dnsbl_zone() {
  dns_add "$1" "local-zone: \"$2.\" static" \
    "local-data: '2.0.0.127.$2. TXT \"127.0.0.2 is listed in $2 (test point)\"'" \
    "local-data: \"2.0.0.127.$2. A 127.0.0.2\""
}

dns_everything_zone() {
  dns_add "$1" "local-zone: \"$2.\" redirect" \
    "local-data: '$2. TXT \"listed: $2 lists every address\"'" "local-data: \"$2. A 127.0.0.2\""
}

dns_address_only_zone() {
  dns_add "$1" "local-zone: \"$2.\" static" "local-data: \"2.0.0.127.$2. A 127.0.0.2\""
}

dns_listing() {
  local reversed
  reversed=$(echo "$3" | awk -F. '{print $4"."$3"."$2"."$1}')
  dns_add "$1" "local-data: \"$reversed.$2. A $4\""
}

dns_no_test_points_zone() {
  dns_add "$1" "local-zone: \"$2.\" static" "local-data: \"$2. A 127.0.0.1\""
}

dns_blocked_zone() {
  dns_add "$1" "local-zone: \"$2.\" redirect" "local-data: \"$2. A ${3:-127.255.255.254}\"" \
    "local-data: '$2. TXT \"Error: open resolver; see https://www.spamhaus.org/returnc/pub/\"'"
}

# "deny" drops every query in the zone: a resolver that never answers for it,
# the same on every query (a dead forwarder would soon be marked down by
# unbound's infra cache and answered with a quick SERVFAIL instead).
dns_silent_zone() { dns_add "$1" "local-zone: \"$2.\" deny"; }

dns_refuse_all() { dns_add "$1" "access-control: 127.0.0.0/8 refuse" "access-control: ::1 refuse"; }

# With do-not-query-localhost unbound never sends to the (local) forwarder,
# and without its built-in localhost zones every name ends in SERVFAIL.
dns_servfail_all() {
  echo '  do-not-query-localhost: yes' > "$DNS_WORKDIR/$1/localhost.conf"
  dns_add "$1" 'local-zone: "localhost." nodefault' 'local-zone: "127.in-addr.arpa." nodefault'
}

dns_write_config() {
  local address=$2 port=$3 folder=$DNS_WORKDIR/$1
  {
    echo "server:"
    echo "  interface: $address"
    echo "  port: $port"
    echo "  do-daemonize: no"
    echo '  chroot: ""'
    echo '  username: ""'
    echo "  directory: \"$folder\""
    echo "  pidfile: \"$folder/unbound.pid\""
    echo "  use-syslog: no"
    echo "  logfile: \"$folder/unbound.log\""
    echo "  verbosity: 1"
    echo "  log-queries: yes"
    echo "  num-threads: 1"
    echo '  module-config: "iterator"'
    echo "  do-ip6: $([[ $address == *:* ]] && echo yes || echo no)"
    echo "  access-control: 127.0.0.0/8 allow"
    echo "  access-control: ::1 allow"
    echo "  access-control: fe80::/10 allow"
    cat "$folder/localhost.conf" "$folder/server.conf"
    cat "$folder/zones.conf"
    printf 'forward-zone:\n  name: "."\n  forward-addr: %s\n' "$DNS_DROP_ADDRESS"
    printf 'remote-control:\n  control-enable: no\n'
  } > "$folder/unbound.conf"
}

dns_server_start() {
  local namespace=$1 name=$2 address=$3 port=${4:-53} attempt pid
  local folder=$DNS_WORKDIR/$name
  dns_write_config "$name" "$address" "$port"
  unbound-checkconf "$folder/unbound.conf" > /dev/null 2>&1 ||
    { echo "FAIL: bad unbound config $folder/unbound.conf"; exit 1; }
  dns_silent_address "$namespace" "$DNS_DROP_ADDRESS"
  ip netns exec "$namespace" unbound -d -c "$folder/unbound.conf" > "$folder/stdout" 2>&1 &
  pid=$!
  kill_later "$pid"
  for attempt in $(seq 1 50); do
    # Any answer, REFUSED and SERVFAIL included, means it is serving.
    if ip netns exec "$namespace" dig +time=1 +tries=1 -p "$port" "@$address" localhost. > /dev/null 2>&1; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: unbound $name did not start on $address:$port"
  cat "$folder/stdout" "$folder/unbound.log" 2>/dev/null
  exit 1
}

dns_silent_address() {
  local namespace=$1 address=$2
  ip netns exec "$namespace" iptables -C INPUT -d "$address" -j DROP 2>/dev/null ||
    ip netns exec "$namespace" iptables -A INPUT -d "$address" -j DROP
}

dns_link_local() {
  local namespace=$1 interface=$2 address=$3
  ip netns exec "$namespace" ip link add "$interface" type veth peer name "${interface}p"
  ip netns exec "$namespace" ip link set "$interface" up
  ip netns exec "$namespace" ip link set "${interface}p" up
  ip netns exec "$namespace" ip -6 addr add "$address/64" dev "$interface" nodad
}
