#!/usr/bin/env bash
# Long fuzzing, outside CI: runs each fuzz target (ASan+UBSan, libFuzzer) until
# it has 10 million executions in all, over as many sittings as it takes.
#
#   tests/fuzz/run-long.sh BUILD_DIR [SECONDS_PER_TARGET] [TARGET...]
#
# BUILD_DIR is a -DQHARDEN_FUZZ=ON build (tests/run-all.sh makes build-fuzz).
# Each sitting runs a target for at most SECONDS_PER_TARGET (default 1200) at
# nice 19, from its persistent corpus in /var/cache/qharden-tests/fuzz/<name>/
# seeded with tests/fuzz/corpus/<name>/, and appends one line to
# tests/fuzz/long-runs.tsv: date, commit, target, executions, seconds, result.
# A target whose total since its parser last changed reaches the goal is
# skipped. A crash, leak or timeout stops that target, keeps the reproducer
# in the cache folder and makes the script exit 1; a timeout whose input runs
# in time when re-run alone is recorded as "starved" (the machine was busy),
# counts like "ok", and its input is kept as timeout-*.starved.
# Afterwards, `tests/fuzz/run-long.sh --merge BUILD_DIR` minimises each cache
# corpus back into tests/fuzz/corpus/<name>/: the seeds there stay, and a
# greedy set cover of the cache's inputs adds what they do not reach
# (-set_cover_merge: about a third of the files plain -merge keeps).
set -euo pipefail
fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$fuzz_dir/../.." && pwd)
cache=${QHARDEN_FUZZ_CACHE:-/var/cache/qharden-tests/fuzz}
ledger=$fuzz_dir/long-runs.tsv
goal=${QHARDEN_FUZZ_GOAL:-10000000}

merge=no
if [ "${1:-}" = --merge ]; then merge=yes; shift; fi
build_dir=${1:?usage: run-long.sh [--merge] BUILD_DIR [SECONDS] [TARGET...]}
seconds=${2:-1200}
shift $(( $# >= 2 ? 2 : $# ))
mkdir -p "$cache"
[ -f "$ledger" ] || printf 'date\tcommit\ttarget\texecutions\tseconds\tresult\n' > "$ledger"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for binary in "$build_dir"/tests/fuzz/fuzz_*; do [ -x "$binary" ] && targets+=("$(basename "$binary")"); done
fi
commit=$(git -C "$source_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)

# parser_sources NAME: the files whose code NAME mostly exercises. A change to
# one of them, like a change to the harness, starts a new count: executions of
# an older parser say little about the new one.
parser_sources() {
  case $1 in
    fuzz_burst_limits) echo rules/parsers/xinetd.cpp rules/parsers/xinetd_limits.cpp rules/parsers/xinetd_words.cpp rules/parsers/inetd.cpp rules/listener_burst_limits ;;
    fuzz_cdb) echo rules/parsers/cdb.cpp ;;
    fuzz_config) echo rules/config ;;
    fuzz_dns_names) echo rules/host/dns_names.cpp ;;
    fuzz_fixer_protocol) echo agent/fixer/protocol.cpp ;;
    fuzz_inetd) echo rules/parsers/inetd.cpp ;;
    fuzz_netfilter) echo rules/host/netfilter.cpp rules/host/netfilter_iptables.cpp rules/host/netfilter_nft.cpp rules/host/netfilter_match.cpp rules/firewall_ident_reject ;;
    fuzz_resolv_conf) echo rules/parsers/resolv_conf.cpp ;;
    fuzz_shell_words) echo rules/parsers/shell_words.cpp ;;
    fuzz_smtp_reply) echo rules/smtp_open_relay/live.cpp ;;
    fuzz_sockstat) echo rules/host/sockstat.cpp ;;
    fuzz_sysctl_conf) echo rules/parsers/sysctl_conf.cpp ;;
    fuzz_systemd_unit) echo rules/parsers/systemd_unit.cpp ;;
    fuzz_tcprules) echo rules/parsers/tcprules.cpp ;;
    fuzz_xinetd) echo rules/parsers/xinetd.cpp rules/parsers/xinetd_load.cpp rules/parsers/xinetd_resolve.cpp rules/parsers/xinetd_log_type.cpp rules/parsers/xinetd_limits.cpp rules/parsers/xinetd_words.cpp rules/inventory/xinetd_check_entry.cpp rules/inventory/service_ports.cpp ;;
  esac
}

