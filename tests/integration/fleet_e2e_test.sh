#!/usr/bin/env bash
# Fleet end to end: the Ansible collection (packaging/ansible) rolls qharden
# out to two booted Debian containers over ssh, and a real Prometheus watches
# them through node_exporter's textfile collector.
#
# Two containers boot with systemd-nspawn -b from one cached mmdebstrap rootfs
# with the .deb (QHARDEN_DEB) installed by apt: mx1 has a Plesk-like
# /etc/xinetd.d/smtp_psa whose tcp-env runs without -R; mx2's already has
# -Rt0. Each has a network namespace of its own, joined by a veth pair to a
# bridge in a "controller" namespace, which runs ansible-playbook (Debian's
# ansible-core, builtin ssh to each container's own sshd) and Prometheus.
# Nothing is added to this machine's own network namespace. The sequence:
#   a. --syntax-check of the playbooks;
#   b. converge with --check --diff: the diff shows -Rt0 and no file in
#      either container changed (sha256 of every file);
#   c. converge: mx1 changed;
#   d. converge again: changed=0 on both;
#   e. `qharden audit --json --rule tcp-env.flags` passes on mx1;
#   f. `qharden rollback --last` on mx1 restores the seeded bytes;
#   g. converge with --check: mx1 would change again, mx2 would not;
#   h. qharden-audit.service writes qharden.prom in each container, the
#      container's node_exporter serves it, and Prometheus 2.42 (Debian's,
#      unpacked from its .deb, not installed) with the shipped alert rules,
#      every `for:` made 0s, fires QhardenFindingFailing for tcp-env.flags
#      on mx1 and not on mx2;
#   i. rollout.yml stops before its second batch when the first host's apply
#      is refused (mx1's smtp_psa is a symlink, which qharden never writes
#      through), and mx2, which would have had something to fix, is
#      untouched.
# Each phase's duration and the number of qharden_* series per host are
# printed. Skipped (77) without root, QHARDEN_DEB, mmdebstrap,
# systemd-nspawn or ansible-playbook, or when the Debian mirror is
# unreachable and nothing is cached.
#
# lib.sh wants a qharden binary; the one this test runs is the package's,
# inside the containers.
QHARDEN=${QHARDEN:-/usr/sbin/qharden}
source "$(dirname "$0")/lib.sh"
skip() { echo "SKIP: $*"; exit $SKIP; }
[ "$(id -u)" -eq 0 ] || skip "needs root: mmdebstrap, systemd-nspawn and network namespaces"
[ -n "${QHARDEN_DEB:-}" ] ||
  skip "QHARDEN_DEB is not set: this test installs a built .deb (packaging/build-deb.sh bookworm) into its containers"
for program in mmdebstrap systemd-nspawn ansible-playbook; do
  command -v "$program" >/dev/null 2>&1 ||
    skip "$program is not installed, so the fleet cannot be built, booted or rolled out to (packaging/bootstrap.sh test installs it)"
done
for program in ssh ssh-keygen nsenter setpriv chroot pgrep setsid flock sha256sum dpkg-deb python3 ip; do require_program "$program"; done
unshare -m true 2>/dev/null || skip "this machine cannot create mount namespaces, which mmdebstrap and systemd-nspawn need"
source "$(dirname "$0")/nspawn_lib.sh"

