# Booting Debian rootfs trees with systemd-nspawn for the root tier, on a
# machine whose PID 1 may not be systemd. Sourced after lib.sh (it uses
# defer, check and SKIP). The same steps as boot_nspawn_test.sh, which keeps
# its own copy for now.

# Removed by the test's own clean-up; a test that ctest kills with SIGKILL
# runs no trap, so a watchdog (nspawn_start_watchdog) runs what this file
# holds once the test is gone.
nspawn_watchdog_script=$(mktemp /tmp/qharden-nspawn-watchdog.XXXXXX)
defer "rm -f '$nspawn_watchdog_script'"
declare -A nspawn_pid=() nspawn_init=() nspawn_root=() nspawn_log=()

# nspawn_watchdog_add COMMAND: a line the watchdog runs if the test dies
# without its own clean-up, in reverse order as defer's. Lines must be
# harmless when the thing is gone.
nspawn_watchdog_add() { echo "$*" >> "$nspawn_watchdog_script"; }

# Started once: a session of its own (setsid -f), so neither ctest's kill of
# the process group nor the test's death takes it along. The test's scratch
# folder goes last.
nspawn_start_watchdog() {
  nspawn_watchdog_add "rm -rf '$test_scratch'"
  setsid -f bash -c '
    while kill -0 "$1" 2>/dev/null; do sleep 2; done
    [ -f "$2" ] && tac "$2" | bash
    rm -f "$2"' watchdog "$$" "$nspawn_watchdog_script" < /dev/null > /dev/null 2>&1
}

# nspawn_apt_proxy_options: mmdebstrap's apt does not read this machine's
# apt.conf, so its proxy (an apt-cacher-ng in CI, say) is passed on.
nspawn_apt_proxy_options() {
  local scheme proxy
  for scheme in http https; do
    proxy=$(apt-config dump "Acquire::$scheme::Proxy" 2>/dev/null | sed -n "s/^Acquire::$scheme::Proxy \"\(.*\)\";$/\1/p")
    [ -n "$proxy" ] && echo "--aptopt=Acquire::$scheme::Proxy \"$proxy\""
  done
  return 0
}