# total NAME: executions recorded for NAME in sittings that started after the
# last commit that changed its fuzz target or its parser. A line is written
# when its sitting ends, so the start is its date less its seconds: a sitting
# that began on the old code and ended after the change does not count.
# Timestamps are UTC to the second.
total() {
  local name=$1 since since_epoch sum=0 date commit target executions seconds result
  # shellcheck disable=SC2046 # the sources are words on purpose
  since=$(TZ=UTC git -C "$source_dir" log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ \
    -- "tests/fuzz/$name.cpp" $(parser_sources "$name") 2>/dev/null)
  since_epoch=$(date -u -d "${since:-1970-01-01T00:00:00Z}" +%s)
  while IFS=$'\t' read -r date commit target executions seconds result; do
    [ "$target" = "$name" ] || continue
    [ "$result" = ok ] || [ "$result" = starved ] || continue
    [ $(($(date -u -d "$date" +%s) - seconds)) -ge "$since_epoch" ] || continue
    sum=$((sum + executions))
  done < <(tail -n +2 "$ledger")
  echo "$sum"
}

status=0
for name in "${targets[@]}"; do
  binary=$build_dir/tests/fuzz/$name
  corpus_name=${name#fuzz_}
  corpus=$cache/$corpus_name
  mkdir -p "$corpus"
  if [ "$merge" = yes ]; then
    mkdir -p "$fuzz_dir/corpus/$corpus_name"
    "$binary" -set_cover_merge=1 -max_len=65536 "$fuzz_dir/corpus/$corpus_name" "$corpus" > /dev/null 2>&1
    echo "$name: corpus now $(ls "$fuzz_dir/corpus/$corpus_name" | wc -l) files"
    continue
  fi
  done_so_far=$(total "$name")
  if [ "$done_so_far" -ge "$goal" ]; then
    echo "$name: $done_so_far executions, goal reached"
    continue
  fi
  seeds=()
  [ -d "$fuzz_dir/corpus/$corpus_name" ] && seeds=("$fuzz_dir/corpus/$corpus_name")
  log=$cache/$name.log
  started=$(date +%s)
  result=ok
  # At nice 19 beside a CPU-bound job (a CI run) the fuzzer can get no CPU for
  # seconds: a 5 s timeout once fired on an input that runs in 1 ms. So the
  # limit is 30 s, and a timeout is re-run alone before it counts.
  # Inputs are capped at 16 KiB: libFuzzer lets them grow toward the cap over
  # a long sitting, and the xinetd harness reads its input once per include
  # line, so at 64 KiB it slowed from 1,300 to 100-300 executions/s. 16 KiB
  # is still hundreds of lines, far more than any parser's state needs.
  # Allocation stacks are not recorded (about 10 % faster); a reproducer is
  # kept, and re-running it alone gives the full report.
  ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=0} \
    nice -n 19 "$binary" -max_total_time="$seconds" -runs=$(( goal - done_so_far )) -timeout=30 \
    -rss_limit_mb=2048 -max_len="${QHARDEN_FUZZ_MAX_LEN:-16384}" -print_final_stats=1 \
    -artifact_prefix="$corpus/" "$corpus" "${seeds[@]}" > "$log" 2>&1 || result=failed
  if [ "$result" = failed ] && grep -q '^SUMMARY: libFuzzer: timeout' "$log"; then
    reproducer=$(sed -n 's/.*Test unit written to \(.*timeout-[0-9a-f]*\).*/\1/p' "$log" | tail -1)
    if [ -n "$reproducer" ] && timeout 30 "$binary" -timeout=30 "$reproducer" > "$log.rerun" 2>&1; then
      result=starved
      mv "$reproducer" "$reproducer.starved"
    fi
  fi
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" "$name" \
    "${executions:-0}" "$(( $(date +%s) - started ))" "$result" >> "$ledger"
  echo "$name: +${executions:-0} executions in $(( $(date +%s) - started )) s ($result);" \
    "total $(total "$name") of $goal"
  if [ "$result" = failed ]; then
    tail -30 "$log"
    status=1
  fi
done
exit $status
