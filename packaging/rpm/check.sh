#!/usr/bin/env bash
# Checks packaging/rpm/qharden.spec on this Debian machine, with the stand-in
# EL9 macros of packaging/rpm/test-macros:
#   check.sh           rpmspec -P parses the spec, no macro is left unexpanded,
#                      no file is packaged in /etc, rpmlint passes on the spec
#                      (seconds; ctest's lint.rpm_spec runs this)
#   check.sh --build   also: a source tarball of the tree, rpmbuild -bb
#                      --nodeps against this machine's libraries (build, the
#                      unit+cli tests of %check, install, %files, -debuginfo
#                      split), rpmlint on the binary RPM, its file list, modes
#                      and flags against the expected list below, and its
#                      scriptlets (10-15 minutes on 2 CPUs; for
#                      packaging/bootstrap.sh release-check)
# Exit status: 0 pass, 1 fail, 2 usage, 77 skip: rpm or rpmlint is not
# installed (Debian packages rpm, rpmlint). With --build a missing tool is a
# failure, not a skip; --build also needs elfutils (eu-strip) and git.
#
# Source tarball (--build). A clean git tree: `git archive
# --prefix=qharden-VERSION/ HEAD`, the release tarball. A tree with changes
# or new files: a tar of the work tree's tracked files (as they are now, minus
# deleted ones) and its untracked files that .gitignore does not ignore, under
# the same prefix (the transform's S flag leaves symlink targets alone, as
# git archive does; the test fixtures have relative symlinks). Nothing is
# committed, staged or stashed (`git stash create` would leave new files
# out). The two differ only if .gitattributes ever marks files export-ignore,
# which the fallback does not read (none today).
#
# rpmlint. Debian's rpmlint 2.4 runs with its built-in defaults plus two
# settings of Fedora's configuration (rpmlint's configs/Fedora/fedora.toml,
# which EPEL's rpmlint uses): CompressExtension "gz" (brp-compress gzips man
# pages; the default expects bz2 and then also misreads qharden.toml.5's
# section as "toml") and ReleaseExtension (so the %changelog's 0.2.0-1 matches
# the release 1.el9). The lines left are filtered by their exact whole text,
# never by tag alone, each for this reason:
#  on the spec:
#   no-buildroot-tag                rpm >= 4.6 ignores BuildRoot (EL9 has
#                                   4.16); Fedora/EPEL say to omit it, and
#                                   fedora.toml filters the tag
#   invalid-url Source0: qharden-VERSION.tar.gz
#                                   no upstream download location: the tarball
#                                   is made from the tree with git archive
#  on the binary RPM (--build):
#   no-signature                    this test build is not signed; signing is
#                                   the release's (rpmsign), not the spec's;
#                                   fedora.toml filters it
#   no-packager-tag, no-group-tag   Fedora/EPEL guidelines: no Packager tag,
#                                   Group is obsolete; fedora.toml filters both
#   invalid-license MIT             rpmlint's default ValidLicenses list is
#                                   empty; MIT is in Fedora's licenses.toml
#   no-manual-page-for-binary qharden, ... qhardend
#                                   a bug of rpmlint 2.4.0 (Debian 12's):
#                                   FilesCheck notes each man page's section
#                                   ("8"), not its name, so it reports every
#                                   binary; later rpmlint notes the name. The
#                                   pages are in the RPM (file list below)
#   postin-without-ghost-file-creation /var/lib/qharden
#                                   on purpose: systemd creates the folder
#                                   (StateDirectory= of qharden-fixer@.service)
#                                   at the first fix, and installing must not
#                                   change the host (the spec's %files says
#                                   why it is %ghost); fedora.toml filters it
set -uo pipefail

source_dir=${QHARDEN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
spec=$source_dir/packaging/rpm/qharden.spec
macros=$source_dir/packaging/rpm/test-macros

build=0
case "${1:-}" in
  "") ;;
  --build) build=1 ;;
  *) echo "usage: $0 [--build]" >&2; exit 2 ;;
esac

for tool in rpmspec rpmlint; do
  if ! command -v "$tool" > /dev/null; then
    echo "skip: $tool is not installed (apt-get install rpm rpmlint; packaging/bootstrap.sh test installs them)"
    exit 77
  fi
