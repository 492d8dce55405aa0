#!/usr/bin/env bash
# The c-ares prober against real unbound servers in a network namespace: a
# healthy resolver with DNSBL test zones, one that refuses, one that answers
# SERVFAIL, a silent address (DROP), an unreachable one and a high port. The
# assertions live in tests/unit/dns_probe_live_test.cpp, which skips itself
# outside this script.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/dns_lib.sh"
require_root
unit_tests=${QHARDEN_UNIT_TESTS:-$(dirname "$QHARDEN")/../tests/qharden_unit_tests}
[ -x "$unit_tests" ] || { echo "FAIL: no unit test binary at $unit_tests"; exit 1; }
namespace=qh-dns-$$
make_namespace "$namespace"
dns_workdir

for name in healthy high ipv6; do
  dns_server_new $name
  dns_dnsbl_zone $name ok.test
  dns_everything_zone $name all.test
  dns_no_test_points_zone $name empty.test
  dns_blocked_zone $name blocked.test
  dns_silent_zone $name silent.test
done
dns_server_start "$namespace" healthy 127.0.0.10
dns_server_start "$namespace" high 127.0.0.15 5300
dns_server_start "$namespace" ipv6 ::1 5301
dns_server_new refusing
dns_refuse_all refusing
dns_server_start "$namespace" refusing 127.0.0.11
dns_server_new servfail
dns_servfail_all servfail
dns_server_start "$namespace" servfail 127.0.0.12
dns_silent_address "$namespace" 127.0.0.13

status=0
ip netns exec "$namespace" env QHARDEN_DNS_LIVE=1 "$unit_tests" --gtest_filter='DnsProbeLive.*' || status=$?
check "the live prober tests pass against real unbound servers" [ "$status" -eq 0 ]
skipped=$("$unit_tests" --gtest_filter='DnsProbeLive.*' 2>&1 | grep -c SKIPPED || true)
check "outside the namespace they skip instead of failing" [ "$skipped" -ge 1 ]
finish
