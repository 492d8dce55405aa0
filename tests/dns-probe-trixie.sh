#!/usr/bin/env bash
# The unit tier's live DNS probe tests (dns_probe_test.sh: real unbound
# servers that answer, refuse, SERVFAIL, stay silent or are unreachable) on
# Debian 13, whose c-ares 1.34 caches answers and probes failed servers unless
# told not to (rules/host/cares_compat.h). The package build runs the unit tier
# without those servers, so the live cases skip there; this runs them.
#   tests/dns-probe-trixie.sh          (as root; part of release-check)
# It unpacks the cached trixie build root of packaging/build-deb.sh, adds
# unbound, dig, iptables and iproute2 to it, builds qharden and its unit tests
# from `git archive HEAD` there, and runs tests/integration/dns_probe_test.sh
# inside the container (its own network: the servers live on its loopback).
set -euo pipefail

main() {
  local source_dir cache_dir
  source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cache_dir=${QHARDEN_TEST_CACHE:-/var/cache/qharden-tests}
  log() { printf 'dns-probe-trixie: %s\n' "$*" >&2; }
  [ "$(id -u)" -eq 0 ] || { log "needs root (systemd-nspawn)"; return 1; }

  # The same key as build-deb.sh: the build root for today's Build-Depends.
  local control_hash tarball
  control_hash=$(sed -n '/^Build-Depends:/,/^[^ ]/{/^Build-Depends:/p;/^ /p}' \
    "$source_dir/packaging/debian/control" | sha256sum | cut -c1-16)
  tarball=$cache_dir/buildroot-trixie-$control_hash.tar
  if [ ! -s "$tarball" ]; then
    log "no trixie build root yet; making it with packaging/build-deb.sh trixie"
    "$source_dir/packaging/build-deb.sh" trixie --nocheck --output "$(mktemp -d)" > /dev/null
  fi

  local work
  work=$(mktemp -d /var/tmp/qharden-dns-trixie.XXXXXX)
  trap "rm -rf '$work'" EXIT
  local root=$work/root
  mkdir -p "$root"
  tar -C "$root" -xf "$tarball"
  local nspawn=(systemd-nspawn --quiet --register=no --directory="$root"
    --machine="qharden-dns-trixie-$$" --setenv=LC_ALL=C.UTF-8)
  [ -d /run/systemd/system ] || nspawn+=(--keep-unit)

  log "adding the test servers to the trixie root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  local proxy
  proxy=$(apt-config dump --format '%v' Acquire::http::Proxy 2> /dev/null || true)
  [ -n "$proxy" ] && printf 'Acquire::http::Proxy "%s";\n' "$proxy" > "$root/etc/apt/apt.conf.d/90proxy"
  # The root's package policy would start unbound at install: forbid it.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  "${nspawn[@]}" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends unbound bind9-dnsutils iptables iproute2 procps > /dev/null' ||
    { log "could not install unbound, dig, iptables and iproute2 in the trixie root"; return 1; }

  mkdir -p "$root/src"
  git -C "$source_dir" archive --format=tar HEAD | tar -C "$root/src" -xf -
  log "building qharden and the unit tests with trixie's compiler and libraries"
  local started
  started=$(date +%s)
  # --private-network keeps CAP_NET_ADMIN (iptables, ip netns) and keeps the
  # test's servers off this machine's network.
  "${nspawn[@]}" --private-network sh -c '
    cmake -S /src -B /build -G Ninja -DQHARDEN_TESTS=ON -DQHARDEN_MANPAGES=OFF \
      -DQHARDEN_WERROR=ON > /build.log 2>&1 &&
    ninja -C /build qharden qharden_unit_tests >> /build.log 2>&1' ||
    { tail -40 "$root/build.log"; log "the trixie build failed"; return 1; }
  log "built in $(($(date +%s) - started)) s; c-ares $("${nspawn[@]}" dpkg-query -W -f='${Version}' libc-ares2 2> /dev/null || "${nspawn[@]}" dpkg-query -W -f='${Version}' 'libcares2' 2> /dev/null || echo '?')"
  "${nspawn[@]}" --private-network env QHARDEN=/build/agent/qharden QHARDEN_SOURCE_DIR=/src \
    QHARDEN_UNIT_TESTS=/build/tests/qharden_unit_tests bash /src/tests/integration/dns_probe_test.sh
}

main "$@"
