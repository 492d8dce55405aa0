#!/usr/bin/env bash
# Benchmarks, each reported as a ratio against a baseline measured in the same
# run (these machines are noisy). Run: packaging/bootstrap.sh bench
set -euo pipefail
build_dir=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
bench_dir=$(cd "$(dirname "$0")" && pwd)
status=0
for benchmark in "$bench_dir"/bench_*.sh; do
  echo "== $(basename "$benchmark" .sh)"
  QHARDEN="$build_dir/agent/qharden" bash "$benchmark" || status=1
done
exit $status
