#!/usr/bin/env bash
# Every test tier of .ci/run, in order, each timed. Run through
# packaging/bootstrap.sh test, which installs what is missing first.
#   1. build (RelWithDebInfo)
#   2. the bookworm .deb from the `git archive` tarball in a clean build root,
#      and bookworm's lintian
#   3. every ctest tier in the normal build; the boot test installs tier 2's
#      .deb with apt and runs its autopkgtests. Beside it, in the background
#      (the root tier mostly waits on timeouts, and must hold on a loaded
#      machine anyway): the trixie .deb and trixie's lintian, then piuparts
#      on bookworm (install, purge, upgrade from 0.1.9). The package builds
#      skip their unit and CLI tiers here (tier 3 runs them on bookworm;
#      release-check runs trixie's inside its package build)
#   4. unit, CLI and core root tiers under ASan+UBSan (not the end-to-end
#      tests labelled e2e, which tier 3 ran, nor the lint checks)
#   5. every fuzz target for a bounded time (clang-16)
# What does not fit the CI budget is in packaging/bootstrap.sh release-check.
set -euo pipefail
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2> /dev/null || echo 2)
fuzz_seconds=${QHARDEN_FUZZ_SECONDS:-20}

tier_names=()
tier_seconds=()
tier_started=0
current_tier=
step() {
  end_tier
  current_tier=$*
  tier_started=$(date +%s)
  printf '\n=== %s ===\n' "$*"
}
end_tier() {
  [ -n "$current_tier" ] || return 0
  tier_names+=("$current_tier")
  tier_seconds+=($(($(date +%s) - tier_started)))
  current_tier=
}
print_durations() {
  end_tier
  local total=0 index
  echo
  echo "=== tier durations ==="
  for index in "${!tier_names[@]}"; do
    printf '%6d s  %s\n' "${tier_seconds[$index]}" "${tier_names[$index]}"
    total=$((total + tier_seconds[index]))
  done
  printf '%6d s  total (%d min)\n' "$total" $((total / 60))
}
trap print_durations EXIT

build() {
  local directory=$1
  shift
  cmake -S "$source_dir" -B "$directory" -G Ninja "$@" > /dev/null
  ninja -C "$directory" -j "$jobs"
}

passed_total=0
# Runs ctest, keeps its output, and adds its passed count to the total.
run_ctest() {
  local log
  log=$(mktemp)
  local status=0
  ctest "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
  local counts
  counts=$(grep -Eo '[0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  rm -f "$log"
  if [ "$status" -ne 0 ] || [ -z "$counts" ]; then
    echo "ctest failed (exit $status)"
    exit 1
  fi
  local failed=${counts%% *}
  local total=${counts##* }
  passed_total=$((passed_total + total - failed))
}

step "build (RelWithDebInfo)"
# Every setting the suite needs is given, whatever an earlier configure of
# this folder left (packaging/bootstrap.sh audit builds it without tests).
build "$source_dir/build" -DQHARDEN_TESTS=ON -DQHARDEN_SANITIZE=OFF -DQHARDEN_FUZZ=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo

step "packages: bookworm .deb and lintian"
"$source_dir/packaging/build-deb.sh" bookworm --nocheck

step "tests (the boot test installs the bookworm .deb); beside them: trixie .deb, piuparts"
background_log=$source_dir/build-deb/background.log
# In a process group of its own (setsid), so that a failing tier, which ends
# the run, takes the background builds with it.
setsid bash -c '
  set -e
  started=$(date +%s)
  "$1/packaging/build-deb.sh" trixie --nocheck
  echo "trixie .deb and lintian: $(($(date +%s) - started)) s"
  started=$(date +%s)
  "$1/packaging/piuparts.sh" bookworm
  echo "piuparts bookworm: $(($(date +%s) - started)) s"
' background "$source_dir" > "$background_log" 2>&1 &
background_pid=$!
trap 'kill -- -$background_pid 2>/dev/null || true; print_durations' EXIT
deb=$(ls "$source_dir"/build-deb/bookworm/qharden_*.deb)
# The agent soak runs 150 s here (baseline minute, SIGHUPs with a bad config,
# a Reloaded storm); release-check's root tier runs it for 300 s, twice,
# and tests/bench/bench_soak.sh for an hour.
export QHARDEN_SOAK_SECONDS=${QHARDEN_SOAK_SECONDS:-150}
QHARDEN_DEB=$deb QHARDEN_BOOT_SUITE=bookworm \
  run_ctest --test-dir "$source_dir/build" --output-on-failure -j "$jobs"
step "packages: waiting for the trixie .deb and piuparts"
background_status=0
wait "$background_pid" || background_status=$?
cat "$background_log"
[ "$background_status" -eq 0 ] || { echo "trixie .deb or piuparts failed (exit $background_status)"; exit 1; }
"$source_dir/packaging/check-lintian.sh" "$source_dir/build-deb/bookworm" "$source_dir/build-deb/trixie"

step "build (ASan+UBSan)"
build "$source_dir/build-sanitize" -DQHARDEN_TESTS=ON -DQHARDEN_SANITIZE=ON -DQHARDEN_FUZZ=OFF \
  -DCMAKE_BUILD_TYPE=Debug
step "tests under ASan+UBSan: unit, CLI, core root (not e2e, not lint)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest --test-dir "$source_dir/build-sanitize" --output-on-failure -j "$jobs" -LE 'e2e|lint'

step "fuzz targets, ${fuzz_seconds} s each (clang-16)"
CXX=clang++-16 build "$source_dir/build-fuzz" -DQHARDEN_FUZZ=ON -DQHARDEN_TESTS=OFF
"$source_dir/tests/fuzz/run-bounded.sh" "$source_dir/build-fuzz" "$fuzz_seconds"

end_tier
echo
echo "=== all tiers passed ==="
# The plain closing line CI reads: every ctest case of both builds.
echo "tests: $passed_total passed, 0 failed"
