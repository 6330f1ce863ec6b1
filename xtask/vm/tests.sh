#!/bin/sh
# Integration tests run as root inside the VM by `cargo xtask vm-test`; $TCMU is the program.
# Each check prints PASS or FAIL; the last line counts them.
pass=0; fail=0
check() { if eval "$2"; then echo "PASS $1"; pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
leftovers() { ls /sys/kernel/config/target/core 2>/dev/null | grep -q '^user_' && return 0; ls /sys/block | grep -q '^sd' && return 0; return 1; }

IMG=/tmp/disk.img
check "the program exists" '[ -x "$TCMU" ]'
"$TCMU" serve "$IMG" --size 64M --name vmdisk --node /tmp/vmdisk.node > /tmp/serve.out 2> /tmp/serve.err &
PID=$!
for i in $(seq 1 200); do [ -s /tmp/serve.out ] && break; sleep 0.1; done
DEV=$(head -1 /tmp/serve.out); SD=$(basename "$DEV")
check "serve prints the disk" '[ -b "$DEV" ]'
check "vendor and product" '[ "$(cat /sys/block/$SD/device/vendor)" = "TCMU-RS " ] && grep -q "Rust TCMU disk" /sys/block/$SD/device/model'
check "the node asked for is the same disk" '[ -b /tmp/vmdisk.node ] && [ "$(stat -c %t:%T /tmp/vmdisk.node)" = "$(stat -c %t:%T "$DEV")" ]'
"$TCMU" list > /tmp/list.out 2>&1
check "tcmu list shows the backstore and its disk" 'grep -q "^backstore user_1/vmdisk .*(tcmu-rs)" /tmp/list.out && grep -q "^loopback .* $DEV\$" /tmp/list.out'
"$TCMU" cleanup > /tmp/cleanup.out 2>&1
check "tcmu cleanup leaves a served device alone" 'grep -q "kept .*user_1/vmdisk" /tmp/cleanup.out && [ -b "$DEV" ] && dd if="$DEV" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null'
check "size is 64 MiB" '[ "$(cat /sys/block/$SD/size)" = 131072 ]'
check "sg_inq: vendor, product" 'sg_inq "$DEV" | grep -q "Vendor identification: TCMU-RS" && sg_inq "$DEV" | grep -q "Product identification: Rust TCMU disk"'
check "sg_readcap: 131072 blocks of 512" 'sg_readcap "$DEV" | grep -q "Number of logical blocks=131072" && sg_readcap "$DEV" | grep -q "Logical block length=512"'
check "sg_vpd: serial, NAA, block limits" 'sg_vpd -p sn "$DEV" | grep -q "Unit serial number:" && sg_vpd -p di "$DEV" | grep -qi "naa" && sg_vpd -p bl "$DEV" | grep -q "Maximum compare and write length: 8"'
# sg3_utils agrees with what the disk claims: every VPD page it lists decodes cleanly, every mode
# page decodes, and the command list is what the emulation implements.
vpd_ok() {
  pages=$(sg_vpd -p 0 "$DEV" | sed -n 's/.*\[\([a-z]*\)\]$/\1/p')
  [ -n "$pages" ] || return 1
  for p in $pages; do
    out=$(sg_vpd -p "$p" "$DEV" 2>&1) || { echo "sg_vpd -p $p failed: $out"; return 1; }
    echo "$out" | grep -qiE "warning|unable to|fail|truncated|too short" && { echo "sg_vpd -p $p: $out"; return 1; }
  done
  return 0
}
check "sg_vpd decodes every page VPD 0x00 lists" 'vpd_ok'
check "sg_modes -a decodes every page" 'out=$(sg_modes -a "$DEV" 2>&1) && ! echo "$out" | grep -qiE "warning|unable to|fail|truncated|too short|unknown" && echo "$out" | grep -q "Caching" && echo "$out" | grep -q "Control"'
sg_opcodes "$DEV" > /tmp/opcodes 2>&1
check "sg_opcodes lists what we implement" 'grep -q "Read(10)" /tmp/opcodes && grep -q "Compare and write" /tmp/opcodes && grep -qi "Write same(16)" /tmp/opcodes && grep -qi "Unmap" /tmp/opcodes && ! grep -qi "Read(32)" /tmp/opcodes && ! grep -qi "persistent reserve" /tmp/opcodes'
check "fio: 4 jobs, QD16, 4K-1M random writes, crc32c verify" 'fio --name=v --filename="$DEV" --ioengine=libaio --direct=1 --rw=randwrite --bsrange=4k-1m --iodepth=16 --numjobs=4 --size=16m --offset_increment=16m --verify=crc32c --verify_fatal=1 --do_verify=1 --output=/tmp/fio.out >/dev/null 2>&1 && ! grep -q "verify:.*bad" /tmp/fio.out'

dd if=/dev/urandom of=/tmp/pattern bs=1M count=8 2>/dev/null
dd if=/tmp/pattern of="$DEV" bs=1M seek=3 oflag=direct 2>/dev/null
dd if="$DEV" of=/tmp/back bs=1M skip=3 count=8 iflag=direct 2>/dev/null
check "raw data reads back" '[ -b "$DEV" ] && cmp -s /tmp/pattern /tmp/back'

[ -b "$DEV" ] && mkfs.ext4 -q -F "$DEV" && mkdir -p /mnt/t && mount "$DEV" /mnt/t
for d in a b c; do mkdir -p /mnt/t/$d; for f in 1 2 3 4; do dd if=/dev/urandom of=/mnt/t/$d/$f bs=1K count=$((f*37)) 2>/dev/null; done; done
(cd /mnt/t && find . -type f | sort | xargs sha256sum) > /tmp/sums
sync; umount /mnt/t
mount "$DEV" /mnt/t
check "files survive a remount" '[ -b "$DEV" ] && [ $(wc -l < /tmp/sums) -eq 12 ] && (cd /mnt/t && sha256sum -c --quiet /tmp/sums)'
umount /mnt/t

kill -TERM $PID; wait $PID; rc=$?
check "serve stops cleanly on SIGTERM" '[ $rc -eq 0 ]'
check "no configfs object or disk of ours remains" '[ -n "$SD" ] && ! leftovers && [ ! -e /tmp/vmdisk.node ]'
check "the image holds a clean file system" 'e2fsck -fn "$IMG" >/dev/null 2>&1'

# Two devices served at once by two processes, each with its own data.
"$TCMU" serve /tmp/a.img --size 16M --name deva > /tmp/a.out 2>/dev/null &
PA=$!
"$TCMU" serve /tmp/b.img --size 32M --name devb > /tmp/b.out 2>/dev/null &
PB=$!
for i in $(seq 1 200); do [ -s /tmp/a.out ] && [ -s /tmp/b.out ] && break; sleep 0.1; done
DA=$(head -1 /tmp/a.out); DB=$(head -1 /tmp/b.out)
check "two processes, two disks" '[ -b "$DA" ] && [ -b "$DB" ] && [ "$DA" != "$DB" ] && [ "$(cat /sys/block/$(basename $DB)/size)" = 65536 ]'
out=$(timeout 20 "$TCMU" serve /tmp/a.img --name deva2 2>&1); rc=$?
check "a second server of one image is refused, naming the image and its holder" '[ $rc -eq 1 ] && echo "$out" | grep -q "/tmp/a.img is in use by process $PA ($TCMU serve /tmp/a.img"'
yes A | head -c 1048576 > /tmp/fa; yes B | head -c 1048576 > /tmp/fb
dd if=/tmp/fa of="$DA" bs=1M oflag=direct 2>/dev/null; dd if=/tmp/fb of="$DB" bs=1M oflag=direct 2>/dev/null
check "each disk keeps its own data" '[ -b "$DA" ] && dd if="$DA" bs=1M count=1 iflag=direct 2>/dev/null | cmp -s - /tmp/fa && dd if="$DB" bs=1M count=1 iflag=direct 2>/dev/null | cmp -s - /tmp/fb'
kill -TERM $PA $PB; wait $PA; ra=$?; wait $PB; rb=$?
check "both stop cleanly, nothing left" '[ $ra -eq 0 ] && [ $rb -eq 0 ] && ! leftovers'

# A block device as the image: a memory disk one tcmu serves, served again by another.
"$TCMU" serve --memory --size 32M --name under > /tmp/u.out 2>/tmp/u.err &
PU=$!
for i in $(seq 1 200); do [ -s /tmp/u.out ] && break; sleep 0.1; done
DU=$(head -1 /tmp/u.out)
"$TCMU" serve "$DU" --name over > /tmp/o.out 2>/tmp/o.err &
PO=$!
for i in $(seq 1 200); do [ -s /tmp/o.out ] && break; kill -0 $PO 2>/dev/null || break; sleep 0.1; done
DO=$(head -1 /tmp/o.out)
check "a block device as the image: the disk has the device's size" '[ -b "$DU" ] && [ -b "$DO" ] && [ "$DO" != "$DU" ] && [ "$(cat /sys/block/$(basename $DO)/size)" = 65536 ]'
head -c 4194304 /tmp/pattern > /tmp/p4
dd if=/tmp/p4 of="$DO" bs=1M seek=28 oflag=direct 2>/dev/null
check "bytes written to it land on the block device under it" '[ -b "$DO" ] && dd if="$DU" bs=1M skip=28 count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/p4'
out=$(timeout 20 "$TCMU" serve "$DU" --name over2 2>&1); rc=$?
check "a block device being served is refused to a second server" '[ $rc -eq 1 ] && echo "$out" | grep -q "$DU: the block device is in use"'
kill -TERM $PO; wait $PO; ro=$?
kill -TERM $PU; wait $PU; ru=$?
check "over, then under, stop cleanly; nothing left" '[ $ro -eq 0 ] && [ $ru -eq 0 ] && ! leftovers'

# Blocks over 4096 bytes: 6.1 makes an empty disk of them; serve says so and leaves nothing.
out=$(timeout 60 "$TCMU" serve --memory --size 8M --block-size 8192 --name big 2>&1); rc=$?
check "--block-size 8192 on 6.1: refused once the kernel shows an empty disk, nothing left" '[ $rc -eq 1 ] && echo "$out" | grep -q "empty disk of 8192-byte blocks" && ! leftovers'

# SIGKILL in the middle of I/O: the I/O fails once cmd_time_out (5 s) passes, nothing hangs,
# and `tcmu cleanup` removes everything (answering the dead ring so teardown does not wait).
"$TCMU" serve /tmp/k.img --size 64M --name killed --cmd-time-out 5 > /tmp/k.out 2>/dev/null &
PK=$!
for i in $(seq 1 200); do [ -s /tmp/k.out ] && break; sleep 0.1; done
DK=$(head -1 /tmp/k.out)
# Writes until one fails; only a failure ends the loop.
( while dd if=/dev/urandom of="$DK" bs=1M count=16 oflag=direct 2>/dev/null; do :; done ) &
DD=$!
sleep 2
kill -KILL $PK
t=0; while kill -0 $DD 2>/dev/null && [ $t -lt 120 ]; do sleep 1; t=$((t+1)); done
check "SIGKILL mid-I/O: the I/O fails within 2 x cmd_time_out" '[ -b "$DK" ] && ! kill -0 $DD 2>/dev/null && [ $t -le 10 ]'
kill -KILL $DD 2>/dev/null
"$TCMU" list > /tmp/list.out 2>&1
check "the dead device is still listed" 'grep -q "user_1/killed" /tmp/list.out'
s0=$(date +%s)
timeout 60 "$TCMU" cleanup > /tmp/cleanup.out 2>&1; rc=$?
s1=$(date +%s)
check "tcmu cleanup removes every object and the disk, in under 5 s" '[ $rc -eq 0 ] && grep -q "removed .*user_1/killed" /tmp/cleanup.out && ! leftovers && [ ! -b "$DK" ] && [ $((s1-s0)) -lt 5 ]'
"$TCMU" cleanup > /tmp/cleanup.out 2>&1
check "a second cleanup finds nothing" 'grep -q "nothing of ours" /tmp/cleanup.out'

# The device removed under a running server (`tcmu cleanup --force`): the server notices at
# once, exits non-zero saying why, and nothing of ours is left.
"$TCMU" serve /tmp/f.img --size 16M --name forced > /tmp/f.out 2>/tmp/f.err &
PF=$!
for i in $(seq 1 200); do [ -s /tmp/f.out ] && break; sleep 0.1; done
DF=$(head -1 /tmp/f.out); up=0; [ -b "$DF" ] && up=1
"$TCMU" cleanup --force > /tmp/fc.out 2>&1
t=0; while kill -0 $PF 2>/dev/null && [ $t -lt 50 ]; do sleep 0.1; t=$((t+1)); done
kill -KILL $PF 2>/dev/null; wait $PF; rf=$?
check "cleanup --force under tcmu serve: serve exits non-zero within 5 s, saying why" '[ $up = 1 ] && [ $t -lt 50 ] && [ $rf -eq 1 ] && grep -q "stopped serving forced: the kernel.s device is gone" /tmp/f.err'
check "... and nothing of ours is left" 'grep -q "removed .*user_1/forced" /tmp/fc.out && ! leftovers && [ ! -b "$DF" ]'
"$TCMU" cleanup --force > /dev/null 2>&1

# The iSCSI initiator (tcmu iscsi): LIO's iSCSI fabric on 127.0.0.1 in front of our TCMU device.
ip link set lo up
IQN=iqn.2026-11.rs.tcmu:vm-target
INI=iqn.2026-11.rs.tcmu:vm-initiator
dd if=/dev/urandom of=/tmp/ipat bs=1M count=2 2>/dev/null
# 1. No authentication.
"$TCMU" serve /tmp/i.img --size 32M --name isc --iscsi $IQN > /tmp/i.out 2>/tmp/i.err &
PI=$!
for i in $(seq 1 200); do [ -s /tmp/i.out ] && break; sleep 0.1; done
"$TCMU" iscsi discover 127.0.0.1 > /tmp/disc.out 2>&1
check "tcmu iscsi discover lists the target" 'grep -q "127.0.0.1:3260,1 $IQN" /tmp/disc.out'
ISD=$("$TCMU" iscsi login iscsi://127.0.0.1/$IQN/0 --initiator $INI --queue-depth 8 --scheduler none 2>/tmp/login.err)
check "tcmu iscsi login prints a new disk" '[ -b "$ISD" ] && [ "$ISD" != "$(head -1 /tmp/i.out)" ] && [ "$(cat /sys/block/$(basename $ISD)/size)" = 65536 ]'
check "the disk has the queue depth and scheduler asked for" '[ "$(cat /sys/block/$(basename $ISD)/device/queue_depth)" = 8 ] && grep -q "\[none\]" /sys/block/$(basename $ISD)/queue/scheduler'
dd if=/tmp/ipat of="$ISD" bs=1M seek=3 oflag=direct 2>/dev/null
check "bytes written through the iSCSI disk are in the TCMU image" 'dd if=/tmp/i.img bs=1M skip=3 count=2 2>/dev/null | cmp -s - /tmp/ipat'
mkfs.ext4 -q "$ISD" && mkdir -p /mnt/i && mount "$ISD" /mnt/i
"$TCMU" iscsi logout $IQN > /tmp/lo.out 2>&1; lrc=$?
check "logout refuses while the disk is mounted, and a second login is refused" '[ $lrc -ne 0 ] && grep -q "mounted on /mnt/i" /tmp/lo.out && [ -b "$ISD" ] && ! "$TCMU" iscsi login iscsi://127.0.0.1/$IQN/0 --initiator $INI >/dev/null 2>&1'
umount /mnt/i
"$TCMU" iscsi logout $IQN > /tmp/logout.out 2>&1
check "tcmu iscsi logout: the target acknowledges, no session, the disk is gone" 'grep -q "the target acknowledged" /tmp/logout.out && [ ! -b "$ISD" ] && [ -z "$(ls /sys/class/iscsi_session 2>/dev/null)" ]'
kill -TERM $PI; wait $PI

# 2. CHAP (one-way, then mutual), and a wrong secret: the target only lets $INI in.
export TCMU_TARGET_CHAP_SECRET=target-side-secret1 TCMU_TARGET_MUTUAL_SECRET=mutual-secret-22
"$TCMU" serve /tmp/i.img --name isc --iscsi $IQN --chap-initiator $INI --chap-user vmuser --mutual-user vmtarget > /tmp/i.out 2>/tmp/i.err &
PI=$!
for i in $(seq 1 200); do [ -s /tmp/i.out ] && break; sleep 0.1; done
ISD=$(TCMU_CHAP_SECRET=target-side-secret1 TCMU_CHAP_MUTUAL_SECRET=mutual-secret-22 "$TCMU" iscsi login iscsi://127.0.0.1/$IQN/0 --initiator $INI --chap-user vmuser --mutual-user vmtarget 2>/tmp/login.err)
check "mutual CHAP login gives the disk, and its bytes are the image's" '[ -b "$ISD" ] && dd if="$ISD" bs=1M count=4 iflag=direct of=/tmp/via 2>/dev/null && dd if=/tmp/i.img bs=1M count=4 of=/tmp/img4 2>/dev/null && cmp -s /tmp/via /tmp/img4'
"$TCMU" iscsi logout --all > /dev/null 2>&1
ISD=$(TCMU_CHAP_SECRET=target-side-secret1 "$TCMU" iscsi login iscsi://127.0.0.1/$IQN/0 --initiator $INI --chap-user vmuser 2>/tmp/login.err)
check "one-way CHAP login gives the disk" '[ -b "$ISD" ]'
"$TCMU" iscsi logout $IQN > /dev/null 2>&1
out=$(TCMU_CHAP_SECRET=not-the-secret "$TCMU" iscsi login iscsi://127.0.0.1/$IQN/0 --initiator $INI --chap-user vmuser 2>&1); rc=$?
check "a wrong CHAP secret fails cleanly, and no session remains" '[ $rc -ne 0 ] && echo "$out" | grep -q "authentication failed" && [ -z "$(ls /sys/class/iscsi_session 2>/dev/null)" ]'

# 3. open-iscsi's iscsiadm, the reference initiator, against the same target.
mkdir -p /etc/iscsi /run/lock/iscsi /var/lib/iscsi
echo "InitiatorName=$INI" > /etc/iscsi/initiatorname.iscsi
iscsid 2>/dev/null; sleep 1
iscsiadm -m discovery -t st -p 127.0.0.1 >/dev/null 2>&1
adm() { iscsiadm -m node -T $IQN -p 127.0.0.1 -o update -n "$1" -v "$2"; }
adm node.session.auth.authmethod CHAP; adm node.session.auth.username vmuser; adm node.session.auth.password target-side-secret1
adm node.session.auth.username_in vmtarget; adm node.session.auth.password_in mutual-secret-22
iscsiadm -m node -T $IQN -p 127.0.0.1 --login >/tmp/adm.out 2>&1; arc=$?
check "tcmu iscsi logout leaves iscsiadm's session alone" '! "$TCMU" iscsi logout $IQN >/dev/null 2>&1 && [ -n "$(ls /sys/class/iscsi_session 2>/dev/null)" ]'
iscsiadm -m node -T $IQN -p 127.0.0.1 --logout >/dev/null 2>&1
adm node.session.auth.password not-the-secret
iscsiadm -m node -T $IQN -p 127.0.0.1 --login >/tmp/adm2.out 2>&1; brc=$?
check "iscsiadm agrees: the right secret logs in, the wrong one is refused" '[ $arc -eq 0 ] && [ $brc -ne 0 ]'
iscsiadm -m node -T $IQN -p 127.0.0.1 --logout >/dev/null 2>&1
kill $(pidof iscsid) 2>/dev/null
kill -TERM $PI; wait $PI; rc=$?
check "the served iSCSI target goes with tcmu serve" '[ $rc -eq 0 ] && [ ! -e /sys/kernel/config/target/iscsi/$IQN ] && [ -z "$(ls /sys/class/iscsi_session 2>/dev/null)" ]'

# The initiator's connection recovery (recover.sh, beside this script).
. "$VM_SCRIPTS/recover.sh"

# The library's examples, as a user runs them: each serves a real disk until SIGTERM.
serve_example() { # NAME ARGS...: starts it, sets EP (pid) and ED (its disk)
  n=$1; shift
  "$EXAMPLES/$n" "$@" > /tmp/ex.out 2> /tmp/ex.err &
  EP=$!
  for i in $(seq 1 200); do [ -s /tmp/ex.out ] && break; sleep 0.1; done
  ED=$(head -1 /tmp/ex.out)
}
serve_example ram_disk
check "example ram_disk: a 64 MiB disk that keeps what is written" '[ -b "$ED" ] && [ "$(cat /sys/block/$(basename $ED)/size)" = 131072 ] && dd if=/tmp/pattern of="$ED" bs=1M seek=1 oflag=direct 2>/dev/null && dd if="$ED" bs=1M skip=1 count=8 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern'
kill -TERM $EP; wait $EP; rc=$?
check "example ram_disk stops on SIGTERM and removes its disk" '[ $rc -eq 0 ] && ! leftovers'
serve_example command_handler
check "example command_handler: a write to block 0 is refused write protected, others land" '[ -b "$ED" ] && ! dd if=/tmp/pattern of="$ED" bs=4k count=1 oflag=direct 2>/dev/null && grep -q "refused WRITE" /tmp/ex.err && dd if=/tmp/pattern of="$ED" bs=4k count=1 seek=1 oflag=direct 2>/dev/null && dd if="$ED" bs=4k skip=1 count=1 iflag=direct 2>/dev/null | cmp -s -n 4096 - /tmp/pattern'
kill -TERM $EP; wait $EP; rc=$?
check "example command_handler stops on SIGTERM and removes its disk" '[ $rc -eq 0 ] && ! leftovers'
head -c 8M /tmp/pattern > /tmp/ro.img
serve_example read_only_image /tmp/ro.img
check "example read_only_image: reads the image, refuses writes, leaves it unchanged" '[ -b "$ED" ] && dd if="$ED" bs=1M count=8 iflag=direct 2>/dev/null | cmp -s - /tmp/ro.img && ! dd if=/dev/zero of="$ED" bs=4k count=1 oflag=direct 2>/dev/null && cmp -s /tmp/ro.img /tmp/pattern'
kill -TERM $EP; wait $EP; rc=$?
check "example read_only_image stops on SIGTERM and removes its disk" '[ $rc -eq 0 ] && ! leftovers'

echo "vm-test: $pass passed, $fail failed"
[ $fail -eq 0 ]
