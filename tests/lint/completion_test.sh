#!/usr/bin/env bash
# The bash completion offers what the real qharden accepts: its subcommands,
# each subcommand's options as its --help lists them, the --format values,
# for --rule and explain the rule ids of the qharden found on PATH, read when
# completing (a fake qharden's ids show up), with a static list that matches
# the real ids for when the binary cannot list them, and for rollback the
# change ids in the journal of the --root given.
set -euo pipefail
source_dir=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
qharden=${QHARDEN:?set QHARDEN to the built qharden}
script=$source_dir/agent/cli/qharden.bash-completion
build_bin=$(cd "$(dirname "$qharden")" && pwd)

failures=0
fail() {
  echo "FAIL  $*"
  failures=$((failures + 1))
}
ok() { echo "ok    $*"; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# complete_line [PATH_FIRST] -- WORD...: what the completion offers with the
# cursor on the last WORD (give "" to complete a new word), one per line,
# sorted. It runs in a clean bash, as an interactive shell would source it,
# with PATH_FIRST (default: the build tree's folder) first on PATH.
complete_line() {
  local path_first=$build_bin
  if [ "$1" != -- ]; then
    path_first=$1
    shift
  fi
  shift
  PATH="$path_first:$PATH" bash --norc --noprofile -c '
    source "$1" || exit 1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    _qharden qharden "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    if [ ${#COMPREPLY[@]} -gt 0 ]; then printf "%s\n" "${COMPREPLY[@]}"; fi
  ' _ "$script" qharden "$@" | sort -u
}

# expect DESCRIPTION EXPECTED ACTUAL: both are sorted lists, one per line.
expect() {
  if [ "$2" = "$3" ]; then
    ok "$1: $(tr '\n' ' ' <<< "$3")"
  else
    fail "$1"
    echo "        expected: $(tr '\n' ' ' <<< "$2")"
    echo "        offered:  $(tr '\n' ' ' <<< "$3")"
  fi
}

# help_items HELP_TEXT HEADING: the first word of each entry under a CLI11
# help heading; "-h,--help" gives both spellings.
help_items() {
  awk -v heading="$2" '
    $0 == heading { inside = 1; next }
    /^[^ ]/ || /^$/ { inside = 0 }
    inside && /^  [^ ]/ { print $1 }' <<< "$1" | tr ',' '\n' | grep -v '^$' || true
}

registered=$(bash --norc --noprofile -c 'source "$1" && complete -p qharden' _ "$script" || true)
if [ "$registered" = "complete -F _qharden qharden" ]; then
  ok "sourcing it registers: $registered"
else
  fail "sourcing it should register \`complete -F _qharden qharden\`, got: ${registered:-nothing}"
fi
if head -c 2 "$script" | grep -q '^#!'; then
  fail "the completion starts with #! (lintian: bash-completion-with-hashbang); it is sourced"
fi

top_help=$("$qharden" --help)
subcommands=$(help_items "$top_help" "Subcommands:" | sort -u)
[ -n "$subcommands" ] || fail "no subcommand in \`qharden --help\` (has its format changed?)"
expect "after \`qharden \`: the subcommands" "$subcommands" "$(complete_line -- "")"
expect "after \`qharden -\`: the top-level options" \
  "$(help_items "$top_help" "Options:" | sort -u)" "$(complete_line -- -)"

for subcommand in $subcommands; do
  help=$("$qharden" "$subcommand" --help)
  expect "after \`qharden $subcommand --\`: its options" \
    "$(help_items "$help" "Options:" | grep '^--' | sort -u)" "$(complete_line -- "$subcommand" --)"
done

formats=$("$qharden" audit --help | sed -n 's/^ *--format [A-Z]*:{\([^}]*\)}.*/\1/p' | tr ',' '\n' | sort -u)
[ -n "$formats" ] || fail "no --format values in \`qharden audit --help\`"
expect "after \`qharden audit --format \`: its values" "$formats" \
  "$(complete_line -- audit --format "")"

# The rule ids: the real binary's, checked one by one with explain.
rule_ids=$("$qharden" rules | awk 'NR > 1 { print $1 }' | sort -u)
[ -n "$rule_ids" ] || fail "\`qharden rules\` lists no rule"
for rule_id in $rule_ids; do
  "$qharden" explain "$rule_id" > /dev/null || fail "\`qharden explain $rule_id\` fails"
done
expect "after \`qharden audit --rule \`: the binary's rule ids" "$rule_ids" \
  "$(complete_line -- audit --rule "")"
expect "after \`qharden apply --offline --rule tcp\`: ids starting with tcp" \
  "$(grep '^tcp' <<< "$rule_ids")" "$(complete_line -- apply --offline --rule tcp)"
expect "after \`qharden explain \`: the rule ids" "$rule_ids" "$(complete_line -- explain "")"
expect "after \`qharden explain ID \`: nothing more" "" \
  "$(complete_line -- explain tcp-env.flags "")"
expect "after \`qharden status --bus \`: system and session" "$(printf 'session\nsystem')" \
  "$(complete_line -- status --bus "")"

# rollback offers the change ids of the tree --root names: one apply on a copy
# of the Plesk fixture (offline, so nothing outside the copy is touched).
tree=$scratch/tree
mkdir -p "$tree"
cp -a "$source_dir/tests/fixtures/hosts/plesk/." "$tree/"
applied=$("$qharden" apply --offline --root "$tree" --rule tcp-env.flags 2>&1) || true
change_id=$(sed -n 's/^change \([^ ]*\) (undo:.*/\1/p' <<< "$applied")
if [ -z "$change_id" ]; then
  fail "\`qharden apply --offline --root TREE\` made no change to offer:"
  printf '        %s\n' "$applied"
else
  expect "after \`qharden rollback --root TREE \`: its change id" "$change_id" \
    "$(complete_line -- rollback --root "$tree" "")"
  expect "after \`qharden rollback --root EMPTY_TREE \`: nothing" "" \
    "$(complete_line -- rollback --root "$scratch" "")"
fi

# Read when completing: a qharden with one more rule offers it.
mkdir -p "$scratch/newer" "$scratch/broken"
cat > "$scratch/newer/qharden" << 'EOF'
#!/bin/sh
[ "$1" = rules ] || exit 3
printf '%-24s %-9s %-14s %s\n' RULE SEVERITY FIX CHECKS
printf '%-24s %-9s %-14s %s\n' tcp-env.flags critical yes "tcp-env passes -R"
printf '%-24s %-9s %-14s %s\n' test.only-rule warning no "a rule only this fake has"
EOF
cat > "$scratch/broken/qharden" << 'EOF'
#!/bin/sh
echo "qharden: cannot start" >&2
exit 1
EOF
chmod +x "$scratch/newer/qharden" "$scratch/broken/qharden"
expect "with a qharden that lists another rule: its ids" "$(printf 'tcp-env.flags\ntest.only-rule')" \
  "$(complete_line "$scratch/newer" -- audit --rule "")"
# The fallback is the real list, so a new rule must be added to it too.
expect "with a qharden that cannot list rules: the static list, equal to the real ids" \
  "$rule_ids" "$(complete_line "$scratch/broken" -- plan --rule "")"

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures check(s)"
  exit 1
fi
echo "ok    the completion matches $qharden"
