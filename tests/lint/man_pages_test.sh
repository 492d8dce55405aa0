#!/usr/bin/env bash
# The man pages say what the binaries do: each built page is current and
# formats without a groff warning; qharden(8) shows every subcommand, option
# and positional argument the real `qharden --help` lists (each option in its
# subcommand's SYNOPSIS line) and every rule `qharden rules` lists;
# qhardend(8) every option of `qhardend --help` and every D-Bus member of the
# interface XML; qharden.toml(5) every key of config/qharden.toml under its
# own table, and no key that does not exist.
set -euo pipefail
source_dir=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
man_dir=${QHARDEN_MAN_DIR:?set QHARDEN_MAN_DIR to the build tree folder holding man5/ and man8/}
qharden=${QHARDEN:?set QHARDEN to the built qharden}
qhardend=$(dirname "$qharden")/qhardend

if command -v man > /dev/null; then
  formatter='man'
elif command -v groff > /dev/null; then
  formatter='groff'
else
  echo "skip: neither man (man-db) nor groff is installed, so the pages cannot be formatted"
  exit 77
fi

failures=0
fail() {
  echo "FAIL  $*"
  failures=$((failures + 1))
}
ok() { echo "ok    $*"; }

# Plain text, one paragraph per line: a width no line reaches means no line is
# broken, so no word is hyphenated and a SYNOPSIS entry stays on one line.
# man-db drops bold and underline itself when its output is not a terminal.
render() {
  if [ "$formatter" = man ]; then
    LC_ALL=C MANWIDTH=10000 MANPAGER=cat PAGER=cat man -l "$1" 2> /dev/null
  else
    LC_ALL=C groff -t -man -Tascii -rLL=10000n -P-cbou "$1" 2> /dev/null
  fi
}

# Every groff warning, at the width a terminal has, where lines do break.
warnings_of() {
  if [ "$formatter" = man ]; then
    { LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat PAGER=cat man --warnings=w -l "$1" > /dev/null; } 2>&1
  else
    LC_ALL=C.UTF-8 groff -t -man -ww -z "$1" 2>&1
  fi
}

# The lines of one section (from its heading at column 0 to the next).
section() {
  awk -v name="$1" '/^[^ ]/ { inside = ($0 == name); next } inside'
}

# has_token TEXT TOKEN: TOKEN appears as a word of its own (an option's
# prefix, --root in --rootfs, does not count). Matched in bash itself, where
# the quoted token is literal: it runs a hundred times, and a grep each time
# is slow on a busy build machine.
has_token() {
  local boundary='[^A-Za-z0-9_-]'
  [[ $'\n'$1$'\n' =~ $boundary"$2"$boundary ]]
}

# help_items HELP_TEXT HEADING: the first word of each entry under a CLI11
# help heading ("Options:", "Subcommands:", "Positionals:"); "-h,--help"
# gives both spellings.
help_items() {
  awk -v heading="$2" '
    $0 == heading { inside = 1; next }
    /^[^ ]/ || /^$/ { inside = 0 }
    inside && /^  [^ ]/ { print $1 }' <<< "$1" | tr ',' '\n' | grep -v '^$' || true
}

declare -A page_text
for page in man8/qharden.8 man8/qhardend.8 man5/qharden.toml.5; do
  built=$man_dir/$page
  source_page=$source_dir/agent/man/$(basename "$page").scd
  if [ ! -s "$built" ]; then
    fail "$page is built ($built is missing or empty; run ninja)"
    continue
  fi
  if [ "$source_page" -nt "$built" ]; then
    fail "$page is older than $(basename "$source_page"); rebuild before testing"
  fi
  warnings=$(warnings_of "$built")
  if [ -n "$warnings" ]; then
    fail "$page formats with warnings:"
    printf '        %s\n' "$warnings"
  else
    ok "$page formats without a warning"
  fi
  page_text[$page]=$(render "$built" || true)
  [ -n "${page_text[$page]}" ] || fail "$page renders to nothing"
done
[ "$failures" -eq 0 ] || { echo "FAIL: $failures check(s)"; exit 1; }

