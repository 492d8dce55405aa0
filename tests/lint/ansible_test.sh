#!/usr/bin/env bash
# The Ansible collection qharden.fleet (packaging/ansible), offline, with
# Debian's ansible-core: yamllint, the playbooks' syntax, ansible-doc of both
# modules and the role, the module-documentation checker (validate-modules,
# run directly because ansible-test would build a pip venv from the network),
# the requirement-free ansible-test sanity tests, a collection build, and the
# python unit tests (the modules and the roll-out playbook against a fake
# qharden that speaks the issue 13 JSON contract). The real qharden in
# containers is the end-to-end test's job.
#
# Skipped (77) when ansible-core is not installed; python3-voluptuous and
# yamllint are then required (a missing one is a failure, not a skip).
set -euo pipefail
source_dir=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
collections_root=$source_dir/packaging/ansible
collection=$collections_root/ansible_collections/qharden/fleet

# Debian's python: ansible-core, voluptuous and yaml are installed for it; a
# python3 earlier on PATH (pyenv, a venv) may have none of them.
python=/usr/bin/python3
if ! command -v ansible-playbook >/dev/null || ! command -v ansible-doc >/dev/null ||
  ! command -v ansible-test >/dev/null || ! "$python" -c 'import ansible, ansible_test' 2>/dev/null; then
  echo "SKIP: ansible-core is not installed (apt-get install ansible-core)"
  exit 77
fi

