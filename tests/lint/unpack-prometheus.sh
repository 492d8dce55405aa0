#!/usr/bin/env bash
# Puts promtool, prometheus and node_exporter from Debian's own packages into
# /var/cache/qharden-tests/prometheus/ without installing them: installing
# prometheus or prometheus-node-exporter starts their daemons (postinst), and
# the tests start their own copies inside network namespaces. Idempotent: a
# tree that already holds every binary is left alone. As root (apt-get
# download may need `apt-get update`, and the cache folder is root's).
#   tests/lint/unpack-prometheus.sh [TARGET]
set -euo pipefail
target=${1:-/var/cache/qharden-tests/prometheus}

log() { printf 'unpack-prometheus: %s\n' "$*" >&2; }

if [ -x "$target/usr/bin/promtool" ] && [ -x "$target/usr/bin/prometheus" ] &&
  [ -x "$target/usr/bin/prometheus-node-exporter" ]; then
  exit 0
fi

packages=(prometheus prometheus-node-exporter)
download=$(mktemp -d)
staging=
trap 'rm -rf "$download" ${staging:+"$staging"}' EXIT
log "unpacking ${packages[*]} into $target"
# A fresh machine may have no package lists yet: update only then, so that a
# repeated run does not touch the network more than it must.
(cd "$download" && apt-get download -qq "${packages[@]}" 2> /dev/null) || {
  apt-get update -qq && (cd "$download" && apt-get download -qq "${packages[@]}")
} || {
  log "could not download ${packages[*]}"
  exit 3
}
# Unpacked into a sibling first and renamed, so that an interrupted run never
# leaves a half tree that the check above would take for a whole one.
mkdir -p "$(dirname "$target")"
staging=$(mktemp -d "$(dirname "$target")/.prometheus.XXXXXX")
for package in "${packages[@]}"; do
  dpkg -x "$download/${package}"_*.deb "$staging"
done
chmod 755 "$staging"
rm -rf "$target"
mv "$staging" "$target"
"$target/usr/bin/promtool" --version 2>&1 | head -1 >&2
