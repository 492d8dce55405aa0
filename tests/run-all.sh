#!/usr/bin/env bash
# Every test tier, in order. Run through packaging/bootstrap.sh test, which
# installs what is missing first.
#   1. unit + CLI tiers (no root) and the root tier, in a normal build
#   2. the same suite under ASan+UBSan
#   3. every fuzz target for a bounded time (clang-16)
set -euo pipefail
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${QHARDEN_FUZZ_SECONDS:-30}

step() { printf '\n=== %s ===\n' "$*"; }

build() {
  local directory=$1
  shift
  cmake -S "$source_dir" -B "$directory" -G Ninja "$@" >/dev/null
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
step "tests"
run_ctest --test-dir "$source_dir/build" --output-on-failure -j "$jobs"

step "build (ASan+UBSan)"
build "$source_dir/build-sanitize" -DQHARDEN_TESTS=ON -DQHARDEN_SANITIZE=ON -DQHARDEN_FUZZ=OFF \
  -DCMAKE_BUILD_TYPE=Debug
step "tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest --test-dir "$source_dir/build-sanitize" --output-on-failure -j "$jobs"

step "fuzz targets, ${fuzz_seconds} s each (clang-16)"
CXX=clang++-16 build "$source_dir/build-fuzz" -DQHARDEN_FUZZ=ON -DQHARDEN_TESTS=OFF
"$source_dir/tests/fuzz/run-bounded.sh" "$source_dir/build-fuzz" "$fuzz_seconds"

step "all tiers passed"
# The plain closing line CI reads: every ctest case of both builds.
echo "tests: $passed_total passed, 0 failed"
