#!/usr/bin/env bash
# Runs every fuzz_* target in BUILD_DIR for SECONDS each, starting from the
# checked-in corpus (tests/fuzz/corpus/<name>/). New inputs go to a scratch
# folder, so the checked-in corpus only changes by hand. A crash fails the run
# and leaves the reproducer in the scratch folder.
set -euo pipefail
build_dir=$1
seconds=${2:-30}
fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scratch=$(mktemp -d /tmp/qharden-fuzz.XXXXXX)
status=0
shopt -s nullglob
targets=("$build_dir"/tests/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-bounded: no fuzz targets in $build_dir" >&2
  exit 1
fi
for target in "${targets[@]}"; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus_name=${name#fuzz_}
  mkdir -p "$scratch/$corpus_name"
  seeds=()
  [ -d "$fuzz_dir/corpus/$corpus_name" ] && seeds=("$fuzz_dir/corpus/$corpus_name")
  printf 'fuzz %-24s ' "$name"
  if "$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -artifact_prefix="$scratch/$corpus_name/" "$scratch/$corpus_name" "${seeds[@]}" \
      >"$scratch/$name.log" 2>&1; then
    grep -Eo 'Done [0-9]+ runs' "$scratch/$name.log" | tail -1 || echo "done"
  else
    echo "FAILED (log: $scratch/$name.log)"
    tail -30 "$scratch/$name.log"
    status=1
  fi
done
[ $status -eq 0 ] && rm -rf "$scratch"
exit $status
