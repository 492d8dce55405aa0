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

step "build (RelWithDebInfo)"
build "$source_dir/build"
step "tests"
ctest --test-dir "$source_dir/build" --output-on-failure -j "$jobs"

step "build (ASan+UBSan)"
build "$source_dir/build-sanitize" -DQHARDEN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
step "tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$source_dir/build-sanitize" --output-on-failure -j "$jobs"

step "fuzz targets, ${fuzz_seconds} s each (clang-16)"
CXX=clang++-16 build "$source_dir/build-fuzz" -DQHARDEN_FUZZ=ON -DQHARDEN_TESTS=OFF
"$source_dir/tests/fuzz/run-bounded.sh" "$source_dir/build-fuzz" "$fuzz_seconds"

step "all tiers passed"
