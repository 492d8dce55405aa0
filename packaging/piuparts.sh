#!/usr/bin/env bash
# piuparts on the qharden .deb of one release, in a fresh chroot of that
# release:
#   packaging/piuparts.sh bookworm|trixie [DEB_FOLDER]
# 1. install and purge: no file left behind, no process left running (the
#    package must start nothing in a chroot: piuparts' policy-rc.d says no);
# 2. upgrade: the previous release installed with apt from a local repository,
#    then upgraded to this .deb, then purged. For this first release the
#    previous one is this tree's package with version 0.1.9 (the same files;
#    only the version differs), made once and cached.
# DEB_FOLDER defaults to build-deb/<release>/. The chroot's base tarball is
# cached under /var/cache/qharden-tests.
set -euo pipefail

main() {
  local source_dir cache_dir release deb_folder
  source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cache_dir=${QHARDEN_TEST_CACHE:-/var/cache/qharden-tests}
  release=${1:-}
  case "$release" in
    bookworm | trixie) ;;
    *)
      echo "usage: packaging/piuparts.sh bookworm|trixie [DEB_FOLDER]" >&2
      exit 3
      ;;
  esac
  deb_folder=${2:-$source_dir/build-deb/$release}
  [ "$(id -u)" -eq 0 ] || { echo "piuparts: needs root (it builds chroots)" >&2; exit 3; }
  for program in piuparts debootstrap dpkg-deb apt-ftparchive; do
    command -v "$program" > /dev/null || { echo "piuparts: $program is missing (packaging/bootstrap.sh test installs it)" >&2; exit 3; }
  done
  local deb
  deb=$(find "$deb_folder" -maxdepth 1 -name 'qharden_*.deb' | sort | tail -1)
  [ -n "$deb" ] || { echo "piuparts: no qharden_*.deb in $deb_folder (packaging/bootstrap.sh deb $release)" >&2; exit 1; }

  local previous_repository=$cache_dir/piuparts-previous-$release
  make_previous_release "$deb" "$previous_repository"

  local mirror=${QHARDEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  local base_tarball=$cache_dir/piuparts-base-$release.tgz
  local base_options=(--save "$base_tarball")
  [ -s "$base_tarball" ] && base_options=(--basetgz "$base_tarball")
  local release_options=()
  # trixie's chroot is merged-/usr; bookworm's debootstrap makes it so too.
  [ "$release" = trixie ] && release_options+=(--merged-usr)

  # The package depends on systemd (for systemd-sysusers), so piuparts'
  # minimal chroot gets systemd installed with it, and systemd's own tmpfiles
  # leave these folders behind on purge. piuparts blames them on the package
  # under test in the upgrade test (--warn-on-others covers only the first).
  # They are systemd's, never qharden's: nothing of qharden is ignored.
  local systemd_leftovers=()
  local leftover
  for leftover in /root/.ssh/ /var/cache/private/ /var/lib/private/ /var/log/private/ \
    /var/lib/systemd/coredump/ /var/lib/systemd/pstore/; do
    systemd_leftovers+=(--ignore="$leftover")
  done
  # On trixie, too: debconf keeps its scratch folder when apt preconfigures
  # the dependencies' templates (qharden has no debconf templates), and
  # systemd's tmpfiles add its compatibility links for locale and keyboard.
  # Seen in the upgrade test, "not owned", one or the other per run.
  if [ "$release" = trixie ]; then
    for leftover in /var/cache/debconf/tmp.ci/ /etc/default/locale /etc/vconsole.conf; do
      systemd_leftovers+=(--ignore="$leftover")
    done
  fi
  local log=$deb_folder/piuparts.log
  rm -f "$log"  # piuparts appends, and an old run's PASS must not count
  local started status=0
  started=$(date +%s)
  echo "piuparts ($release): install, purge and upgrade from 0.1.9 of $(basename "$deb")"
  piuparts --distribution="$release" --mirror="$mirror main" "${base_options[@]}" \
    "${release_options[@]}" --log-file="$log" --log-level=info \
    --warn-on-others "${systemd_leftovers[@]}" --bindmount="$previous_repository" \
    --extra-repo="deb [trusted=yes] file://$previous_repository ./" \
    "$deb" > "$deb_folder/piuparts.out" 2>&1 || status=$?
  echo "piuparts ($release): $(($(date +%s) - started)) s, exit $status"
  grep -E 'INFO: (PASS|FAIL)|ERROR|FAIL:' "$log" | tail -20 || true
  if [ $status -ne 0 ]; then
    tail -40 "$deb_folder/piuparts.out"
    echo "piuparts ($release) failed (log: $log)"
    exit 1
  fi
  # Did the upgrade test run? piuparts skips it silently when apt knows no
  # older version, which would make this check pass without testing anything.
  # piuparts names the packages apt knows before it runs the upgrade test,
  # and says PASS for it only when it ran.
  if ! grep -q 'apt-cache knows about the following packages: qharden' "$log" ||
    ! grep -q 'PASS: Installation, upgrade and purging tests' "$log"; then
    echo "piuparts ($release): the upgrade from 0.1.9 did not run (log: $log)"
    exit 1
  fi
  echo "piuparts ($release): passed (log: $log)"
}

# The previous release's package in a flat repository apt can read: this
# tree's .deb with its version set to 0.1.9.
make_previous_release() {
  local deb=$1 repository=$2
  [ -s "$repository/Packages" ] && return 0
  local unpacked
  unpacked=$(mktemp -d)
  dpkg-deb -R "$deb" "$unpacked/package"
  sed -i 's/^Version: .*/Version: 0.1.9/' "$unpacked/package/DEBIAN/control"
  mkdir -p "$repository.partial"
  dpkg-deb --root-owner-group -b "$unpacked/package" "$repository.partial/qharden_0.1.9_$(dpkg --print-architecture).deb" > /dev/null
  (cd "$repository.partial" && apt-ftparchive packages . > Packages)
  rm -rf "$unpacked" "$repository"
  mv "$repository.partial" "$repository"
}

main "$@"