SOURCE_DIR=${QHARDEN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fleet_dir=$SOURCE_DIR/tests/integration/fleet
deb=$QHARDEN_DEB
[ -f "$deb" ] || { echo "FAIL: QHARDEN_DEB=$deb is not a file"; exit 1; }
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
cache_dir=${QHARDEN_TEST_CACHE:-/var/cache/qharden-tests}
boot_timeout=${QHARDEN_BOOT_TIMEOUT:-120}

# Phase durations, printed at the end, also when the test fails early.
phase_names=()
phase_seconds=()
phase_started=
phase_name=
phase() {
  local now
  now=$(date +%s.%N)
  if [ -n "$phase_name" ]; then
    phase_names+=("$phase_name")
    phase_seconds+=("$(awk -v s="$phase_started" -v e="$now" 'BEGIN { printf "%.1f", e - s }')")
  fi
  phase_name=$1
  phase_started=$now
  [ -n "$phase_name" ] && echo "---- $phase_name"
  return 0
}
print_phases() {
  local index
  phase ""
  echo "phase durations:"
  for index in "${!phase_names[@]}"; do
    printf '      %-28s %6s s\n' "${phase_names[$index]}" "${phase_seconds[$index]}"
  done
}
trap 'print_phases; on_exit' EXIT
# show_output TEXT [LINES]: the last lines of a command's output, indented.
show_output() { sed 's/^/      | /' <<< "$1" | tail -"${2:-60}"; }
nspawn_start_watchdog

work=$(make_tree)
hosts=(mx1 mx2)
declare -A address=([mx1]=10.213.47.11 [mx2]=10.213.47.12)
controller_address=10.213.47.1
run_id=${work##*.}
run_id=${run_id,,}
controller_ns=qhf-ctl-$run_id
declare -A host_ns=([mx1]=qhf-mx1-$run_id [mx2]=qhf-mx2-$run_id)
declare -A root=([mx1]=$work/mx1 [mx2]=$work/mx2)
textfile_dir=/var/lib/prometheus/node-exporter

phase "rootfs (cached) and .deb"
nspawn_fleet_rootfs_with_deb "${root[mx1]}" "$deb" "$work/install.log"
echo "      installed $(basename "$deb") with apt"
check "qharden is installed in the rootfs" test -x "${root[mx1]}/usr/sbin/qharden"
check "node_exporter is installed in the rootfs" test -x "${root[mx1]}/usr/bin/prometheus-node-exporter"
check "node_exporter's textfile folder $textfile_dir exists" test -d "${root[mx1]}$textfile_dir"
cp -a --reflink=auto "${root[mx1]}" "${root[mx2]}"

phase "seed hosts, keys, network"
ssh-keygen -q -t ed25519 -N '' -C qharden-fleet-test -f "$work/id_ed25519"
: > "$work/known_hosts"
smtp_psa_unfixed=$SOURCE_DIR/tests/fixtures/hosts/plesk/etc/xinetd.d/smtp_psa
# mx2's smtp_psa is the same service already fixed as qharden fixes it.
sed 's/^\(\tserver_args\t= \)/\1-Rt0 /' "$smtp_psa_unfixed" > "$work/smtp_psa.fixed"
grep -q 'server_args.*= -Rt0 /usr/sbin/rblsmtpd' "$work/smtp_psa.fixed" ||
  { echo "FAIL: could not make a fixed smtp_psa from $smtp_psa_unfixed"; exit 1; }
for host in "${hosts[@]}"; do
  r=${root[$host]}
  echo "$host" > "$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n' "$host" > "$r/etc/hosts"
  # Host keys of its own (the two trees are copies), pinned in known_hosts:
  # ssh checks them strictly.
  rm -f "$r"/etc/ssh/ssh_host_*
  ssh-keygen -q -A -f "$r"
  echo "${address[$host]} $(cut -d' ' -f1,2 "$r/etc/ssh/ssh_host_ed25519_key.pub")" >> "$work/known_hosts"
  install -d -m 700 "$r/root/.ssh"
  install -m 600 "$work/id_ed25519.pub" "$r/root/.ssh/authorized_keys"
  cp "$SOURCE_DIR/tests/fixtures/hosts/plesk/etc/xinetd.conf" "$r/etc/xinetd.conf"
  # xinetd starts only services whose server exists; qmail is not in
  # Debian, so a stand-in answers 220 on port 25.
  write_tcp_env_stand_in "$r/var/qmail/bin/tcp-env"
  mkdir -p "$r/var/log/journal"
done
cp "$smtp_psa_unfixed" "${root[mx1]}/etc/xinetd.d/smtp_psa"
cp "$work/smtp_psa.fixed" "${root[mx2]}/etc/xinetd.d/smtp_psa"
chmod 644 "${root[mx1]}/etc/xinetd.d/smtp_psa" "${root[mx2]}/etc/xinetd.d/smtp_psa"
seeded_mx1=$(sha256sum < "${root[mx1]}/etc/xinetd.d/smtp_psa")

# The controller's namespace holds a bridge; each container's namespace gets
# a veth pair's end (eth0), the other end on the bridge. Addresses are set
# before boot, so sshd and node_exporter listen on them from the start.
make_namespace "$controller_ns"
nspawn_watchdog_add "ip netns del '$controller_ns'"
ip -n "$controller_ns" link add br0 type bridge
ip -n "$controller_ns" addr add "$controller_address/24" dev br0
ip -n "$controller_ns" link set br0 up
for host in "${hosts[@]}"; do
  make_namespace "${host_ns[$host]}"
  nspawn_watchdog_add "ip netns del '${host_ns[$host]}'"
  ip -n "$controller_ns" link add "v-$host" type veth peer name eth0 netns "${host_ns[$host]}"
  ip -n "$controller_ns" link set "v-$host" master br0 up
  ip -n "${host_ns[$host]}" addr add "${address[$host]}/24" dev eth0
  ip -n "${host_ns[$host]}" link set eth0 up
done
in_controller() { ip netns exec "$controller_ns" "$@"; }

phase "boot both containers"
for host in "${hosts[@]}"; do
  nspawn_boot "$host" "${root[$host]}" --network-namespace-path="/run/netns/${host_ns[$host]}"
done
for host in "${hosts[@]}"; do
  state=$(nspawn_wait_running "$host" "$boot_timeout")
  check "$host boots (system state '$state')" bash -c '[ "$1" = running ] || [ "$1" = degraded ]' _ "$state"
  failed_units=$(nspawn_inside "$host" systemctl --failed --no-pager --plain --no-legend 2>&1) || true
  [ -n "$failed_units" ] && echo "$failed_units" | sed "s/^/      $host failed unit: /"
  for unit in ssh.service prometheus-node-exporter.service qhardend.service xinetd.service; do
    active=$(nspawn_inside "$host" systemctl is-active "$unit" 2>&1) || true
    check "$host: $unit is active ($active)" [ "$active" = active ]
  done
done

phase "reach: ssh, ansible, node_exporter"
export ANSIBLE_CONFIG=$work/ansible.cfg ANSIBLE_HOME=$work/ansible-home ANSIBLE_NOCOLOR=1
mkdir -p "$work/ansible-home" "$work/cp"
# The collection is read from the source tree, as from a checkout.
collections=$SOURCE_DIR/packaging/ansible
cat > "$ANSIBLE_CONFIG" <<CFG
[defaults]
inventory = $work/inventory.ini
collections_path = $collections
local_tmp = $work/ansible-home/tmp
retry_files_enabled = False
interpreter_python = /usr/bin/python3
forks = 5

[connection]
# One ssh round trip per task instead of four (mkdir, put, run, rm): the
# five playbook runs take half the time.
pipelining = True

[ssh_connection]
control_path_dir = $work/cp
ssh_args = -o UserKnownHostsFile=$work/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes -o ControlMaster=auto -o ControlPersist=60s
CFG
{
  echo "[qharden_hosts]"
  for host in "${hosts[@]}"; do echo "$host ansible_host=${address[$host]}"; done
  echo
  echo "[qharden_hosts:vars]"
  echo "ansible_user=root"
  echo "ansible_ssh_private_key_file=$work/id_ed25519"
} > "$work/inventory.ini"
# Once the test is over, the ssh master connections that ControlPersist
# keeps are closed (they live in the controller's namespace).
defer "for socket in '$work'/cp/*; do [ -S \"\$socket\" ] && ip netns exec '$controller_ns' ssh -o ControlPath=\"\$socket\" -O exit qharden-fleet; done"

# on_host HOST COMMAND: COMMAND over ssh, as an operator would run it.
on_host() {
  local host=$1
  shift
  in_controller ssh -i "$work/id_ed25519" -o UserKnownHostsFile="$work/known_hosts" -o StrictHostKeyChecking=yes \
    -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=10 "root@${address[$host]}" "$@"
}
for host in "${hosts[@]}"; do
  reached=$(on_host "$host" hostname 2>&1) || true
  check "ssh from the controller's namespace reaches $host's sshd at ${address[$host]} ($reached)" [ "$reached" = "$host" ]
done
ping_output=$(in_controller ansible qharden_hosts -m ansible.builtin.ping 2>&1) || true
check "ansible reaches both hosts over ssh (ping)" \
  bash -c '[ "$(grep -c "SUCCESS" <<< "$1")" -eq 2 ]' _ "$ping_output"
[ "$(grep -c SUCCESS <<< "$ping_output")" -eq 2 ] || show_output "$ping_output"
for host in "${hosts[@]}"; do
  scrape=$(in_controller python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "http://${address[$host]}:9100/metrics" 2>&1) || true
  check "node_exporter in $host answers on ${address[$host]}:9100" contains "$scrape" "node_exporter_build_info"
  check "$host's node_exporter has its textfile collector on" \
    contains "$scrape" 'node_scrape_collector_success{collector="textfile"} 1'
done

phase "prometheus"
# Debian's prometheus, unpacked and not installed: installing it would
# start a Prometheus on this machine (its postinst does).
prometheus_tree=$cache_dir/prometheus
prometheus=$prometheus_tree/usr/bin/prometheus
if [ -f "$SOURCE_DIR/tests/lint/unpack-prometheus.sh" ]; then
  bash "$SOURCE_DIR/tests/lint/unpack-prometheus.sh" "$prometheus_tree" ||
    skip "Prometheus could not be unpacked from Debian's packages (tests/lint/unpack-prometheus.sh)"
elif [ ! -x "$prometheus" ]; then
  mkdir "$work/prometheus-deb"
  (cd "$work/prometheus-deb" && apt-get download -qq prometheus) > "$work/prometheus-download.log" 2>&1 ||
    skip "apt-get download prometheus failed, so there is no Prometheus to run ($(tail -1 "$work/prometheus-download.log"))"
  mkdir -p "$prometheus_tree.partial"
  dpkg -x "$work"/prometheus-deb/prometheus_*.deb "$prometheus_tree.partial"
  rm -rf "$prometheus_tree"
  mv "$prometheus_tree.partial" "$prometheus_tree"
fi
[ -x "$prometheus" ] || { echo "FAIL: no prometheus binary in $prometheus_tree"; exit 1; }
"$prometheus" --version 2>&1 | head -1 | sed 's/^/      /'
alerts_source=$SOURCE_DIR/packaging/monitoring/qharden-alerts.yml
[ -f "$alerts_source" ] || { echo "FAIL: $alerts_source is missing"; exit 1; }
# The real durations are promtool's to test; here each alert fires at the
# first evaluation that sees its condition.
sed -E 's/^([[:space:]]*)for:[[:space:]]*[0-9a-z]+[[:space:]]*$/\1for: 0s/' "$alerts_source" > "$work/qharden-alerts.yml"
check "every for: of the copied alert rules is 0s" \
  bash -c '! grep -E "^[[:space:]]*for:" "$1" | grep -vqE "for: 0s$"' _ "$work/qharden-alerts.yml"
{
  echo "global:"
  echo "  scrape_interval: 2s"
  echo "  evaluation_interval: 1s"
  echo "rule_files: ['$work/qharden-alerts.yml']"
  echo "scrape_configs:"
  echo "  - job_name: node"
  echo "    static_configs:"
  for host in "${hosts[@]}"; do
    echo "      - targets: ['${address[$host]}:9100']"
    echo "        labels: {host: $host}"
  done
} > "$work/prometheus.yml"
mkdir "$work/prometheus-data"
prometheus_url=http://127.0.0.1:9090
# --pdeathsig: a test killed by ctest takes its Prometheus along. Started
# without a shell function, which would put a subshell between the two.
ip netns exec "$controller_ns" setpriv --pdeathsig KILL "$prometheus" --config.file="$work/prometheus.yml" \
  --storage.tsdb.path="$work/prometheus-data" --web.listen-address=127.0.0.1:9090 \
  > "$work/prometheus.log" 2>&1 &
prometheus_pid=$!
defer "kill $prometheus_pid; wait $prometheus_pid"
prom() { in_controller python3 "$fleet_dir/prom_api.py" "$prometheus_url" "$@"; }
for attempt in $(seq 1 100); do
  prom ready 2>/dev/null && break
  kill -0 "$prometheus_pid" 2>/dev/null || break
  sleep 0.2
done
check "Prometheus is ready in the controller's namespace" prom ready
targets=
for attempt in $(seq 1 30); do
  targets=$(prom targets 2>&1) || true
  [ "$(grep -c ' up ' <<< "$targets")" -eq 2 ] && break
  sleep 1
done
sed 's/^/      target: /' <<< "$targets"
check "Prometheus scrapes both node_exporters over the veth path" \
  bash -c '[ "$(grep -c " up " <<< "$1")" -eq 2 ]' _ "$targets"
rules_loaded=$(in_controller python3 -c 'import json, sys, urllib.request
data = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/rules", timeout=10))["data"]
print(sum(len(group["rules"]) for group in data["groups"]))' "$prometheus_url" 2>&1) || true
check "Prometheus loaded the copied alert rules ($rules_loaded rules)" bash -c '[[ "$1" =~ ^[1-9][0-9]*$ ]]' _ "$rules_loaded"

# The collection's playbooks, by name as an operator runs them.
for playbook in converge rollout; do
  [ -f "$collections/ansible_collections/qharden/fleet/playbooks/$playbook.yml" ] ||
    { echo "FAIL: the collection has no playbooks/$playbook.yml"; exit 1; }
done
converge=qharden.fleet.converge
rollout=qharden.fleet.rollout
# What the role is asked for: the .deb from this controller (the same
# version as the rootfs's, so apt leaves it), the textfile for
# node_exporter, and the one rule to apply.
cat > "$work/fleet-vars.yml" <<VARS
qharden_deb_path: $deb
qharden_prometheus_textfile: true
qharden_prometheus_textfile_dir: $textfile_dir
qharden_apply_rules:
  - tcp-env.flags
VARS
playbook() { in_controller ansible-playbook -e "@$work/fleet-vars.yml" "$@"; }
# task_status TASK HOST OUTPUT: ok, changed, fatal, skipping... for HOST in
# the section of TASK (its title as the default callback prints it).
task_status() {
  awk -v task="TASK [$1]" -v host="$2" '
    /^TASK \[/ { inside = index($0, task) == 1 }
    inside && index($0, ": [" host "]") { sub(/:.*/, ""); print; exit }' <<< "$3"
}
apply_task="qharden.fleet.qharden : Apply qharden's fixes"
# recap HOST OUTPUT: the host's PLAY RECAP line.
recap() { { grep -E "^$1 +: ok=" <<< "$2" || true; } | tail -1; }
recap_count() { { recap "$1" "$2" | grep -oE "$3=[0-9]+" || true; } | cut -d= -f2; }
# Every regular file of a container, hashed from this machine's side. Left
# out, with why: the journal (journald writes it all the time), the login
# records that sshd's PAM session writes for every ssh connection (wtmp,
# btmp, lastlog), systemd's own state (timer stamps, the random seed), and
# ~/.ansible, which holds ansible's temporary module folders while a task
# runs.
tree_hashes() {
  (cd "$1" && find . -xdev -type f ! -path './var/log/journal/*' ! -path './var/log/wtmp' \
    ! -path './var/log/btmp' ! -path './var/log/lastlog' ! -path './var/lib/systemd/*' \
    ! -path './root/.ansible/*' -print0 | sort -z | xargs -0 sha256sum)
}

phase "a. syntax check"
syntax_status=0
syntax=$(playbook --syntax-check "$converge" "$rollout" 2>&1) || syntax_status=$?
check "ansible-playbook --syntax-check converge.yml rollout.yml (exit $syntax_status)" [ "$syntax_status" -eq 0 ]
[ "$syntax_status" -eq 0 ] || show_output "$syntax"

phase "b. converge --check --diff"
for host in "${hosts[@]}"; do tree_hashes "${root[$host]}" > "$work/$host.before-check"; done
check_status=0
check_output=$(playbook --check --diff "$converge" 2>&1) || check_status=$?
check "converge --check --diff succeeds (exit $check_status)" [ "$check_status" -eq 0 ]
check "the diff shows tcp-env's -Rt0 for smtp_psa" grep -qE '^\+.*server_args.*-Rt0' <<< "$check_output"
check "check mode: the apply task would change mx1" equals "$(task_status "$apply_task" mx1 "$check_output")" changed
check "check mode: the apply task has nothing to do on mx2" equals "$(task_status "$apply_task" mx2 "$check_output")" ok
for host in "${hosts[@]}"; do
  tree_hashes "${root[$host]}" > "$work/$host.after-check"
  changed_files=$(diff "$work/$host.before-check" "$work/$host.after-check" | grep '^[<>]' | head -10 || true)
  check "no file in $host changed in check mode (sha256 of every file) ${changed_files:+($changed_files)}" \
    [ -z "$changed_files" ]
done
[ $failures -eq 0 ] || show_output "$check_output"

phase "c. converge"
converge_status=0
converge_output=$(playbook --diff "$converge" 2>&1) || converge_status=$?
check "converge succeeds (exit $converge_status)" [ "$converge_status" -eq 0 ]
check "converge: the apply task changed mx1" equals "$(task_status "$apply_task" mx1 "$converge_output")" changed
check "converge: the apply task left mx2 alone" equals "$(task_status "$apply_task" mx2 "$converge_output")" ok
check "mx1's smtp_psa now runs tcp-env -Rt0" grep -q 'server_args.*= -Rt0 ' "${root[mx1]}/etc/xinetd.d/smtp_psa"
check "mx2's smtp_psa is as seeded" cmp -s "$work/smtp_psa.fixed" "${root[mx2]}/etc/xinetd.d/smtp_psa"
for host in "${hosts[@]}"; do
  check "$host: converge failed nothing" [ "$(recap_count "$host" "$converge_output" failed)" = 0 ]
  check "$host has the config with the textfile folder" \
    grep -q "prometheus_textfile_dir *= *\"$textfile_dir\"" "${root[$host]}/etc/qharden/qharden.toml"
done
[ "$converge_status" -eq 0 ] || show_output "$converge_output"

phase "d. converge again"
again_status=0
again_output=$(playbook --diff "$converge" 2>&1) || again_status=$?
check "the second converge succeeds (exit $again_status)" [ "$again_status" -eq 0 ]
for host in "${hosts[@]}"; do
  check "the second converge changed nothing on $host ($(recap "$host" "$again_output"))" \
    [ "$(recap_count "$host" "$again_output" changed)" = 0 ]
done
[ "$again_status" -eq 0 ] && [ "$(recap_count mx1 "$again_output" changed)" = 0 ] || show_output "$again_output"

phase "e. audit on mx1"
audit_status=0
audit=$(on_host mx1 qharden audit --json --rule tcp-env.flags 2>&1) || audit_status=$?
check "qharden audit --json --rule tcp-env.flags passes on mx1 (exit $audit_status)" [ "$audit_status" -eq 0 ]
audit_summary=$(python3 -c 'import json, sys
report = json.loads(sys.argv[1])
print(" ".join(finding["subject"] + "=" + finding["status"] for finding in report["findings"]))' "$audit" 2>&1) || true
echo "      findings: $audit_summary"
check "the audit found smtp_psa passing" contains "$audit_summary" "/etc/xinetd.d/smtp_psa:smtp=pass"

phase "f. rollback --last on mx1"
rollback_status=0
rollback=$(on_host mx1 qharden rollback --last 2>&1) || rollback_status=$?
show_output "$rollback" 8
check "qharden rollback --last succeeds on mx1 (exit $rollback_status)" [ "$rollback_status" -eq 0 ]
check "mx1's smtp_psa has its seeded bytes again" \
  equals "$(sha256sum < "${root[mx1]}/etc/xinetd.d/smtp_psa")" "$seeded_mx1"

phase "g. converge --check again"
recheck_status=0
recheck_output=$(playbook --check "$converge" 2>&1) || recheck_status=$?
check "converge --check succeeds (exit $recheck_status)" [ "$recheck_status" -eq 0 ]
check "check mode: the apply task would change mx1 again" \
  equals "$(task_status "$apply_task" mx1 "$recheck_output")" changed
check "check mode: mx1 is the only change (changed=1)" equals "$(recap_count mx1 "$recheck_output" changed)" 1
check "check mode reports nothing to change on mx2" [ "$(recap_count mx2 "$recheck_output" changed)" = 0 ]
[ "$recheck_status" -eq 0 ] || show_output "$recheck_output"

phase "h. textfile, node_exporter, alerts"
for host in "${hosts[@]}"; do
  service_status=0
  on_host "$host" systemctl start qharden-audit.service > "$work/$host.audit-service.log" 2>&1 || service_status=$?
  result=$(on_host "$host" systemctl show qharden-audit.service -p Result -p ExecMainStatus 2>&1 | tr '\n' ' ') || true
  check "$host: qharden-audit.service ran ($result)" contains "$result" "Result=success"
  check "$host: it wrote $textfile_dir/qharden.prom" test -s "${root[$host]}$textfile_dir/qharden.prom"
done
# The file as the unit wrote it, under its sandbox, against Prometheus's own
# exposition linter.
promtool=$prometheus_tree/usr/bin/promtool
lint_status=0
lint=$("$promtool" check metrics < "${root[mx1]}$textfile_dir/qharden.prom" 2>&1) || lint_status=$?
[ -z "$lint" ] || show_output "$lint" 20
check "promtool check metrics finds nothing in mx1's qharden.prom (exit $lint_status)" \
  bash -c '[ "$1" -eq 0 ] && [ -z "$2" ]' _ "$lint_status" "$lint"
# Wait for a scrape of both hosts after the files were written and an
# evaluation of the rules after that: each target is scraped on its own
# schedule, so mx1's alert firing says nothing of mx2's scrape.
firing=
for attempt in $(seq 1 60); do
  firing=$(prom alerts 2>&1) || true
  finding=$(prom query 'qharden_finding{rule="tcp-env.flags",host="mx2"}' 2>&1) || true
  grep -qE "^QhardenFindingFailing firing .*instance=${address[mx1]}:9100 .*rule=tcp-env.flags" <<< "$firing" &&
    grep -q "host=mx2 " <<< "$finding" && break
  sleep 1
done
{ grep '^QhardenFindingFailing' <<< "$firing" || true; } | sed 's/^/      alert: /'
check "QhardenFindingFailing fires for tcp-env.flags on mx1 (${address[mx1]}:9100)" \
  grep -qE "^QhardenFindingFailing firing .*host=mx1 .*instance=${address[mx1]}:9100 .*rule=tcp-env.flags" <<< "$firing"
check "QhardenFindingFailing names smtp_psa as the subject on mx1" \
  grep -qE "^QhardenFindingFailing firing .*host=mx1 .*rule=tcp-env.flags .*subject=/etc/xinetd.d/smtp_psa:smtp" <<< "$firing"
check "QhardenFindingFailing does not fire for tcp-env.flags on mx2" \
  bash -c '! grep -qE "^QhardenFindingFailing .*host=mx2 .*rule=tcp-env.flags" <<< "$1"' _ "$firing"
finding=$(prom query 'qharden_finding{rule="tcp-env.flags"}' 2>&1) || true
sed 's/^/      /' <<< "$finding"
check "mx2 exports its tcp-env.flags finding as passing (0)" \
  grep -qE "host=mx2 .*subject=/etc/xinetd.d/smtp_psa:smtp.* 0$" <<< "$finding"
series=$(prom query 'count by (host) ({__name__=~"qharden_.*"})' 2>&1) || true
for host in "${hosts[@]}"; do
  count=$(sed -n "s/^host=$host \([0-9]*\)$/\1/p" <<< "$series")
  echo "      qharden_* series on $host: ${count:-none}"
  check "Prometheus has qharden_* series from $host" bash -c '[ "${1:-0}" -gt 0 ]' _ "$count"
done
exit_codes=$(prom query 'qharden_audit_exit_code' 2>&1) || true
sed -E 's/.*host=([^ ]+).* ([0-9]+)$/      qharden_audit_exit_code on \1: \2/' <<< "$exit_codes"
scrape_errors=$(prom query 'node_textfile_scrape_error' 2>&1) || true
check "node_exporter read every textfile without error" bash -c '! grep -q " 1$" <<< "$1"' _ "$scrape_errors"

phase "i. rollout stops at a refused apply"
# mx1, the first batch: smtp_psa becomes a symlink to the same bytes
# elsewhere, which xinetd follows and qharden refuses to write through. mx2
# gets the unfixed smtp_psa, so the rollout would change it if it got there.
mkdir -p "${root[mx1]}/usr/local/psa/etc"
mv "${root[mx1]}/etc/xinetd.d/smtp_psa" "${root[mx1]}/usr/local/psa/etc/smtp_psa"
ln -s /usr/local/psa/etc/smtp_psa "${root[mx1]}/etc/xinetd.d/smtp_psa"
cp "$smtp_psa_unfixed" "${root[mx2]}/etc/xinetd.d/smtp_psa"
tree_hashes "${root[mx2]}" > "$work/mx2.before-rollout"
mx1_target_hash=$(sha256sum < "${root[mx1]}/usr/local/psa/etc/smtp_psa")
rollout_status=0
rollout_output=$(playbook "$rollout" 2>&1) || rollout_status=$?
show_output "$(grep -E 'PLAY|TASK|fatal|failed|refus|symlink|changed:|ok:|^mx' <<< "$rollout_output")" 40
check "rollout.yml fails (exit $rollout_status)" [ "$rollout_status" -ne 0 ]
check "rollout.yml failed on mx1's apply" equals "$(task_status "Apply the fixes" mx1 "$rollout_output")" fatal
check "mx1's failure names the symlink" grep -qi 'symlink' <<< "$rollout_output"
mx2_recap=$(recap mx2 "$rollout_output")
check "rollout.yml never reached mx2 (${mx2_recap:-not in the recap})" \
  bash -c '[ -z "$1" ] || [[ "$1" =~ ok=0\ +changed=0 ]]' _ "$mx2_recap"
check "mx1's smtp_psa is still the symlink" \
  equals "$(readlink "${root[mx1]}/etc/xinetd.d/smtp_psa")" /usr/local/psa/etc/smtp_psa
check "the file it points to is unchanged" \
  equals "$(sha256sum < "${root[mx1]}/usr/local/psa/etc/smtp_psa")" "$mx1_target_hash"
tree_hashes "${root[mx2]}" > "$work/mx2.after-rollout"
changed_files=$(diff "$work/mx2.before-rollout" "$work/mx2.after-rollout" | grep '^[<>]' | head -10 || true)
check "no file in mx2 changed during the stopped rollout ${changed_files:+($changed_files)}" [ -z "$changed_files" ]

phase "power off"
for host in "${hosts[@]}"; do
  check "$host powers off cleanly" nspawn_poweroff "$host"
done
finish