failures=0
fail() {
  echo "FAIL  $*"
  failures=$((failures + 1))
}
ok() { echo "ok    $*"; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Everything Ansible writes (~/.ansible, temp files) stays in the scratch folder.
export HOME=$scratch/home
mkdir -p "$HOME"
export ANSIBLE_COLLECTIONS_PATH=$collections_root
export ANSIBLE_LOCAL_TEMP=$scratch/ansible-tmp
export ANSIBLE_NOCOLOR=1
export ANSIBLE_RETRY_FILES_ENABLED=0
export FAKE_QHARDEN_PYTHON=$python
export PYTHONDONTWRITEBYTECODE=1

# run NAME COMMAND...: run it, keep its output in $scratch/NAME.log, and
# print the log when it fails.
run() {
  local name=$1
  shift
  if "$@" >"$scratch/$name.log" 2>&1; then
    ok "$name"
  else
    fail "$name (exit $?): $*"
    sed 's/^/      /' "$scratch/$name.log"
  fi
}

ansible_version=$(ansible --version | sed -n 1p)
echo "      $ansible_version, $("$python" --version)"

# --- yamllint -------------------------------------------------------------
if command -v yamllint >/dev/null; then
  run yamllint yamllint -f parsable -d '{extends: default, rules: {line-length: {max: 120}}}' "$collection"
else
  fail "yamllint is not installed (apt-get install yamllint)"
fi

# --- playbook syntax ------------------------------------------------------
cat >"$scratch/inventory.ini" <<'EOF'
[qharden_hosts]
mx1 ansible_connection=local
EOF
for playbook in rollout converge; do
  run "syntax-check.$playbook" ansible-playbook -i "$scratch/inventory.ini" --syntax-check \
    "$collection/playbooks/$playbook.yml"
done

# --- ansible-doc ----------------------------------------------------------
# ansible-doc exits 0 even when it cannot parse a module's documentation (it
# warns instead), so its warnings count as failures here.
doc_check() {
  local type=$1 name=$2 heading
  heading=$(echo "> $name" | tr '[:lower:]' '[:upper:]')
  if ! ansible-doc -t "$type" "$name" >"$scratch/doc.out" 2>"$scratch/doc.err"; then
    fail "ansible-doc -t $type $name"
    sed 's/^/      /' "$scratch/doc.err"
  elif grep -q 'WARNING\|ERROR' "$scratch/doc.err"; then
    fail "ansible-doc -t $type $name warns"
    sed 's/^/      /' "$scratch/doc.err"
  elif ! grep -q "^$heading " "$scratch/doc.out"; then
    fail "ansible-doc -t $type $name: no '$heading' heading"
  else
    ok "ansible-doc -t $type $name"
  fi
}
doc_check module qharden.fleet.qharden_apply
doc_check module qharden.fleet.qharden_audit_info
doc_check role qharden.fleet.qharden

# --- validate-modules, directly -------------------------------------------
# The tests/sanity/ignore file is ansible-test's; applied here by hand: a
# line "PATH validate-modules:CODE" drops that code's findings for PATH.
ansible_test_dir=$("$python" -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')
validate_dir=$ansible_test_dir/_util/controller/sanity/validate-modules
python_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
core_version=$("$python" -c 'from ansible.release import __version__; print(".".join(__version__.split(".")[:2]))')
ignore_file=$collection/tests/sanity/ignore-$core_version.txt
if ! "$python" -c 'import voluptuous' 2>/dev/null; then
  fail "validate-modules needs python3-voluptuous (apt-get install python3-voluptuous)"
else
  set +e
  (cd "$collection" && PYTHONPATH=$validate_dir:$collections_root "$python" "$validate_dir/validate.py" \
    --format plain --arg-spec --collection ansible_collections/qharden/fleet \
    --collection-version "$(sed -n 's/^version: *//p' galaxy.yml)" \
    plugins/modules/*.py) >"$scratch/validate.log" 2>&1
  validate_status=$?
  set -e
  : >"$scratch/validate.ignore"
  if [ -f "$ignore_file" ]; then
    sed 's/#.*//' "$ignore_file" | while read -r path test_code _; do
      case $test_code in
        validate-modules:*) echo "^$path:[0-9]*:[0-9]*: E${test_code#validate-modules:} " ;;
      esac
    done >"$scratch/validate.ignore"
  fi
  remaining=$(grep -v -f "$scratch/validate.ignore" "$scratch/validate.log" || true)
  # validate.py exits 0 when clean and 3 with findings; anything else is a crash.
  if { [ "$validate_status" = 0 ] || [ "$validate_status" = 3 ]; } && [ -z "$remaining" ]; then
    ok "validate-modules ($(grep -c . "$scratch/validate.log" || true) finding(s) in $(basename "$ignore_file"))"
  else
    fail "validate-modules (exit $validate_status)"
    echo "${remaining:-$(cat "$scratch/validate.log")}" | sed 's/^/      /'
  fi
fi

# --- ansible-test sanity, the requirement-free tests ----------------------
# ansible-test must run inside ansible_collections/NS/NAME and writes
# tests/output there, so it runs on a copy. The skipped tests each build a
# pip venv (network): ansible-doc and validate-modules run above instead,
# yamllint runs above, import/pylint/pep8/runtime-metadata/changelog/
# action-plugin-docs are not run.
sanity_copy=$scratch/collections/ansible_collections/qharden/fleet
mkdir -p "$(dirname "$sanity_copy")"
cp -r "$collection" "$sanity_copy"
rm -rf "$sanity_copy/tests/output"
find "$sanity_copy" -name __pycache__ -prune -exec rm -rf {} +
skipped_sanity=(ansible-doc validate-modules import pylint pep8 yamllint runtime-metadata changelog action-plugin-docs)
sanity_args=()
for test in "${skipped_sanity[@]}"; do sanity_args+=(--skip-test "$test"); done
run ansible-test-sanity bash -c 'cd "$1" && shift && exec "$@"' - "$sanity_copy" \
  ansible-test sanity --python "$python_version" "${sanity_args[@]}"
sanity_ran=$(sed -n 's/^Running sanity test "\([^"]*\)".*/\1/p' "$scratch/ansible-test-sanity.log" | tr '\n' ' ')
echo "      ran: ${sanity_ran:-nothing}"

# --- the collection builds ------------------------------------------------
run galaxy-build ansible-galaxy collection build --output-path "$scratch/build" "$collection"
if [ -f "$scratch/build/qharden-fleet-"*.tar.gz ]; then
  if tar -tzf "$scratch/build/qharden-fleet-"*.tar.gz | grep -q '__pycache__\|tests/output'; then
    fail "the collection tarball holds __pycache__ or tests/output"
  fi
fi

# --- unit tests -----------------------------------------------------------
for folder in plugins/modules roles playbooks; do
  run "unittest.${folder//\//.}" "$python" -m unittest discover -v -s "$collection/tests/unit/$folder" \
    -t "$collection/tests/unit/$folder" -p 'test_*.py'
  grep -E '^Ran [0-9]+ tests' "$scratch/unittest.${folder//\//.}.log" | sed 's/^/      /' || true
done

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