# nspawn_cached_rootfs NAME SUITE PACKAGE...: sets nspawn_tarball to a
# minbase rootfs of SUITE with PACKAGE... built by mmdebstrap, cached in
# $cache_dir as NAME-KEY.tar. The key holds this machine's versions of the
# packages (as the boot test's), so a machine that moved on to newer
# libraries builds a fresh one. Skips the test when there is no cached
# rootfs and the mirror is unreachable.
nspawn_cached_rootfs() {
  local name=$1 suite=$2
  shift 2
  local packages key_text key package
  packages=$(printf '%s\n' "$@" | sort -u)
  key_text=$(
    echo "suite=$suite variant=minbase format=1 mirror=${QHARDEN_BOOT_MIRROR:-default}"
    for package in $packages; do
      echo "$package=$(dpkg-query -W -f='${Version}' "$package" 2>/dev/null || true)"
    done
  )
  key=$(echo "$key_text" | sha256sum | cut -c1-16)
  nspawn_tarball=$cache_dir/$name-$key.tar
  mkdir -p "$cache_dir"
  # One builder at a time: two runs, or CI jobs, may share the cache.
  exec 8> "$cache_dir/$name.lock"
  flock -w 900 8 || { echo "FAIL: another run held $cache_dir/$name.lock for 15 minutes"; exit 1; }
  if [ ! -f "$nspawn_tarball" ]; then
    local mirror_uri=http://deb.debian.org/debian probe started build_log
    if [ -n "${QHARDEN_BOOT_MIRROR:-}" ]; then
      mirror_uri=$(grep -o '[a-z+]*://[^ ]*' <<< "$QHARDEN_BOOT_MIRROR" | head -1)
      mirror_uri=${mirror_uri%/}
    fi
    probe=$(mktemp)
    if ! timeout 60 /usr/lib/apt/apt-helper download-file \
        "$mirror_uri/dists/$suite/InRelease" "$probe" > "$probe.log" 2>&1; then
      sed 's/^/      /' "$probe.log"
      rm -f "$probe" "$probe.log"
      echo "SKIP: no cached rootfs ($nspawn_tarball) and the Debian mirror $mirror_uri is unreachable, so mmdebstrap cannot run"
      exit $SKIP
    fi
    rm -f "$probe" "$probe.log"
    echo "      building the $suite rootfs into $nspawn_tarball (packages: $(echo $packages))"
    rm -f "$nspawn_tarball.partial"
    started=$(date +%s)
    build_log=$cache_dir/$name-$key.log
    local apt_options=()
    mapfile -t apt_options < <(nspawn_apt_proxy_options)
    # No locales: they only make the tarball slower to unpack.
    if ! mmdebstrap --variant=minbase --format=tar --include="$(echo $packages | tr ' ' ',')" \
        --dpkgopt='path-exclude=/usr/share/locale/*' "${apt_options[@]}" \
        "$suite" "$nspawn_tarball.partial" ${QHARDEN_BOOT_MIRROR:+"$QHARDEN_BOOT_MIRROR"} > "$build_log" 2>&1; then
      tail -40 "$build_log" | sed 's/^/      /'
      rm -f "$nspawn_tarball.partial"
      echo "FAIL: mmdebstrap could not build the rootfs (log: $build_log)"
      exit 1
    fi
    mv "$nspawn_tarball.partial" "$nspawn_tarball"
    echo "$key_text" > "$cache_dir/$name-$key.packages"
    echo "      built in $(($(date +%s) - started)) s"
  fi
  # mtime is "last used": tarballs no run has used for 30 days go.
  touch "$nspawn_tarball" "$cache_dir/$name-$key".*
  find "$cache_dir" -maxdepth 1 -name "$name-*" -mtime +30 -delete 2>/dev/null || true
  flock -u 8
}

# The container's init is nspawn's descendant whose pid in its own namespace
# is 1 (the last NSpid field of /proc/PID/status).
nspawn_find_init() {
  local parent=$1 pid
  for pid in $(pgrep -P "$parent") $(pgrep -P "$parent" | xargs -r -n1 pgrep -P); do
    [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status" 2>/dev/null)" = 1 ] && { echo "$pid"; return 0; }
  done
  return 1
}

# nspawn_boot NAME ROOT [NSPAWN OPTION]...: boots ROOT under its own systemd
# as machine NAME and waits until its init runs. --register=no needs no
# machined; where systemd is not this machine's init (no system bus),
# --keep-unit keeps the container in the test's own cgroup instead of a
# transient scope. The journal stays in the rootfs (--link-journal=no) and
# the rootfs's resolv.conf and timezone are left alone.
nspawn_boot() {
  local name=$1 root=$2
  shift 2
  local scope_options=() attempt init started
  [ -d /run/systemd/system ] || scope_options=(--keep-unit)
  nspawn_root[$name]=$root
  nspawn_log[$name]=$root.nspawn.log
  systemd-nspawn --directory="$root" --boot --machine="$name" --register=no "${scope_options[@]}" \
    --link-journal=no --resolv-conf=off --timezone=off --console=read-only "$@" \
    < /dev/null > "${nspawn_log[$name]}" 2>&1 &
  nspawn_pid[$name]=$!
  defer "nspawn_stop '$name'"
  init=
  for attempt in $(seq 1 100); do
    init=$(nspawn_find_init "${nspawn_pid[$name]}") && break
    kill -0 "${nspawn_pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$init" ] || { sed 's/^/      /' "${nspawn_log[$name]}"; echo "FAIL: container $name did not start"; exit 1; }
  nspawn_init[$name]=$init
  # The start time guards the watchdog against a reused pid.
  started=$(awk '{ print $22 }' "/proc/$init/stat")
  nspawn_watchdog_add "[ \"\$(awk '{ print \$22 }' /proc/$init/stat 2>/dev/null)\" = $started ] && kill -KILL $init; sleep 1; rm -rf '/run/systemd/nspawn/propagate/$name'"
}