done
# --build was asked for: a missing tool fails it rather than skipping it.
# eu-strip (elfutils) is find-debuginfo's, for the -debuginfo packages.
if [ $build -eq 1 ]; then
  for tool in rpmbuild rpm find-debuginfo eu-strip git tar; do
    command -v "$tool" > /dev/null ||
      { echo "FAIL  $tool is not installed (apt-get install rpm rpmlint elfutils git)"; exit 1; }
  done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
topdir=$work/top
mkdir -p "$topdir/SOURCES"
# Source1 comes from the tree being checked; %prep compares it with the
# tarball's copy.
cp "$source_dir/units/qharden.sysusers" "$topdir/SOURCES/qharden.sysusers"
rpm_args=(--load "$macros" --define "_topdir $topdir")
# Fedora's rpmlint settings (header).
cat > "$work/rpmlint-el9.toml" <<'EOF'
CompressExtension = "gz"
ReleaseExtension = '\.(fc|rhe?l|el|eln)\d+(?=\.|$)'
EOF

failures=0
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
started=$EPOCHREALTIME
step_started=$started
elapsed() { # seconds since $1, one decimal
  awk -v from="$1" -v to="$EPOCHREALTIME" 'BEGIN { printf "%.1f", to - from }'
}
timing() { echo "time  $1: $(elapsed "$step_started") s"; step_started=$EPOCHREALTIME; }

version=$(rpmspec -q --srpm --qf '%{VERSION}' "${rpm_args[@]}" "$spec" 2> /dev/null) ||
  version=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
