#!/usr/bin/env bash
# A replaced file keeps what it carried: extended attributes (user.*,
# trusted.*, security.*), its POSIX ACL, mode and owner, through apply and
# through rollback, on a real ext4 mounted with user_xattr and acl. An
# attribute that cannot be copied stops the write, names the attribute and
# leaves the original and its folder as they were.
source "$(dirname "$0")/lib.sh"
require_root
for program in getfattr setfattr getfacl setfacl mkfs.ext4 setpriv sha256sum; do
  require_program "$program"
done

# Whatever /tmp is (tmpfs, overlay), the tree lives on ext4 with both options.
image="$test_scratch/ext4.img"
mountpoint="$test_scratch/ext4"
truncate -s 16M "$image"
mkfs.ext4 -q "$image"
mkdir "$mountpoint"
mount -o loop,user_xattr,acl "$image" "$mountpoint"
defer "umount '$mountpoint'"

apply_offline() { "$QHARDEN" apply --offline --root "$1" --rule tcp-env.flags 2>&1; }

# Everything a replacement must keep, without the file name lines.
state_of() {
  getfattr -d -m - --absolute-names "$1" | grep -v '^# file:'
  getfacl --absolute-names "$1" | grep -v '^# file:'
  stat -c 'mode %a owner %U:%G' "$1"
}

# Sets security.qharden-test when the kernel lets root do it (no LSM that
# refuses unknown security.* names); prints why not otherwise.
security_attribute_refused=""
set_security_attribute() {
  local reason
  if ! reason=$(setfattr -n security.qharden-test -v 1 "$1" 2>&1); then
    security_attribute_refused=$reason
  fi
}

# --- apply and rollback keep every attribute --------------------------------
tree="$mountpoint/kept"
cp -a "$QHARDEN_SOURCE_DIR/tests/fixtures/hosts/plesk" "$tree"
smtp="$tree/etc/xinetd.d/smtp_psa"
submission="$tree/etc/xinetd.d/submission_psa"
cp "$smtp" "$test_scratch/smtp_psa.original"
cp "$submission" "$test_scratch/submission_psa.original"

setfattr -n user.test -v "kept by qharden" "$smtp"
setfattr -n trusted.qharden-test -v "root only" "$smtp"
setfacl -m u:nobody:r "$smtp"
set_security_attribute "$smtp"
# Another owner, so the replacement is chowned after its attributes are set.
chown nobody:nogroup "$submission"
chmod 640 "$submission"
setfattr -n user.test -v "owned by nobody" "$submission"
setfacl -m g:mail:rw "$submission"
# A folder whose default ACL new files inherit: the drop-in sysctl.tcp-fin-timeout
# creates gets that, and nothing copied from anywhere.
mkdir -m 755 "$tree/etc/sysctl.d"
setfacl -d -m u:nobody:r "$tree/etc/sysctl.d"

if [ -n "$security_attribute_refused" ]; then
  echo "SKIP  security.* attribute: the kernel refused it ($security_attribute_refused)"
fi
smtp_before=$(state_of "$smtp")
submission_before=$(state_of "$submission")
echo "      smtp_psa before apply:"
sed 's/^/        /' <<< "$smtp_before"
check "the targets carry what the test gave them" \
  bash -c '[[ "$1" == *user.test=* && "$1" == *trusted.qharden-test=* && "$1" == *user:nobody:r--* ]]' _ "$smtp_before"

status=0
output=$("$QHARDEN" apply --offline --root "$tree" --rule tcp-env.flags --rule sysctl.tcp-fin-timeout 2>&1) || status=$?
check "apply: exits 0 ($output)" [ "$status" -eq 0 ]
check "apply: smtp_psa is fixed" grep -q -- '-Rt0' "$smtp"
check "apply: submission_psa is fixed" grep -q -- '-Rt0' "$submission"
check "apply: smtp_psa keeps its attributes, ACL, mode and owner" equals "$(state_of "$smtp")" "$smtp_before"
check "apply: submission_psa keeps its attributes, ACL, mode and owner" \
  equals "$(state_of "$submission")" "$submission_before"
dropin="$tree/etc/sysctl.d/90-qharden-tcp-fin-timeout.conf"
check "apply: the sysctl drop-in was created" [ -f "$dropin" ]
check "apply: the new drop-in has no attribute copied from anywhere" \
  equals "$(getfattr -d -m 'user\.|trusted\.' --absolute-names "$dropin")" ""
check "apply: the new drop-in has the folder's default ACL, as any new file" \
  grep -q 'user:nobody:r--' <(getfacl --absolute-names "$dropin")
check "apply: no temporary left" equals "$(ls -A "$tree/etc/xinetd.d" | grep -c qharden)" "0"

# A restore replaces the current file, so what that file carries now is kept,
# including an attribute given after the fix.
setfattr -n user.after-apply -v "given later" "$smtp"

status=0
output=$("$QHARDEN" rollback --last --root "$tree" 2>&1) || status=$?
check "rollback: exits 0 ($output)" [ "$status" -eq 0 ]
check "rollback: smtp_psa is byte-identical to the original" cmp -s "$smtp" "$test_scratch/smtp_psa.original"
check "rollback: submission_psa is byte-identical to the original" \
  cmp -s "$submission" "$test_scratch/submission_psa.original"
check "rollback: smtp_psa keeps the attribute given after the fix" \
  equals "$(getfattr --absolute-names --only-values -n user.after-apply "$smtp")" "given later"
setfattr -x user.after-apply "$smtp"
check "rollback: smtp_psa keeps its attributes, ACL, mode and owner" equals "$(state_of "$smtp")" "$smtp_before"
check "rollback: submission_psa keeps its attributes, ACL, mode and owner" \
  equals "$(state_of "$submission")" "$submission_before"
check "rollback: the drop-in is removed" [ ! -e "$dropin" ]

# --- an attribute that cannot be copied stops the write ---------------------
if [ -n "$security_attribute_refused" ]; then
  echo "SKIP  refusal: no security.* attribute to make uncopyable ($security_attribute_refused)"
else
  tree="$mountpoint/refused"
  cp -a "$QHARDEN_SOURCE_DIR/tests/fixtures/hosts/plesk" "$tree"
  smtp="$tree/etc/xinetd.d/smtp_psa"
  setfattr -n user.test -v "kept by qharden" "$smtp"
  setfacl -m u:nobody:r "$smtp"
  set_security_attribute "$smtp"
  smtp_before=$(state_of "$smtp")
  hash_before=$(sha256sum < "$smtp")
  listing_before=$(ls -A "$tree/etc/xinetd.d")
  # Without CAP_SYS_ADMIN, root may read security.* but not set it (no
  # security module takes this name), as in a confined service.
  status=0
  output=$(setpriv --inh-caps=-all --bounding-set=-sys_admin \
    "$QHARDEN" apply --offline --root "$tree" --rule tcp-env.flags 2>&1) || status=$?
  check "refusal: apply exits 1 ($output)" [ "$status" -eq 1 ]
  check "refusal: the message names the file and the attribute" \
    contains "$output" "/etc/xinetd.d/smtp_psa: cannot copy extended attribute security.qharden-test: Operation not permitted; nothing was written"
  check "refusal: smtp_psa is unchanged" equals "$(sha256sum < "$smtp")" "$hash_before"
  check "refusal: smtp_psa keeps its attributes, ACL, mode and owner" equals "$(state_of "$smtp")" "$smtp_before"
  check "refusal: no temporary left in the folder" equals "$(ls -A "$tree/etc/xinetd.d")" "$listing_before"
fi
finish
