#!/usr/bin/env bash
# What .ci/run has no time for, run before an issue is resolved. Through
# packaging/bootstrap.sh release-check, which installs what is missing.
#   1. both .debs with their unit and CLI tiers, and both releases' lintian
#   2. piuparts on bookworm and trixie (install, purge, upgrade from 0.1.9)
#   3. the boot test on a trixie rootfs with the trixie .deb (bookworm's runs
#      in CI), including the package's autopkgtests
#   4. the RPM spec built with rpmbuild against this machine's libraries
#   5. the root tier twice beside stress-ng --cpu 2, the agent soak for 300 s
#      in each (CI runs it for 150 s)
#   6. the live DNS probe tests on trixie (c-ares 1.34), tests/dns-probe-trixie.sh
# Prints each part's duration and a summary to paste into a closing note.
set -euo pipefail

main() {
  local source_dir
  source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  local names=() seconds=() results=()
  part() {
    local name=$1
    shift
    local started status=0
    started=$(date +%s)
    printf '\n=== %s ===\n' "$name"
    "$@" || status=$?
    names+=("$name")
    seconds+=($(($(date +%s) - started)))
    results+=("$([ $status -eq 0 ] && echo passed || echo "FAILED ($status)")")
  }
  part "bookworm .deb with tests" "$source_dir/packaging/build-deb.sh" bookworm
  part "trixie .deb with tests" "$source_dir/packaging/build-deb.sh" trixie
  part "lintian, both releases" "$source_dir/packaging/check-lintian.sh" \
    "$source_dir/build-deb/bookworm" "$source_dir/build-deb/trixie"
  part "piuparts bookworm" "$source_dir/packaging/piuparts.sh" bookworm
  part "piuparts trixie" "$source_dir/packaging/piuparts.sh" trixie
  cmake -S "$source_dir" -B "$source_dir/build" -G Ninja -DQHARDEN_TESTS=ON \
    -DQHARDEN_SANITIZE=OFF -DQHARDEN_FUZZ=OFF > /dev/null
  ninja -C "$source_dir/build"
  local deb
  for release in bookworm trixie; do
    # No .deb (its part failed): an empty name, and that part fails by itself.
    deb=$(ls "$source_dir"/build-deb/$release/qharden_*.deb 2> /dev/null | head -1 || true)
    part "boot test, $release rootfs, .deb installed with apt" \
      env QHARDEN_DEB="$deb" QHARDEN_BOOT_SUITE=$release \
      ctest --test-dir "$source_dir/build" -R integration.boot_nspawn_test --output-on-failure
  done
  part "live DNS probe tests on trixie (c-ares 1.34)" "$source_dir/tests/dns-probe-trixie.sh"
  part "RPM spec: rpmbuild -bb against this machine's libraries" \
    "$source_dir/packaging/rpm/check.sh" --build
  deb=$(ls "$source_dir"/build-deb/bookworm/qharden_*.deb 2> /dev/null | head -1 || true)
  part "root tier twice under stress-ng --cpu 2" env QHARDEN_DEB="$deb" \
    "$source_dir/tests/test-under-load.sh" "$source_dir/build"

  echo
  echo "=== release-check summary ==="
  local index failed=0
  for index in "${!names[@]}"; do
    printf '%6d s  %-8s %s\n' "${seconds[$index]}" "${results[$index]%% *}" "${names[$index]}"
    [ "${results[$index]}" = passed ] || failed=1
  done
  for release in bookworm trixie; do
    [ -f "$source_dir/build-deb/$release/lintian.log" ] &&
      echo "lintian $release: $(cut -c1-2 "$source_dir/build-deb/$release/lintian.log" | grep -E '^[EWIPXO]:' | sort | uniq -c | tr -s ' \n' ' ')"
    ls -l "$source_dir"/build-deb/$release/*.deb 2> /dev/null | awk '{ print "package " $NF ": " $5 " bytes" }'
    [ -f "$source_dir/build-deb/$release/qharden_"*.deb ] &&
      dpkg-deb -f "$source_dir"/build-deb/$release/qharden_*.deb Installed-Size | sed "s/^/installed size $release (KiB): /"
  done
  return $failed
}

main "$@"