# qharden(8) against the real CLI.
qharden_page=${page_text[man8/qharden.8]}
synopsis=$(section SYNOPSIS <<< "$qharden_page")
commands=$(section COMMANDS <<< "$qharden_page")
options_section=$(section OPTIONS <<< "$qharden_page")
top_help=$("$qharden" --help)
mapfile -t subcommands < <(help_items "$top_help" "Subcommands:")
[ ${#subcommands[@]} -gt 0 ] || fail "no subcommand found in \`qharden --help\` (has its format changed?)"
for option in $(help_items "$top_help" "Options:"); do
  has_token "$qharden_page" "$option" || fail "qharden(8) lacks the top-level option $option"
done
for subcommand in "${subcommands[@]}"; do
  line=$(grep -E "^ *qharden $subcommand( |$)" <<< "$synopsis" || true)
  if [ -z "$line" ]; then
    fail "qharden(8) SYNOPSIS has no line for \`qharden $subcommand\`"
    continue
  fi
  grep -qE "^ {7}$subcommand( |$)" <<< "$commands" \
    || fail "qharden(8) COMMANDS does not describe $subcommand"
  help=$("$qharden" "$subcommand" --help)
  mapfile -t options < <(help_items "$help" "Options:")
  [ ${#options[@]} -gt 0 ] || fail "no option found in \`qharden $subcommand --help\`"
  for option in "${options[@]}"; do
    case $option in
      -h | --help)
        has_token "$options_section" "$option" || fail "qharden(8) OPTIONS lacks $option"
        ;;
      *)
        has_token "$line" "$option" || fail "qharden(8) SYNOPSIS of $subcommand lacks $option"
        has_token "$options_section" "$option" || fail "qharden(8) OPTIONS lacks $option"
        ;;
    esac
  done
  for positional in $(help_items "$help" "Positionals:"); do
    has_token "$line" "$positional" \
      || fail "qharden(8) SYNOPSIS of $subcommand lacks its argument $positional"
  done
  ok "qharden $subcommand: ${options[*]} $(help_items "$help" "Positionals:" | tr '\n' ' ')"
done
rules_section=$(section RULES <<< "$qharden_page")
mapfile -t rule_ids < <("$qharden" rules | awk 'NR > 1 { print $1 }')
[ ${#rule_ids[@]} -gt 0 ] || fail "\`qharden rules\` lists no rule"
for rule_id in "${rule_ids[@]}"; do
  has_token "$rules_section" "$rule_id" || fail "qharden(8) RULES lacks $rule_id"
done
ok "qharden(8) RULES names all ${#rule_ids[@]} rules"

# qhardend(8) against the real agent and its D-Bus interface.
qhardend_page=${page_text[man8/qhardend.8]}
qhardend_synopsis=$(section SYNOPSIS <<< "$qhardend_page")
qhardend_options=$(section OPTIONS <<< "$qhardend_page")
mapfile -t agent_options < <(help_items "$("$qhardend" --help)" "Options:")
[ ${#agent_options[@]} -gt 0 ] || fail "no option found in \`qhardend --help\`"
for option in "${agent_options[@]}"; do
  if [ "$option" != -h ]; then
    has_token "$qhardend_synopsis" "$option" || fail "qhardend(8) SYNOPSIS lacks $option"
  fi
  has_token "$qhardend_options" "$option" || fail "qhardend(8) OPTIONS lacks $option"
done
dbus_section=$(section "D-BUS INTERFACE" <<< "$qhardend_page")
mapfile -t members < <(sed -n 's/.*<\(method\|property\|signal\) name="\([^"]*\)".*/\2/p' \
  "$source_dir/agent/dbus/org.qharden.Agent1.xml")
[ ${#members[@]} -gt 0 ] || fail "no D-Bus member found in org.qharden.Agent1.xml"
for member in "${members[@]}"; do
  has_token "$dbus_section" "$member" || fail "qhardend(8) D-BUS INTERFACE lacks $member"
done
ok "qhardend(8): ${agent_options[*]}; ${#members[@]} D-Bus members"

# qharden.toml(5) against the defaults: "table key" pairs on both sides. In
# the page a table is a subsection heading ("   [paths]") and a key an entry
# heading ("       key = default").
config_keys=$(awk '
  /^[ \t]*\[/ { table = $0; sub(/^[ \t]*\[/, "", table); sub(/\][ \t]*(#.*)?$/, "", table); next }
  /^[ \t]*[A-Za-z0-9_]+[ \t]*=/ { key = $0; sub(/^[ \t]*/, "", key); sub(/[ \t]*=.*/, "", key); print table " " key }
' "$source_dir/config/qharden.toml" | sort)
page_keys=$(awk '
  /^   \[.*\]$/ { table = $0; sub(/^   \[/, "", table); sub(/\]$/, "", table); next }
  /^[^ ]/ { table = "" }
  table != "" && /^       [A-Za-z0-9_]+ = / { print table " " $1 }
' <<< "${page_text[man5/qharden.toml.5]}" | sort)
[ -n "$config_keys" ] || fail "no key found in config/qharden.toml"
missing=$(comm -23 <(printf '%s\n' "$config_keys") <(printf '%s\n' "$page_keys"))
invented=$(comm -13 <(printf '%s\n' "$config_keys") <(printf '%s\n' "$page_keys"))
[ -z "$missing" ] || fail "qharden.toml(5) lacks these keys (table key):$(printf '\n        %s' "$missing")"
[ -z "$invented" ] || fail "qharden.toml(5) documents keys config/qharden.toml does not have:$(printf '\n        %s' "$invented")"
[ -n "$missing$invented" ] || ok "qharden.toml(5) documents all $(wc -l <<< "$config_keys") keys, each in its table"

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures check(s)"
  exit 1
fi
echo "ok    the man pages match qharden, qhardend and config/qharden.toml"
