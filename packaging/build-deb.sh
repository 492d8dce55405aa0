#!/usr/bin/env bash
# Builds the qharden .debs for one Debian release in a clean build root, then
# runs that release's lintian on them.
#   packaging/build-deb.sh bookworm|trixie [--nocheck] [--output DIR]
# The build root is mmdebstrap --variant=buildd plus the Build-Depends of
# packaging/debian/control, cached as a tarball under
# /var/cache/qharden-tests (keyed by release and control file), and unpacked
# afresh for every build, so no build sees another's leftovers. The results
# (.deb, .changes, .buildinfo, .dsc, source tarball, lintian.log) go to
# build-deb/<release>/ unless --output says otherwise.
set -euo pipefail

# All in one function, so the script is read whole before it runs: editing it
# during a 10-minute build cannot change what the running build does next.
main() {
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_dir=${QHARDEN_TEST_CACHE:-/var/cache/qharden-tests}
log() { printf 'build-deb: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

release=${1:-}
shift || true
case "$release" in
  bookworm | trixie) ;;
  *) die "usage: packaging/build-deb.sh bookworm|trixie [--nocheck] [--output DIR]" ;;
esac
nocheck=0
output_dir=$source_dir/build-deb/$release
while [ $# -gt 0 ]; do
  case "$1" in
    --nocheck) nocheck=1 ;;
    --output)
      output_dir=${2:?--output needs a folder}
      shift
      ;;
    *) die "unknown option: $1" ;;
  esac
  shift
done

[ "$(id -u)" -eq 0 ] || die "needs root: mmdebstrap and systemd-nspawn run as root"
for program in mmdebstrap systemd-nspawn git; do
  command -v "$program" > /dev/null || die "$program is missing (packaging/bootstrap.sh test installs it)"
done

changelog=$source_dir/packaging/debian/changelog
upstream_version=$(dpkg-parsechangelog -l "$changelog" -S Version)
# Each release's build has its own version, 0.2.0+deb12 and 0.2.0+deb13: an
# apt repository serving both suites keeps both .debs in one pool, where
# reprepro and aptly refuse a second, different file of the same name and
# version, and bookworm's sorts below trixie's, so a dist-upgrade takes the
# trixie build.
case "$release" in
  bookworm) version=$upstream_version+deb12 ;;
  trixie) version=$upstream_version+deb13 ;;
esac
# Keyed by the build dependencies only: editing a description needs no new root.
control_hash=$(sed -n '/^Build-Depends:/,/^[^ ]/{/^Build-Depends:/p;/^ /p}' \
  "$source_dir/packaging/debian/control" | sha256sum | cut -c1-16)
build_root_tarball=$cache_dir/buildroot-$release-$control_hash.tar

# The build root: buildd variant, the package's build dependencies resolved by
# apt itself (so "systemd-dev | systemd (<< 253-2~)" picks the right one per
# release), and lintian to judge the result with the same release's rules.
make_build_root() {
  local partial=$build_root_tarball.partial
  local dependencies
  dependencies=$(mktemp -d)
  mkdir -p "$dependencies/debian"
  cp "$source_dir/packaging/debian/control" "$source_dir/packaging/debian/changelog" "$dependencies/debian/"
  log "making the $release build root (once; cached as $build_root_tarball)"
  local proxy_options=()
  local proxy
  proxy=$(apt-config dump --format '%v' Acquire::http::Proxy 2> /dev/null || true)
  [ -n "$proxy" ] && proxy_options=(--aptopt="Acquire::http::Proxy \"$proxy\"")
  if ! mmdebstrap --variant=buildd --format=tar --include=lintian "${proxy_options[@]}" \
    --customize-hook="mkdir -p \"\$1/tmp/dependencies\"" \
    --customize-hook="copy-in $dependencies/debian /tmp/dependencies" \
    --customize-hook='chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq /tmp/dependencies' \
    --customize-hook='rm -rf "$1/tmp/dependencies"' \
    --customize-hook='chroot "$1" apt-get clean' \
    "$release" "$partial" > "$cache_dir/buildroot-$release.log" 2>&1; then
    rm -rf "$dependencies" "$partial"
    tail -20 "$cache_dir/buildroot-$release.log" >&2
    die "mmdebstrap failed for $release (log: $cache_dir/buildroot-$release.log)"
  fi
  rm -rf "$dependencies"
  mv "$partial" "$build_root_tarball"
}

