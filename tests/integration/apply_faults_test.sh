#!/usr/bin/env bash
# Faults during apply, each against a real file system: a full disk, a
# read-only file system, a symlink or a bind mount as the target, a file
# rewritten while apply runs, SIGKILL at random points, and two applies at
# once. In every case the original survives whole and the error names it.
source "$(dirname "$0")/lib.sh"
require_root

# A Plesk-like tree whose smtp_psa lacks -R; --offline keeps it to files.
new_tree() {
  local tree
  tree=$(make_tree)
  mkdir -p "$tree/etc/xinetd.d"
  printf 'defaults\n{\n}\nincludedir /etc/xinetd.d\n' > "$tree/etc/xinetd.conf"
  printf 'service smtp\n{\n\tsocket_type\t= stream\n\twait\t\t= no\n\tuser\t\t= root\n\tserver\t\t= /var/qmail/bin/tcp-env\n\tserver_args\t= /var/qmail/bin/qmail-smtpd\n}\n' \
    > "$tree/etc/xinetd.d/smtp_psa"
  echo "$tree"
}
apply_offline() { "$QHARDEN" apply --offline --root "$1" --rule tcp-env.flags 2>&1; }

# Full disk: the xinetd.d folder is a tiny tmpfs, filled up.
tree=$(new_tree)
original=$(cat "$tree/etc/xinetd.d/smtp_psa")
mkdir -p "$tree/stash" && cp -a "$tree/etc/xinetd.d/." "$tree/stash/"
mount -t tmpfs -o size=16k tmpfs "$tree/etc/xinetd.d"
defer "umount -l '$tree/etc/xinetd.d'"
cp -a "$tree/stash/." "$tree/etc/xinetd.d/"
dd if=/dev/zero of="$tree/etc/xinetd.d/filler.bin" bs=1k count=64 2>/dev/null || true
status=0
output=$(apply_offline "$tree") || status=$?
check "full disk: apply exits 1" [ "$status" -eq 1 ]
check "full disk: the error says so ($output)" contains "$output" "file system is full"
check "full disk: the original is intact" [ "$(cat "$tree/etc/xinetd.d/smtp_psa")" = "$original" ]
check "full disk: no temporary left" [ "$(ls -A "$tree/etc/xinetd.d")" = "$(printf 'filler.bin\nsmtp_psa')" ]

# Read-only file system.
rm -f "$tree/etc/xinetd.d/filler.bin"
mount -o remount,ro "$tree/etc/xinetd.d"
status=0
output=$(apply_offline "$tree") || status=$?
check "read-only: apply exits 1" [ "$status" -eq 1 ]
check "read-only: the error says so ($output)" contains "$output" "read-only file system"
check "read-only: the original is intact" [ "$(cat "$tree/etc/xinetd.d/smtp_psa")" = "$original" ]

# A symlink planted as the target.
tree=$(new_tree)
mv "$tree/etc/xinetd.d/smtp_psa" "$tree/etc/smtp_psa.real"
ln -s /etc/smtp_psa.real "$tree/etc/xinetd.d/smtp_psa"
status=0
output=$(apply_offline "$tree") || status=$?
check "symlink: apply exits 1" [ "$status" -eq 1 ]
check "symlink: refused with the reason ($output)" contains "$output" "is a symlink to /etc/smtp_psa.real"
check "symlink: the file behind it is intact" [ "$(cat "$tree/etc/smtp_psa.real")" = "$original" ]

# A bind-mounted target (as resolv.conf under ip netns exec or in containers).
tree=$(new_tree)
cp "$tree/etc/xinetd.d/smtp_psa" "$tree/bound"
mount --bind "$tree/bound" "$tree/etc/xinetd.d/smtp_psa"
defer "umount -l '$tree/etc/xinetd.d/smtp_psa'"
status=0
output=$(apply_offline "$tree") || status=$?
check "mount point: apply exits 1" [ "$status" -eq 1 ]
check "mount point: refused with the reason ($output)" contains "$output" "is a mount point"
check "mount point: the file is intact" [ "$(cat "$tree/bound")" = "$original" ]

# Rewritten while apply runs (as Plesk does): a writer replaces the file in a
# loop. Whatever interleaving happens, the result is the writer's content or
# the fix of exactly what was read, never a mix, and apply says which.
tree=$(new_tree)
rewritten=$(printf '%s\n# rewritten by the panel\n' "$original")
( for i in $(seq 1 400); do printf '%s\n' "$rewritten" > "$tree/etc/xinetd.d/.panel" && mv "$tree/etc/xinetd.d/.panel" "$tree/etc/xinetd.d/smtp_psa"; done ) &
writer=$!
outcomes=""
for i in $(seq 1 20); do
  output=$(apply_offline "$tree") || true
  outcomes+="$output"$'\n'
done
wait $writer
final=$(cat "$tree/etc/xinetd.d/smtp_psa")
check "concurrent rewrite: the file is whole (the panel's text or its fix)" \
  bash -c '[[ "$1" == "$2" || "$1" == "${2/server_args	= /server_args	= -Rt0 }" ]]' _ "$final" "$rewritten"
