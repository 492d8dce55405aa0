#!/usr/bin/env bash
# Line coverage of each fuzzed parser, outside CI. A fuzz target that never
# reaches half of its parser proves little however long it runs, so this
# measures how much of each parser the corpus actually executes.
#
#   tests/fuzz/coverage.sh BUILD_DIR [TARGET...]
#
# BUILD_DIR is configured here as its own build: the fuzz targets
# (-DQHARDEN_FUZZ=ON, clang-16) with clang's source-based coverage
# (-fprofile-instr-generate -fcoverage-mapping) on every file, Debug. Do not
# point it at build-fuzz: that build is for fuzzing, this one is slower.
# Each target runs once over every input of tests/fuzz/corpus/<name>/ and, when
# present, the long runs' corpus in /var/cache/qharden-tests/fuzz/<name>/
# (QHARDEN_FUZZ_CACHE), both copied to a scratch folder first (the long runs
# may be writing the cache; it is only read). libFuzzer's reproducers
# (crash-*, leak-*, timeout-*, oom-*, slow-unit-*) are left out. The profiles
# are merged with llvm-profdata-16 and llvm-cov-16 reports the lines of the
# parser files that tests/fuzz/README.md's table names for each target.
# Needs: clang-16 and llvm-16 (llvm-profdata-16, llvm-cov-16), cmake, ninja, jq.
#
# Output: one line per parser file and one total per target (lines, covered,
# percent), on stdout and in BUILD_DIR/coverage/summary.tsv; the annotated
# source of each target's files (uncovered lines have count 0) in
# BUILD_DIR/coverage/<target>.txt. Exits 1 if a tool fails or a corpus input
# crashes its target (then that target's log is shown).
# QHARDEN_COVERAGE_JOBS (default 2) sets the build's parallelism; the build
# and the runs are at nice 10.
set -euo pipefail
fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$fuzz_dir/../.." && pwd)
cache=${QHARDEN_FUZZ_CACHE:-/var/cache/qharden-tests/fuzz}
jobs=${QHARDEN_COVERAGE_JOBS:-2}
build_dir=${1:?usage: coverage.sh BUILD_DIR [TARGET...]}
shift

for tool in clang++-16 llvm-profdata-16 llvm-cov-16 cmake ninja jq; do
  if ! command -v "$tool" > /dev/null; then
    echo "coverage: $tool not found (apt-get install clang-16 llvm-16 cmake ninja-build jq)" >&2
    exit 1
  fi
done

# The parser files of each target, as in tests/fuzz/README.md (netfilter.cpp
# is left out: it runs the save tools and asks D-Bus, and parses nothing).
# FILE@NAME
# counts only the functions whose (mangled) name matches NAME, for a parser
# that is one function in a file that also does other work.
declare -A parsers=(
  [fuzz_burst_limits]="rules/parsers/xinetd_limits.cpp"
  [fuzz_cdb]="rules/parsers/cdb.cpp"
  [fuzz_config]="rules/config/config.cpp rules/config/config_values.cpp"
  [fuzz_dns_names]="rules/host/dns_names.cpp"
  [fuzz_fixer_protocol]="agent/fixer/protocol.cpp"
  [fuzz_inetd]="rules/parsers/inetd.cpp"
  [fuzz_netfilter]="rules/host/netfilter_iptables.cpp rules/host/netfilter_nft.cpp rules/host/netfilter_match.cpp"
  [fuzz_resolv_conf]="rules/parsers/resolv_conf.cpp"
  [fuzz_shell_words]="rules/parsers/shell_words.cpp rules/parsers/shell_wrappers.cpp"
  [fuzz_smtp_reply]="rules/smtp_open_relay/live.cpp@complete_reply"
  [fuzz_sockstat]="rules/host/sockstat.cpp"
  [fuzz_sysctl_conf]="rules/parsers/sysctl_conf.cpp"
  [fuzz_systemd_unit]="rules/parsers/systemd_unit.cpp"
  [fuzz_tcprules]="rules/parsers/tcprules.cpp"
  [fuzz_xinetd]="rules/parsers/xinetd.cpp rules/parsers/xinetd_load.cpp rules/parsers/xinetd_resolve.cpp rules/inventory/xinetd_check_entry.cpp rules/inventory/service_ports.cpp"
)

CXX=clang++-16 cmake -S "$source_dir" -B "$build_dir" -G Ninja -DQHARDEN_FUZZ=ON \
  -DQHARDEN_TESTS=OFF -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS=-fprofile-instr-generate -fcoverage-mapping" > /dev/null