mkdir -p "$cache_dir"
(
  flock 9
  [ -s "$build_root_tarball" ] || make_build_root
) 9> "$cache_dir/buildroot-$release.lock"

work=$(mktemp -d /var/tmp/qharden-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"
tar -C "$root" -xf "$build_root_tarball"

# The source package is the release tarball, `git archive` of HEAD, when the
# work tree is clean (as in CI), so every CI run shows that tarball builds.
# A developer's uncommitted tree gives what git tracks plus new files, with
# a warning. packaging/debian becomes debian/: a native package needs ./debian.
package_source=$root/build/qharden-$version
mkdir -p "$package_source"
if [ -z "$(git -C "$source_dir" status --porcelain 2> /dev/null)" ]; then
  log "source: git archive of $(git -C "$source_dir" rev-parse --short HEAD) (the release tarball)"
  git -C "$source_dir" archive --format=tar --prefix="qharden-$version/" HEAD |
    tar -C "$root/build" -xf -
else
  log "source: the work tree, which has uncommitted changes (not the release tarball)"
  (cd "$source_dir" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
      # Deleted but not yet committed files are left out; symlinks are kept
      # even when they point nowhere here (the fixtures' /service links).
      if [ -e "$file" ] || [ -L "$file" ]; then printf '%s\0' "$file"; fi
    done |
    tar --null -T - -cf -) | tar -C "$package_source" -xf -
fi
cp -a "$source_dir/packaging/debian" "$package_source/debian"
# The release's entry goes on top, dated by the commit so that two builds of
# one commit are the same; lintian wants it later than the entry below it.
changelog_epoch=$(date -d "$(dpkg-parsechangelog -l "$changelog" -S Date)" +%s)
entry_epoch=$(git -C "$source_dir" log -1 --format=%ct 2> /dev/null || echo 0)
[ "$entry_epoch" -gt "$changelog_epoch" ] || entry_epoch=$((changelog_epoch + 1))
{
  printf 'qharden (%s) %s; urgency=medium\n\n' "$version" "$release"
  printf '  * Built for %s from qharden %s.\n\n' "$release" "$upstream_version"
  printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$changelog" -S Maintainer)" \
    "$(LC_ALL=C date -u -R -d "@$entry_epoch")"
  cat "$changelog"
} > "$package_source/debian/changelog"

# No machined needed (--register=no); where systemd is not this machine's init
# there is no bus to ask for a scope, so the container stays in ours.
nspawn=(systemd-nspawn --quiet --register=no --private-network --directory="$root"
  --machine="qharden-deb-$release-$$")
[ -d /run/systemd/system ] || nspawn+=(--keep-unit)

build_options="parallel=$(nproc 2> /dev/null || echo 2)"
[ $nocheck -eq 1 ] && build_options="$build_options nocheck"
log "building qharden $version for $release ($build_options)"
started=$(date +%s)
status=0
# --private-network: the unit tier's DNS probes talk to their own servers on
# the container's loopback, never to this host's network.
"${nspawn[@]}" \
  --setenv=DEB_BUILD_OPTIONS="$build_options" --setenv=LC_ALL=C.UTF-8 \
  --chdir="/build/qharden-$version" \
  dpkg-buildpackage -us -uc > "$work/build.log" 2>&1 || status=$?
if [ $status -ne 0 ]; then
  tail -60 "$work/build.log" >&2
  mkdir -p "$output_dir"
  cp "$work/build.log" "$output_dir/build.log"
  die "dpkg-buildpackage failed for $release (exit $status; log: $output_dir/build.log)"
fi
log "built in $(($(date +%s) - started)) s"

# lintian of the same release, at pedantic, experimental tags shown.
changes=qharden_${version}_$(dpkg --print-architecture).changes
lintian_status=0
"${nspawn[@]}" --chdir=/build \
  lintian --allow-root --color=never -IE --pedantic --fail-on error,warning --tag-display-limit 0 \
  "$changes" > "$work/lintian.log" 2>&1 || lintian_status=$?

rm -rf "$output_dir"
mkdir -p "$output_dir"
find "$root/build" -maxdepth 1 -type f -name "qharden*" -exec cp {} "$output_dir/" \;
cp "$work/build.log" "$work/lintian.log" "$output_dir/"
log "results in $output_dir: $(cd "$output_dir" && ls *.deb | tr '\n' ' ')"
cat "$output_dir/lintian.log"
[ $lintian_status -eq 0 ] || die "lintian ($release) reports errors or warnings (exit $lintian_status)"
}

main "$@"