check "concurrent rewrite: no temporary left" [ "$(ls -A "$tree/etc/xinetd.d")" = "smtp_psa" ]

# SIGKILL at random points during apply, in a loop.
torn=0; leftovers_after_next_run=0; temporaries_seen=0
fixed=$(printf '%s\n' "$original" | sed 's/server_args\t= /server_args\t= -Rt0 /')
for i in $(seq 1 40); do
  tree=$(new_tree)
  "$QHARDEN" apply --offline --root "$tree" --rule tcp-env.flags > /dev/null 2>&1 &
  victim=$!
  sleep "0.00$((RANDOM % 10))$((RANDOM % 10))"
  kill -9 $victim 2>/dev/null || true
  wait $victim 2>/dev/null || true
  content=$(cat "$tree/etc/xinetd.d/smtp_psa")
  [ "$content" = "$original" ] || [ "$content" = "$fixed" ] || torn=$((torn + 1))
  [ -z "$(ls -A "$tree/etc/xinetd.d" | grep -v '^smtp_psa$')" ] || temporaries_seen=$((temporaries_seen + 1))
  # The next run settles what the killed one left.
  apply_offline "$tree" > /dev/null || true
  [ -z "$(ls -A "$tree/etc/xinetd.d" | grep -v '^smtp_psa$')" ] || leftovers_after_next_run=$((leftovers_after_next_run + 1))
  [ -z "$(find "$tree/var/lib/qharden" -name '*.tmp')" ] || leftovers_after_next_run=$((leftovers_after_next_run + 1))
  [ "$(cat "$tree/etc/xinetd.d/smtp_psa")" = "$fixed" ] || torn=$((torn + 1))
done
echo "      SIGKILL loop: 40 kills, a temporary seen right after the kill $temporaries_seen time(s)"
check "SIGKILL: every file was old or new, never partial" [ $torn -eq 0 ]
check "SIGKILL: no temporary file left once the next run settled" [ $leftovers_after_next_run -eq 0 ]

# Rollback over a newer rewrite (Plesk regenerated the file after the fix):
# refused without --force, and --force keeps the newer content in the journal.
tree=$(new_tree)
apply_offline "$tree" > /dev/null
printf '%s\n# regenerated by the panel\n' "$original" > "$tree/etc/xinetd.d/smtp_psa"
status=0
output=$("$QHARDEN" rollback --last --root "$tree" 2>&1) || status=$?
check "rollback over a rewrite: exit 1" [ "$status" -eq 1 ]
check "rollback over a rewrite: refused with the reason ($output)" contains "$output" "changed since qharden wrote it"
check "rollback over a rewrite: the newer file is untouched" grep -q "regenerated by the panel" "$tree/etc/xinetd.d/smtp_psa"
"$QHARDEN" rollback --last --force --root "$tree" > /dev/null
check "rollback --force: the original bytes are back" [ "$(cat "$tree/etc/xinetd.d/smtp_psa")" = "$original" ]
check "rollback --force: the overwritten content is kept in the journal" \
  grep -rq "regenerated by the panel" "$tree/var/lib/qharden/changes"

# A full state dir during rollback (the mail queue filled /var): the file is
# restored but the journal cannot say so. The error says exactly that, and
# once there is room again a second rollback records it without a refusal.
tree=$(new_tree)
apply_offline "$tree" > /dev/null
state=$tree/var/lib/qharden
mkdir -p "$tree/state-stash" && cp -a "$state/." "$tree/state-stash/"
mount -t tmpfs -o size=64k tmpfs "$state"
defer "umount -l '$state'"
cp -a "$tree/state-stash/." "$state/"
dd if=/dev/zero of="$state/filler.bin" bs=1k count=128 2>/dev/null || true
status=0
output=$("$QHARDEN" rollback --last --root "$tree" 2>&1) || status=$?
check "full state dir: rollback exits 1" [ "$status" -eq 1 ]
check "full state dir: the error says the file was restored but not recorded ($output)" \
  contains "$output" "restored, but the journal could not record it"
check "full state dir: the original bytes are back" [ "$(cat "$tree/etc/xinetd.d/smtp_psa")" = "$original" ]
check "full state dir: xinetd is reloaded for the restored file" contains "$output" "xinetd is not running (no live process"
rm -f "$state/filler.bin"
status=0
output=$("$QHARDEN" rollback --last --root "$tree" 2>&1) || status=$?
check "room again: the second rollback exits 0 ($output)" [ "$status" -eq 0 ]
check "room again: history says rolled back" contains "$("$QHARDEN" history --root "$tree")" "rolled-back"

# Two applies at once: serialized by the lock, so the fix lands once.
tree=$(new_tree)
apply_offline "$tree" > "$tree/first.out" &
first=$!
apply_offline "$tree" > "$tree/second.out" &
second=$!
wait $first $second || true
check "two applies: the fix landed exactly once" [ "$(grep -c -- '-Rt0' "$tree/etc/xinetd.d/smtp_psa")" -eq 1 ]
check "two applies: one change recorded" [ "$(ls "$tree/var/lib/qharden/changes" | wc -l)" -eq 1 ]
check "two applies: the other said there was nothing to do" grep -q "nothing to do" "$tree/first.out" "$tree/second.out"
finish
