#!/usr/bin/env bash
# Judges the lintian.log files that packaging/build-deb.sh left:
#   packaging/check-lintian.sh DEB_FOLDER...
# No error and no warning (build-deb.sh already fails on those), and every
# info, pedantic or experimental tag that remains is listed, with its reason,
# in packaging/debian/README.source. A new tag fails until someone reads it
# and writes down why it stays.
set -euo pipefail

main() {
  local source_dir readme folder status=0
  source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  readme=$source_dir/packaging/debian/README.source
  [ $# -gt 0 ] || { echo "usage: packaging/check-lintian.sh DEB_FOLDER..." >&2; exit 3; }
  for folder in "$@"; do
    local log=$folder/lintian.log
    [ -f "$log" ] || { echo "lintian: no $log (packaging/build-deb.sh makes it)"; status=1; continue; }
    local errors tags tag
    errors=$(grep -E '^[EW]: ' "$log" || true)
    if [ -n "$errors" ]; then
      echo "lintian ($folder): errors or warnings:"
      echo "$errors"
      status=1
    fi
    tags=$(sed -nE 's/^[IPX]: [^ ]+ [^:]*: ([a-z0-9][a-z0-9+.-]*).*/\1/p; s/^[IPX]: [^ :]+: ([a-z0-9][a-z0-9+.-]*).*/\1/p' "$log" | sort -u)
    local counts
    counts=$(cut -c1 "$log" | grep -E '^[EWIPXO]$' | sort | uniq -c | awk '{ printf "%s%s=%s", sep, $2, $1; sep=" " }')
    echo "lintian ($(basename "$folder")): ${counts:-no tag at all}"
    for tag in $tags; do
      if ! grep -qE "^- \`$tag\`" "$readme"; then
        echo "lintian ($(basename "$folder")): tag $tag is not explained in packaging/debian/README.source"
        grep -m 3 -E "^[IPX]: .*$tag" "$log"
        status=1
      fi
    done
  done
  return $status
}

main "$@"
