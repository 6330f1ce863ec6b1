#!/bin/sh
# Ceph RBD, run as root inside the VM by `cargo xtask vm-test` (Linux 6.1) after runner.sh;
# $TCMU is the program, $CEPH_SCRIPT the project's single-node cluster script. A throwaway
# cluster (one monitor, one in-memory OSD) is started in the guest's /tmp; every data check
# reads the image back through another client (`rbd export`), so the bytes are the
# cluster's, not a cache's. Each check prints PASS or FAIL and the last line counts them.
pass=0; fail=0
check() { if eval "$2"; then echo "PASS $1"; pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
modprobe target_core_user; modprobe tcm_loop
C=/sys/kernel/config/target
R=/tmp/rbdt
rm -rf $R; mkdir -p $R/mnt
head -c 4194304 /dev/urandom > $R/pat
head -c 4194304 /dev/zero > $R/zero

t0=$(date +%s)
if ! conf=$(sh "$CEPH_SCRIPT" up $R/ceph 1536); then
  echo "FAIL the guest's Ceph cluster starts"; echo "0 passed, 1 failed"; exit 1
fi
export CEPH_CONF=$R/ceph/ceph.conf
echo "ceph: cluster up in $(( $(date +%s) - t0 )) s"
# Clients keep writes in librbd's cache until a flush, from the first write (Ceph's default
# writes through until the first flush): a flush the server forgot would show as lost data.
printf '\n[client]\nrbd cache = true\nrbd cache policy = writeback\nrbd cache writethrough until flush = false\nrbd cache max dirty age = 600\n' >> $CEPH_CONF
KR=$R/ceph/client.tcmu.keyring
export_at() { # IMAGE MIB COUNT: COUNT MiB of IMAGE from MIB on, as the cluster holds them
  rbd export "rbd/$1" - 2>/dev/null | dd bs=1M skip=$2 count=$3 iflag=fullblock 2>/dev/null
}
serve() { # NAME SPEC...: starts tcmu serve, sets SP and DEV; true once the disk is there
  NAME=$1; shift
  "$TCMU" serve "$@" --name $NAME > $R/$NAME.out 2> $R/$NAME.err &
  SP=$!
  for i in $(seq 1 300); do [ -s $R/$NAME.out ] && break; kill -0 $SP 2>/dev/null || break; sleep 0.1; done
  DEV=$(head -1 $R/$NAME.out 2>/dev/null)
  [ -b "$DEV" ]
}

rbd create --size 256M rbd/d1
check "tcmu serve rbd:rbd/d1 (client tcmu, its keyring) gives a 256 MiB disk" 'serve d1 "rbd:rbd/d1@id=tcmu,keyring=$KR" && [ "$(cat /sys/block/$(basename $DEV)/size)" = 524288 ]'
[ -b "$DEV" ] || cat $R/d1.err
D1=$DEV; P1=$SP
# Block Limits' OPTIMAL UNMAP GRANULARITY is an object: Linux sends discards in whole ones.
check "the kernel's discard granularity is the image's 4 MiB object" '[ "$(cat /sys/block/$(basename $D1)/queue/discard_granularity)" = 4194304 ]'

dd if=$R/pat of=$D1 bs=1M seek=200 oflag=direct conv=fsync 2>/dev/null
check "bytes written and synced are in the cluster" 'export_at d1 200 4 | cmp -s - $R/pat'

mkfs.ext4 -q -F $D1 && mount $D1 $R/mnt && cp $R/pat $R/mnt/f && sync && umount $R/mnt; mrc=$?
rbd export rbd/d1 $R/fs.img > /dev/null 2>&1
check "mkfs.ext4, a file written, umount: the cluster's copy passes e2fsck and holds the file" '[ $mrc -eq 0 ] && e2fsck -fn $R/fs.img > /dev/null 2>&1 && debugfs -R "cat /f" $R/fs.img 2>/dev/null | cmp -s - $R/pat'
rm -f $R/fs.img
fio --name=v --filename=$D1 --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 \
    --offset=150m --size=32m --verify=crc32c --verify_fatal=1 --do_verify=1 \
    --output=$R/fio.out > /dev/null 2>&1; frc=$?
check "fio 4 KiB random writes at QD16 with crc32c verify: no error" '[ $frc -eq 0 ] && grep -q "err= 0" $R/fio.out'
grep -h "IOPS" $R/fio.out | head -2

# UNMAP (blkdiscard): the blocks read back as zeroes from the cluster, a whole 4 MiB object
# and 1 MiB inside another (which a plain discard of part of an object would leave as it
# was), and the bytes around them stay. The pattern is written and checked first (mkfs
# discarded this range already).
dd if=$R/pat of=$D1 bs=1M seek=200 oflag=direct conv=fsync 2>/dev/null
dd if=$R/pat of=$D1 bs=1M seek=208 oflag=direct conv=fsync 2>/dev/null
before=0; export_at d1 200 4 | cmp -s - $R/pat && export_at d1 208 4 | cmp -s - $R/pat && before=1
blkdiscard -f -o $((200 << 20)) -l $((4 << 20)) $D1 && blkdiscard -f -o $((209 << 20)) -l $((1 << 20)) $D1; drc=$?
# Unmapped blocks pass through librbd's cache like writes: SYNCHRONIZE CACHE puts them in the
# cluster.
sg_sync $D1
head -c 1048576 /dev/zero > $R/zero1
dd if=$R/pat of=$R/pat0 bs=1M count=1 2>/dev/null; dd if=$R/pat of=$R/pat23 bs=1M skip=2 count=2 2>/dev/null
check "blkdiscard: a whole object and 1 MiB inside another read back as zeroes from the cluster, the rest kept" '[ $before = 1 ] && [ $drc -eq 0 ] && export_at d1 200 4 | cmp -s - $R/zero && export_at d1 209 1 | cmp -s - $R/zero1 && export_at d1 208 1 | cmp -s - $R/pat0 && export_at d1 210 2 | cmp -s - $R/pat23'

# The power cut: writes acknowledged with a flush (O_DIRECT + fsync: FUA or SYNCHRONIZE
# CACHE) are in the cluster after the server is SIGKILLed (librbd's cache dies with it);
# 20 chunks written by a writer that fsyncs each, while another writes without syncing.
( i=0; while [ $i -lt 4000 ]; do dd if=/dev/urandom of=$D1 bs=64k seek=$((1600 + i % 400)) count=1 oflag=direct 2>/dev/null; i=$((i+1)); done ) &
NP=$!
i=0; while [ $i -lt 20 ]; do
  dd if=$R/pat of=$D1 bs=64k skip=$i seek=$((1000 + i * 3)) count=1 oflag=direct conv=fsync 2>/dev/null || break
  i=$((i+1))
done
synced=$i
kill -KILL $P1; wait $P1 2>/dev/null
kill $NP 2>/dev/null; wait $NP 2>/dev/null
rbd export rbd/d1 $R/d1.after > /dev/null 2>&1
lost=0; i=0
while [ $i -lt $synced ]; do
  dd if=$R/pat of=$R/c bs=64k skip=$i count=1 2>/dev/null
  dd if=$R/d1.after bs=64k skip=$((1000 + i * 3)) count=1 2>/dev/null | cmp -s - $R/c || lost=$((lost+1))
  i=$((i+1))
done
check "SIGKILL of the server: all $synced flushed 64 KiB writes are in the cluster" '[ $synced -eq 20 ] && [ $lost -eq 0 ]'
timeout 60 "$TCMU" cleanup > $R/cleanup.out 2>&1
check "tcmu cleanup removes the dead server's device" '! [ -e $C/core/user_1/d1 ] && ! [ -b "$D1" ]'

# SIGTERM (and SIGINT) stop the server as the file device's do: the device removed, status
# 0, and what librbd's cache held written to the cluster.
rbd create --size 64M rbd/d4
serve d4 "rbd:rbd/d4@id=tcmu,keyring=$KR" || cat $R/d4.err
D4=$DEV
# Resized while served (`rbd resize`, another client): the next command is answered UNIT
# ATTENTION, CAPACITY DATA HAS CHANGED (sg_turs exits 6), once; a rescan gives the kernel the
# new size, and a write past the old end lands in the cluster.
rbd resize --size 96M rbd/d4 > /dev/null 2>&1; zrc=$?
sg_turs -v $D4 > $R/turs1 2>&1; t1=$?
sg_turs $D4 > /dev/null 2>&1; t2=$?
echo 1 > /sys/block/$(basename $D4)/device/rescan
dd if=$R/pat of=$D4 bs=1M seek=90 oflag=direct conv=fsync 2>/dev/null; wrc=$?
check "rbd resize while served: UNIT ATTENTION, CAPACITY DATA HAS CHANGED once, the new size after a rescan, a write past the old end in the cluster" \
  '[ $zrc -eq 0 ] && [ $t1 -eq 6 ] && grep -qi "capacity data has changed" $R/turs1 && [ $t2 -eq 0 ] && [ "$(blockdev --getsize64 $D4)" = 100663296 ] && [ $wrc -eq 0 ] && export_at d4 90 4 | cmp -s - $R/pat'
[ $t1 -eq 6 ] || { echo "sg_turs: $t1 $t2"; cat $R/turs1; }
# Written without a flush: SIGTERM must write it back.
dd if=$R/pat of=$D4 bs=1M seek=4 oflag=direct 2>/dev/null
kill -TERM $SP; wait $SP; trc=$?
check "SIGTERM: status 0, the device gone, its unflushed writes in the cluster" '[ $trc -eq 0 ] && ! [ -e $C/core/user_1/d4 ] && ! [ -b "$D4" ] && export_at d4 4 4 | cmp -s - $R/pat'

# The runner's rbd subtype, in tcmu-runner's configuration form, as targetcli writes it.
rbd create --size 64M rbd/d2
NO_COLOR=1 "$TCMU" runner > $R/runner.log 2>&1 &
RP=$!
for i in $(seq 1 100); do grep -q "serving subtypes" $R/runner.log && break; sleep 0.1; done
mkdir -p $C/core/user_7/d2
echo -n "dev_config=rbd/rbd/d2;id=tcmu;keyring=$KR;osd_op_timeout=30" > $C/core/user_7/d2/control
echo -n "dev_size=67108864" > $C/core/user_7/d2/control
timeout 60 sh -c "echo -n 1 > $C/core/user_7/d2/enable"; erc=$?
check "runner: a user:rbd backstore (rbd/POOL/IMAGE;id=;keyring=;osd_op_timeout=) is served" '[ $erc -eq 0 ] && grep -q "serving device=user_7/d2" $R/runner.log'
mkdir -p $C/core/user_7/d3
echo -n "dev_config=rbd/rbd/d2;id=tcmu;keyring=$KR" > $C/core/user_7/d3/control
echo -n "dev_size=33554432" > $C/core/user_7/d3/control
timeout 60 sh -c "echo -n 1 > $C/core/user_7/d3/enable" 2>/dev/null; erc=$?
check "... one whose size differs from the image's is refused at once (not a time-out)" '[ $erc -ne 0 ] && [ $erc -ne 124 ] && grep -q "holds 67108864 bytes but the device is 33554432 bytes" $R/runner.log'
rmdir $C/core/user_7/d3 2>/dev/null
WWN=naa.5001405000000078
before=$(ls /sys/block | tr '\n' ' ')
mkdir -p $C/loopback/$WWN/tpgt_1/lun/lun_0
echo -n $WWN > $C/loopback/$WWN/tpgt_1/nexus
ln -s $C/core/user_7/d2 $C/loopback/$WWN/tpgt_1/lun/lun_0/d2
D2=
for i in $(seq 1 100); do
  for d in $(ls /sys/block); do case " $before " in *" $d "*) ;; *) case $d in sd*) D2=/dev/$d ;; esac ;; esac; done
  [ -n "$D2" ] && break; sleep 0.1
done
dd if=$R/pat of=$D2 bs=1M seek=8 oflag=direct conv=fsync 2>/dev/null
check "... its bytes, synced, are in the cluster" '[ -b "$D2" ] && export_at d2 8 4 | cmp -s - $R/pat'
rm -f $C/loopback/$WWN/tpgt_1/lun/lun_0/d2
rmdir $C/loopback/$WWN/tpgt_1/lun/lun_0 $C/loopback/$WWN/tpgt_1 $C/loopback/$WWN
rmdir $C/core/user_7/d2
kill -TERM $RP; wait $RP

# Two gateways of one image failing over under fio (gateways.sh, beside this script).
. "$VM_SCRIPTS/gateways.sh"

sh "$CEPH_SCRIPT" down $R/ceph
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
