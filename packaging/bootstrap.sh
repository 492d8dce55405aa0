#!/usr/bin/env bash
# qharden from a fresh clone on Debian 12, as root:
#   packaging/bootstrap.sh audit [AUDIT OPTIONS]   install build packages, build, audit this host
#   packaging/bootstrap.sh test                    install build+test packages, build, run every test tier
#   packaging/bootstrap.sh bench                   install, build, run the benchmarks
#   packaging/bootstrap.sh build                   install build packages and build only
#   packaging/bootstrap.sh deb [bookworm|trixie]   build the .debs (both releases by default)
#                                                  into build-deb/<release>/, with lintian
#   packaging/bootstrap.sh release-check           what CI has no time for: both .debs with
#                                                  their tests, piuparts and the boot test on
#                                                  both releases, the RPM build, the root tier
#                                                  twice under load
#   packaging/bootstrap.sh test-under-load         the root tier twice beside stress-ng --cpu 2
# Only missing packages are installed. `audit` installs build packages only:
# it never puts test daemons (xinetd, unbound, ...) on a production host.
set -euo pipefail

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${QHARDEN_BUILD_DIR:-$source_dir/build}
jobs=$(nproc 2>/dev/null || echo 2)

build_packages=(
  build-essential cmake ninja-build pkg-config
  libsdbus-c++-dev libsdbus-c++-bin libspdlog-dev libfmt-dev libtomlplusplus-dev
  libc-ares-dev libsystemd-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev scdoc bash-completion
)
test_packages=(
  clang-16 libclang-rt-16-dev clang-format
  iproute2 iptables nftables util-linux procps attr acl e2fsprogs
  xinetd unbound ucspi-tcp dnsutils dbus time firewalld systemd python3
  mmdebstrap systemd-container
  dpkg-dev debootstrap piuparts apt-utils rpm rpmlint elfutils
  python3-yaml ansible-core python3-voluptuous yamllint openssh-client python3-dbus
)
package_packages=(mmdebstrap systemd-container dpkg-dev git)
release_packages=(stress-ng llvm-16)  # llvm-16: tests/fuzz/coverage.sh (llvm-profdata-16, llvm-cov-16)

log() { printf 'bootstrap: %s\n' "$*" >&2; }

install_missing() {
  local missing=()
  local package
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$package")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "missing packages: ${missing[*]}; run as root to install them"
    exit 3
  fi
  log "installing: ${missing[*]}"
  # Package scripts must not start daemons (xinetd, unbound) on this machine:
  # tests start their own copies inside network namespaces.
  local own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Removed however apt-get ends (a dropped ssh session too): left behind,
    # it would stop every later upgrade from restarting its services.
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    # 128 + the signal's number, as the shell itself would have exited.
    trap 'rm -f /usr/sbin/policy-rc.d; exit 129' HUP
    trap 'rm -f /usr/sbin/policy-rc.d; exit 130' INT
    trap 'rm -f /usr/sbin/policy-rc.d; exit 143' TERM
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local status=0
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } || status=$?
  if [ $own_policy -eq 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    trap - EXIT INT TERM HUP
  fi
  if [ $status -ne 0 ]; then
    log "apt-get failed ($status)"
    exit 3
  fi
}

# unpack_uninstalled PACKAGE FILE: PACKAGE's .deb unpacked into a cache
# folder of its name, never installed, unless FILE is already there. For
# packages that conflict with one the tests install: openbsd-inetd with
# xinetd, ucspi-tcp-ipv6 with ucspi-tcp.
unpack_uninstalled() {
  local package=$1 file=$2
  local target=/var/cache/qharden-tests/$package
  [ -x "$target/$file" ] && return 0
  local download
  download=$(mktemp -d)
  log "unpacking $package into $target"
  (cd "$download" && apt-get download -qq "$package" 2>/dev/null) || {
    apt-get update -qq && (cd "$download" && apt-get download -qq "$package")
  } || { log "could not download $package"; exit 3; }
  mkdir -p "$target"
  dpkg -x "$download"/"${package}"_*.deb "$target"
  rm -rf "$download"
}

unpack_uninstalled_test_packages() {
  unpack_uninstalled openbsd-inetd usr/sbin/inetd
  unpack_uninstalled ucspi-tcp-ipv6 usr/bin/tcpserver
}

configure_and_build() {
  local directory=$1
  shift
  cmake -S "$source_dir" -B "$directory" -G Ninja "$@" >/dev/null
  ninja -C "$directory" -j "$jobs"
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  build)
    install_missing "${build_packages[@]}"
    configure_and_build "$build_dir" -DQHARDEN_TESTS=ON -DQHARDEN_SANITIZE=OFF -DQHARDEN_FUZZ=OFF
    ;;
  audit)
    install_missing "${build_packages[@]}"
    configure_and_build "$build_dir" -DQHARDEN_TESTS=OFF -DQHARDEN_SANITIZE=OFF -DQHARDEN_FUZZ=OFF
    exec "$build_dir/agent/qharden" audit "$@"
    ;;
  test)
    install_missing "${build_packages[@]}" "${test_packages[@]}"
    unpack_uninstalled_test_packages
    "$source_dir/tests/lint/unpack-prometheus.sh" || exit 3
    exec "$source_dir/tests/run-all.sh"
    ;;
  deb)
    install_missing "${package_packages[@]}"
    releases=("$@")
    [ ${#releases[@]} -gt 0 ] || releases=(bookworm trixie)
    for release in "${releases[@]}"; do
      "$source_dir/packaging/build-deb.sh" "$release"
    done
    "$source_dir/packaging/check-lintian.sh" "${releases[@]/#/$source_dir/build-deb/}"
    ;;
  release-check)
    install_missing "${build_packages[@]}" "${test_packages[@]}" "${release_packages[@]}"
    unpack_uninstalled_test_packages
    "$source_dir/tests/lint/unpack-prometheus.sh" || exit 3
    exec "$source_dir/tests/release-check.sh"
    ;;
  test-under-load)
    install_missing "${build_packages[@]}" "${test_packages[@]}" "${release_packages[@]}"
    unpack_uninstalled_test_packages
    "$source_dir/tests/lint/unpack-prometheus.sh" || exit 3
    configure_and_build "$build_dir" -DQHARDEN_TESTS=ON -DQHARDEN_SANITIZE=OFF -DQHARDEN_FUZZ=OFF
    exec "$source_dir/tests/test-under-load.sh" "$build_dir"
    ;;
  bench)
    install_missing "${build_packages[@]}" "${test_packages[@]}"
    configure_and_build "$build_dir" -DQHARDEN_TESTS=ON -DQHARDEN_SANITIZE=OFF -DQHARDEN_FUZZ=OFF
    exec "$source_dir/tests/bench/run.sh" "$build_dir"
    ;;
  *)
    sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 3
    ;;
esac