# Lines rpmlint may print for the spec (the reasons are in the header).
allowed_spec_lines=(
  "qharden.spec: W: no-buildroot-tag"
  "qharden.spec: W: invalid-url Source0: qharden-$version.tar.gz"
)
# Runs rpmlint on $1; fails on any W:/E: line not in the remaining arguments.
rpmlint_clean() {
  local target=$1
  shift
  local output line allowed left=()
  output=$(rpmlint --config "$work/rpmlint-el9.toml" "$target" 2>&1)
  while IFS= read -r line; do
    [[ $line =~ :\ [WE]:\  ]] || continue
    for allowed in "$@"; do
      [ "$line" = "$allowed" ] && continue 2
    done
    left+=("$line")
  done <<< "$output"
  if [ ${#left[@]} -ne 0 ]; then
    printf '%s\n' "$output"
    fail "rpmlint $(basename "$target"): ${#left[@]} unexplained warning(s)/error(s):"
    printf '        %s\n' "${left[@]}"
    return 1
  fi
  echo "ok    rpmlint $(basename "$target"): clean but for the $# explained line(s) filtered in check.sh"
}

# 1. The spec parses with the stand-in macros, and every macro it uses is one
# of them or rpm's own (an unknown one would be left as %name).
if rpmspec -P "${rpm_args[@]}" "$spec" > "$work/parsed.spec" 2> "$work/parse.err"; then
  if [ -s "$work/parse.err" ]; then
    cat "$work/parse.err"
    fail "rpmspec -P: printed warnings or errors"
  else
    echo "ok    rpmspec -P parses the spec"
  fi
  unexpanded=$(grep -nE '^[[:space:]]*%(cmake|ctest|systemd_|sysusers_|_unitdir|_sysusersdir|\{)' "$work/parsed.spec" |
    grep -vE '^[0-9]+:%(prep|build|install|check|pre|post|preun|postun|files|changelog|description|license|doc|dir|ghost)\b')
  if [ -n "$unexpanded" ]; then
    fail "macros left unexpanded (missing from EL9 or from test-macros?):"
    printf '        %s\n' "$unexpanded"
  fi
  in_etc=$(sed -n '/^%files/,/^%changelog/p' "$work/parsed.spec" | grep -E '(^|[[:space:]])/etc(/|$)')
  if [ -n "$in_etc" ]; then
    fail "%files lists a path under /etc:"
    printf '        %s\n' "$in_etc"
  fi
  grep -q "useradd -r -g 'qharden'" "$work/parsed.spec" || fail "%pre does not create the qharden user"
else
  cat "$work/parse.err"
  fail "rpmspec -P could not parse $spec"
fi
timing "rpmspec -P"
rpmlint_clean "$spec" "${allowed_spec_lines[@]}"
timing "rpmlint on the spec"

if [ $build -eq 0 ]; then
  [ $failures -eq 0 ] || { echo "FAIL  $failures check(s) failed"; exit 1; }
  echo "ok    spec checks passed in $(elapsed "$started") s"
  exit 0
fi
[ $failures -eq 0 ] || { echo "FAIL  $failures check(s) failed; not building"; exit 1; }

# 2. The source tarball (header).
tarball=$topdir/SOURCES/qharden-$version.tar.gz
if ! git -C "$source_dir" rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  fail "$source_dir is not a git work tree; --build makes its tarball with git"
  exit 1
fi
if [ -z "$(git -C "$source_dir" status --porcelain --untracked-files=normal)" ]; then
  git -C "$source_dir" archive --format=tar.gz --prefix="qharden-$version/" -o "$tarball" HEAD ||
    { fail "git archive"; exit 1; }
  echo "ok    tarball: git archive HEAD ($(git -C "$source_dir" rev-parse --short HEAD), clean tree)"
else
  (cd "$source_dir" &&
    git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
      [ -e "$file" ] || [ -L "$file" ] && printf '%s\0' "$file"
    done |
    tar --create --gzip --file="$tarball" --null --no-recursion --sort=name --owner=0 --group=0 \
      --numeric-owner --mtime="@$(git log -1 --format=%ct HEAD)" --transform="s,^,qharden-$version/,S" \
      --files-from=-) ||
    { fail "tar of the work tree"; exit 1; }
  echo "ok    tarball: work tree (tracked + new files; uncommitted changes included)"
fi
echo "      $(tar -tzf "$tarball" | wc -l) entries, $(du -k "$tarball" | cut -f1) KiB"
# Symlinks keep their targets (the fixtures' relative links): checked here,
# not found out through failing tests at the end of a long build.
symlinks_tree=$(cd "$source_dir" && git ls-files -s | awk '$1 == 120000 { print $4 }' |
  while IFS= read -r link; do [ -L "$link" ] && echo "$link -> $(readlink "$link")"; done | sort)
symlinks_tarball=$(tar -tvzf "$tarball" | sed -n "s,^l.* qharden-$version/\(.*\ -> .*\)$,\1,p" | sort)
if [ "$symlinks_tree" != "$symlinks_tarball" ]; then
  diff <(printf '%s\n' "$symlinks_tree") <(printf '%s\n' "$symlinks_tarball")
  fail "the tarball's symlinks differ from the tree's (< tree, > tarball)"
  exit 1
fi
timing "tarball"

# 3. rpmbuild -bb: %prep, %build, %check, %install and the %files check
# (installed but unpackaged files are an error in rpm's default
# %_unpackaged_files_terminate_build).
if rpmbuild -bb --nodeps "${rpm_args[@]}" "$spec" > "$work/rpmbuild.log" 2>&1; then
  echo "ok    rpmbuild -bb --nodeps (log: $(grep -c '' "$work/rpmbuild.log") lines)"
  grep -E 'tests passed|tests failed' "$work/rpmbuild.log" | sed 's/^/      %check: /'
else
  kept_log=${TMPDIR:-/tmp}/qharden-rpmbuild.$$.log
  cp "$work/rpmbuild.log" "$kept_log"
  tail -n 80 "$work/rpmbuild.log"
  fail "rpmbuild -bb --nodeps (the last 80 log lines above; whole log: $kept_log)"
  exit 1
fi
timing "rpmbuild -bb"

rpm_file=$(find "$topdir/RPMS" -name "qharden-$version-*.rpm" | head -n 1)
[ -n "$rpm_file" ] || { fail "no binary RPM under $topdir/RPMS"; exit 1; }
echo "      $(basename "$rpm_file")"
# EL9 splits the debug info off the same way (find-debuginfo).
for debug in debuginfo debugsource; do
  debug_file=$(find "$topdir/RPMS" -name "qharden-$debug-$version-*.rpm" | head -n 1)
  if [ -n "$debug_file" ]; then
    echo "      $(basename "$debug_file") ($(rpm -qlp "$debug_file" | wc -l) files)"
  else
    fail "no qharden-$debug RPM: find-debuginfo found no debug info"
  fi
done

# 4. rpmlint on the binary RPM (the reasons are in the header).
allowed_rpm_lines=(
  "qharden.x86_64: E: no-signature"
  "qharden.x86_64: E: no-packager-tag"
  "qharden.x86_64: E: no-group-tag"
  "qharden.x86_64: W: invalid-license MIT"
  "qharden.x86_64: W: no-manual-page-for-binary qharden"
  "qharden.x86_64: W: no-manual-page-for-binary qhardend"
  "qharden.x86_64: W: postin-without-ghost-file-creation /var/lib/qharden"
)
rpmlint_clean "$rpm_file" "${allowed_rpm_lines[@]}"
timing "rpmlint on the RPM"

# 5. Its files: mode, rpm's file flags (d doc, l license, g ghost) and path.
# The /usr/lib/.build-id links depend on the binaries' build ids; EL9's rpm
# adds them too (_build_id_links compat).
expected_files=$(
  cat <<'EOF'
-rwxr-xr-x  /usr/libexec/qharden-fixer
-rw-r--r--  /usr/lib/systemd/system/qharden-audit.service
-rw-r--r--  /usr/lib/systemd/system/qharden-audit.timer
-rw-r--r--  /usr/lib/systemd/system/qharden-fixer.socket
-rw-r--r--  /usr/lib/systemd/system/qharden-fixer@.service
-rw-r--r--  /usr/lib/systemd/system/qharden-reader.socket
-rw-r--r--  /usr/lib/systemd/system/qharden-reader@.service
-rw-r--r--  /usr/lib/systemd/system/qhardend.service
-rw-r--r--  /usr/lib/sysusers.d/qharden.conf
-rwxr-xr-x  /usr/sbin/qharden
-rwxr-xr-x  /usr/sbin/qhardend
-rw-r--r--  /usr/share/bash-completion/completions/qharden
-rw-r--r--  /usr/share/dbus-1/system-services/org.qharden.Agent1.service
-rw-r--r--  /usr/share/dbus-1/system.d/org.qharden.Agent1.conf
drwxr-xr-x  /usr/share/doc/qharden
-rw-r--r-- d /usr/share/doc/qharden/README.md
drwxr-xr-x  /usr/share/doc/qharden/examples
-rw-r--r-- d /usr/share/doc/qharden/examples/qharden.toml
drwxr-xr-x  /usr/share/licenses/qharden
-rw-r--r-- l /usr/share/licenses/qharden/LICENSE
-rw-r--r-- d /usr/share/man/man5/qharden.toml.5.gz
-rw-r--r-- d /usr/share/man/man8/qharden.8.gz
-rw-r--r-- d /usr/share/man/man8/qhardend.8.gz
-rw-r--r--  /usr/share/polkit-1/actions/org.qharden.Agent1.policy
drwxr-xr-x  /usr/share/qharden
drwxr-xr-x  /usr/share/qharden/monitoring
-rw-r--r--  /usr/share/qharden/monitoring/qharden-alerts.yml
-rw-r--r--  /usr/share/qharden/monitoring/qharden-fleet.json
drwxr-xr-x  /usr/share/doc/qharden/monitoring
-rw-r--r-- d /usr/share/doc/qharden/monitoring/README.md
-rw-r--r-- d /usr/share/doc/qharden/monitoring/runbook.md
drwxr-xr-x g /var/lib/qharden
EOF
)
actual_files=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm_file" |
  grep -v ' /usr/lib/\.build-id' | sort -k3)
if diff -u <(sort -k3 <<< "$expected_files") <(printf '%s\n' "$actual_files") > "$work/files.diff"; then
  echo "ok    rpm -qlp: $(wc -l <<< "$actual_files") files, modes and flags as expected"
else
  cat "$work/files.diff"
  fail "rpm -qlp differs from the expected list (- expected, + in the RPM)"
fi
build_ids=$(rpm -qlp "$rpm_file" | grep -c '^/usr/lib/\.build-id/.*/' || true)
echo "      (+ $build_ids /usr/lib/.build-id entries, not compared)"
rpm -qp --scripts "$rpm_file" > "$work/scripts"
grep -q "useradd -r -g 'qharden'" "$work/scripts" || fail "the RPM's %pre does not create the qharden user"
grep -q 'install-system-units qhardend.service qharden-audit.timer' "$work/scripts" ||
  fail "the RPM's %post does not apply the presets of qhardend.service and qharden-audit.timer"
timing "file list and scriptlets"

[ $failures -eq 0 ] || { echo "FAIL  $failures check(s) failed"; exit 1; }
echo "ok    spec and RPM checks passed in $(elapsed "$started") s"
