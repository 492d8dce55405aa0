#!/usr/bin/env bash
# Debian's two tcpservers, both /usr/bin/tcpserver: ucspi-tcp rejects -6 and
# ucspi-tcp-ipv6 takes it. tcpserver.flags must tell them apart by the binary
# a run script starts: with the IPv6 build a script using -6 is judged on -R
# and fixed so that the real binary still starts; with the plain build it is
# an error naming that build, because that tcpserver exits at once.
source "$(dirname "$0")/lib.sh"
require_root
plain=$(command -v tcpserver) || { echo "FAIL: tcpserver (ucspi-tcp) is not installed"; exit 1; }
ipv6=${QHARDEN_TCPSERVER_IPV6:-/var/cache/qharden-tests/ucspi-tcp-ipv6/usr/bin/tcpserver}
[ -x "$ipv6" ] || { echo "FAIL: $ipv6 missing (packaging/bootstrap.sh test unpacks ucspi-tcp-ipv6)"; exit 1; }

namespace=qh-tcpsrv-$$
make_namespace "$namespace"

# starts BINARY OPTIONS...: "runs" when it is still listening after a second,
# else its exit status (100: usage error).
starts() {
  local status=0
  ip netns exec "$namespace" timeout 1 "$@" 0 2525 true > /dev/null 2>&1 || status=$?
  [ "$status" -eq 124 ] && echo runs || echo "$status"
}
check "the plain build exits 100 at -6" equals "$(starts "$plain" -6 -R)" 100
check "the IPv6 build takes -6" equals "$(starts "$ipv6" -6 -R)" runs
check "the IPv6 build takes -I" equals "$(starts "$ipv6" -I lo -R)" runs

# make_host TREE BINARY: a run script using -6 without -R, and BINARY as the
# tree's /usr/bin/tcpserver.
make_host() {
  mkdir -p "$1/service/smtpd" "$1/usr/bin"
  printf '#!/bin/sh\nexec tcpserver -6 -v 0 2525 true\n' > "$1/service/smtpd/run"
  chmod 755 "$1/service/smtpd/run"
  cp "$2" "$1/usr/bin/tcpserver"
}
# verdict TREE: status, build and message of the script's finding.
verdict() {
  "$QHARDEN" audit --root "$1" --rule tcpserver.flags --json > "$1/audit.json" || true
  python3 -c 'import json,sys
finding = json.load(open(sys.argv[1]))["findings"][0]
print(finding["status"], finding["evidence"]["tcpserver_build"], "|", finding["message"])' \
    "$1/audit.json"
}

plain_tree=$(make_tree)
make_host "$plain_tree" "$plain"
plain_verdict=$(verdict "$plain_tree")
check "plain build: -6 is an error naming the build ($plain_verdict)" \
  contains "$plain_verdict" "error ucspi-tcp | tcpserver would reject its options (unknown option -6, which only ucspi-tcp-ipv6's tcpserver takes, and /usr/bin/tcpserver is the plain ucspi-tcp build)"

ipv6_tree=$(make_tree)
make_host "$ipv6_tree" "$ipv6"
ipv6_verdict=$(verdict "$ipv6_tree")
check "IPv6 build: the script is judged on -R ($ipv6_verdict)" \
  contains "$ipv6_verdict" "fail ucspi-tcp-ipv6 | tcpserver runs without -R"
"$QHARDEN" apply --root "$ipv6_tree" --rule tcpserver.flags > /dev/null
check "apply adds only -R" \
  equals "$(sed -n 2p "$ipv6_tree/service/smtpd/run")" "exec tcpserver -R -6 -v 0 2525 true"
check "and passes afterwards" contains "$(verdict "$ipv6_tree")" "pass ucspi-tcp-ipv6 |"
status=0
ip netns exec "$namespace" env PATH="$ipv6_tree/usr/bin:$PATH" timeout 1 sh "$ipv6_tree/service/smtpd/run" \
  > /dev/null 2>&1 || status=$?
check "the fixed script still starts the real IPv6 tcpserver (status $status, 124: still running)" \
  equals "$status" 124
finish