# nspawn_inside NAME COMMAND...: COMMAND in every namespace of the
# container, with a clean environment.
nspawn_inside() {
  local name=$1
  shift
  nsenter --target "${nspawn_init[$name]}" --all env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

# nspawn_wait_running NAME TIMEOUT: prints the system state once systemd
# says the boot is over ("running", or "degraded" when a unit failed).
nspawn_wait_running() {
  local name=$1 timeout=$2 attempt
  # is-system-running --wait needs the manager's private socket, which
  # appears a moment after init starts.
  for attempt in $(seq 1 $((timeout * 10))); do
    nspawn_inside "$name" test -S /run/systemd/private 2>/dev/null && break
    kill -0 "${nspawn_pid[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  nspawn_inside "$name" timeout "$timeout" systemctl is-system-running --wait 2>&1 || true
}

# nspawn_poweroff NAME: an orderly power-off; 0 when nspawn exited 0 within
# 60 s. Killing is left to nspawn_stop.
nspawn_poweroff() {
  local name=$1 attempt status=0
  [ -n "${nspawn_pid[$name]:-}" ] || return 1
  nspawn_inside "$name" systemctl poweroff --no-block > /dev/null 2>&1 || true
  for attempt in $(seq 1 60); do
    kill -0 "${nspawn_pid[$name]}" 2>/dev/null || break
    sleep 1
  done
  kill -0 "${nspawn_pid[$name]}" 2>/dev/null && return 1
  wait "${nspawn_pid[$name]}" 2>/dev/null || status=$?
  nspawn_pid[$name]=
  return $status
}

# Clean-up for a container that is still there: SIGTERM asks nspawn for an
# orderly shutdown; after 30 s its init (and so its pid namespace) is killed.
nspawn_stop() {
  local name=$1 pid=${nspawn_pid[$1]:-} attempt
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for attempt in $(seq 1 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  # The init is killed only while its nspawn lives: once nspawn is gone,
  # the pid may already be another process's.
  if kill -0 "$pid" 2>/dev/null; then
    [ -n "${nspawn_init[$name]:-}" ] && kill -KILL "${nspawn_init[$name]}" 2>/dev/null
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  nspawn_pid[$name]=
  rm -rf "/run/systemd/nspawn/propagate/$name"
}

# nspawn_fleet_rootfs_with_deb ROOT DEB LOG: unpacks the cached bookworm
# rootfs that the container tests share (systemd and the bus for qhardend,
# python3 and python3-apt for Ansible's modules, sshd, node_exporter, xinetd,
# and what DEB depends on) into ROOT, and installs DEB there with apt. Its
# postinst makes the user and enables the units, and starts nothing. One
# package list, so that one cached build serves every test.
nspawn_fleet_rootfs_with_deb() {
  local root=$1 deb=$2 log=$3 depends
  depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/ //g' | grep -v '^$')
  # shellcheck disable=SC2086
  nspawn_cached_rootfs fleet-rootfs bookworm systemd dbus python3 python3-apt openssh-server iproute2 \
    prometheus-node-exporter xinetd $depends
  mkdir "$root"
  tar -C "$root" --numeric-owner -xpf "$nspawn_tarball"
  cp "$deb" "$root/tmp/"
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y "/tmp/$(basename "$deb")" \
    > "$log" 2>&1 ||
    { tail -30 "$log"; echo "FAIL: apt-get install $(basename "$deb") in the rootfs"; exit 1; }
  rm -f "$root/tmp/$(basename "$deb")"
}