nice -n 10 cmake --build "$build_dir" -j"$jobs" > "$build_dir/coverage-build.log" 2>&1 || {
  tail -30 "$build_dir/coverage-build.log" >&2
  echo "coverage: build failed (log: $build_dir/coverage-build.log)" >&2
  exit 1
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for binary in "$build_dir"/tests/fuzz/fuzz_*; do [ -x "$binary" ] && targets+=("$(basename "$binary")"); done
fi
out=$build_dir/coverage
rm -rf "$out"
mkdir -p "$out/profiles"
scratch=$(mktemp -d /tmp/qharden-coverage.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# lines_of_functions BINARY PROFILE FILE NAME: "lines covered" of the functions
# in FILE whose name matches NAME, counted from llvm-cov's annotated source
# (a line with a count is executable; a count of 0 is uncovered).
lines_of_functions() {
  llvm-cov-16 show "$1" -instr-profile="$2" -name-regex="$4" -show-instantiations=false \
    "$source_dir/$3" |
    awk -F'|' 'NF >= 3 && $1 ~ /^ *[0-9]+$/ {
                 count = $2; gsub(/ /, "", count)
                 if (count != "") { lines++; if (count != "0") covered++ }
               }
               END { print lines + 0, covered + 0 }'
}

status=0
printf 'target\tfile\tlines\tcovered\tpercent\n' > "$out/summary.tsv"
printf '%-21s %-50s %6s %8s %7s\n' target file lines covered percent
for name in "${targets[@]}"; do
  binary=$build_dir/tests/fuzz/$name
  corpus_name=${name#fuzz_}
  if [ -z "${parsers[$name]:-}" ]; then
    echo "coverage: $name has no parser files listed here; add it to the table" >&2
    status=1
    continue
  fi
  inputs=$scratch/$corpus_name
  mkdir -p "$inputs"
  for folder in "$fuzz_dir/corpus/$corpus_name" "$cache/$corpus_name"; do
    [ -d "$folder" ] || continue
    find "$folder" -maxdepth 1 -type f ! -name 'crash-*' ! -name 'leak-*' ! -name 'timeout-*' \
      ! -name 'oom-*' ! -name 'slow-unit-*' -exec cp -t "$inputs" {} +
  done
  count=$(find "$inputs" -type f | wc -l)
  # -runs=0: execute every input once and stop; the profile is written at exit.
  if ! LLVM_PROFILE_FILE="$out/profiles/$name.%p.profraw" nice -n 10 "$binary" -runs=0 \
      -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$scratch/" "$inputs" \
      > "$out/$name.log" 2>&1; then
    echo "coverage: $name failed on its corpus (log: $out/$name.log)" >&2
    tail -30 "$out/$name.log" >&2
    status=1
    continue
  fi
  llvm-profdata-16 merge -sparse -o "$out/$name.profdata" "$out/profiles/$name".*.profraw
  files=()
  for entry in ${parsers[$name]}; do files+=("$source_dir/${entry%@*}"); done
  llvm-cov-16 show "$binary" -instr-profile="$out/$name.profdata" -show-instantiations=false \
    "${files[@]}" > "$out/$name.txt"
  summary=$(llvm-cov-16 export "$binary" -instr-profile="$out/$name.profdata" -summary-only \
    "${files[@]}")
  total_lines=0
  total_covered=0
  for entry in ${parsers[$name]}; do
    file=${entry%@*}
    if [ "$entry" != "$file" ]; then
      counts=$(lines_of_functions "$binary" "$out/$name.profdata" "$file" "${entry#*@}")
      label="$file (${entry#*@})"
    else
      counts=$(jq -r --arg file "$source_dir/$file" \
        '[.data[0].files[] | select(.filename == $file) | .summary.lines] | first // {count: 0, covered: 0} | "\(.count) \(.covered)"' \
        <<< "$summary")
      label=$file
    fi
    read -r lines covered <<< "$counts"
    if [ "$lines" -eq 0 ]; then
      echo "coverage: no executable lines of $label in $name's coverage map" >&2
      status=1
    fi
    total_lines=$((total_lines + lines))
    total_covered=$((total_covered + covered))
    percent=$(awk -v c="$covered" -v l="$lines" 'BEGIN { printf "%.1f", l ? 100 * c / l : 0 }')
    printf '%-21s %-50s %6d %8d %6s%%\n' "$name" "$label" "$lines" "$covered" "$percent"
    printf '%s\t%s\t%d\t%d\t%s\n' "$name" "$label" "$lines" "$covered" "$percent" >> "$out/summary.tsv"
  done
  percent=$(awk -v c="$total_covered" -v l="$total_lines" 'BEGIN { printf "%.1f", l ? 100 * c / l : 0 }')
  printf '%-21s %-50s %6d %8d %6s%%\n' "$name" "(all, $count inputs)" "$total_lines" \
    "$total_covered" "$percent"
  printf '%s\t%s\t%d\t%d\t%s\n' "$name" "total ($count inputs)" "$total_lines" "$total_covered" \
    "$percent" >> "$out/summary.tsv"
done
exit $status
