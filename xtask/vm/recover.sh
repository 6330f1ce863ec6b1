# Sourced by tests.sh (needs $TCMU and check()): `tcmu iscsi login --stay` brings a cut
# connection back. LIO's iSCSI fabric on 127.0.0.1 in front of our TCMU device, one-way CHAP
# (the re-logins need the secret, kept in memory); fio with crc32c verify runs while the
# connection is cut three times (the portal removed so reconnections are refused, the TCP
# connection reset with `ss -K`), for 5, 8 and 12 s; then a cut longer than the replacement
# time-out fails I/O cleanly, and the disk comes back when the target does.
RIQN=iqn.2026-11.rs.tcmu:vm-recover
RINI=iqn.2026-11.rs.tcmu:vm-recover-initiator
NP=/sys/kernel/config/target/iscsi/$RIQN/tpgt_1/np/127.0.0.1:3260
ip link set lo up
modprobe tcp_diag
export TCMU_TARGET_CHAP_SECRET=recover-secret-1234
"$TCMU" serve /tmp/rec.img --size 64M --name rec --iscsi $RIQN --chap-initiator $RINI --chap-user recuser > /tmp/rec.out 2>/tmp/rec.err &
PREC=$!
for i in $(seq 1 200); do [ -s /tmp/rec.out ] && break; sleep 0.1; done
stay() { # REPLACEMENT_SECONDS: logs in with --stay in the background; sets PSTAY and RD
  rm -f /tmp/stay.out
  TCMU_CHAP_SECRET=recover-secret-1234 "$TCMU" iscsi login iscsi://127.0.0.1/$RIQN/0 \
    --initiator $RINI --chap-user recuser --stay --replacement-timeout $1 \
    --noop-interval 2 --noop-timeout 2 > /tmp/stay.out 2>>/tmp/stay.err &
  PSTAY=$!
  for i in $(seq 1 300); do [ -s /tmp/stay.out ] && break; sleep 0.1; done
  RD=$(head -1 /tmp/stay.out)
}
cut() { # SECONDS: the portal gone and the connection reset, for that long
  rmdir $NP
  ss -K dst 127.0.0.1 dport = :3260 >> /tmp/cuts.log 2>&1
  sleep $1
  mkdir $NP
}
backs() { grep -c "connection back after" /tmp/stay.err; }
rm -f /tmp/stay.err /tmp/cuts.log
stay 40
check "login --stay prints the disk and keeps running" '[ -b "$RD" ] && kill -0 $PSTAY'
fio --name=rec --filename="$RD" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=8 \
  --size=32m --time_based --runtime=55 --verify=crc32c --verify_backlog=256 --verify_fatal=1 \
  --do_verify=1 --output=/tmp/rec.fio > /dev/null 2>&1 &
PFIO=$!
t0=$(date +%s)
sleep 4; cut 5
for i in $(seq 1 60); do [ "$(backs)" -ge 1 ] && break; sleep 0.5; done
sleep 3; cut 8
for i in $(seq 1 60); do [ "$(backs)" -ge 2 ] && break; sleep 0.5; done
sleep 3; cut 12
wait $PFIO; frc=$?
echo "recover: fio ran $(( $(date +%s) - t0 )) s; the cuts:"; cat /tmp/cuts.log
echo "recover: the supervisor said:"; cat /tmp/stay.err
check "fio with crc32c verify runs through three cuts (5, 8, 12 s) with no error" '[ $frc -eq 0 ] && ! grep -qE "err=[ ]*[1-9]|verify: bad" /tmp/rec.fio'
check "the supervisor saw each cut and brought the connection back on the same disk" '[ "$(grep -c "failed (ISCSI_ERR" /tmp/stay.err)" -ge 3 ] && [ "$(backs)" -ge 3 ] && [ "$(head -1 /tmp/stay.out)" = "$RD" ] && [ -b "$RD" ] && [ "$(ls /sys/class/iscsi_session | wc -l)" = 1 ]'
check "the CHAP secret is nowhere in the supervisor's output" '! grep -q recover-secret /tmp/stay.err /tmp/stay.out'
# The bytes fio left are the image's own (read below the initiator: the TCMU image file).
dd if="$RD" bs=1M count=32 iflag=direct 2>/dev/null | md5sum > /tmp/rec.via
check "what the iSCSI disk reads is the image's bytes" 'dd if=/tmp/rec.img bs=1M count=32 2>/dev/null | md5sum | cmp -s - /tmp/rec.via'
kill -TERM $PSTAY; wait $PSTAY; src=$?
check "SIGTERM ends the supervisor, the session stays" '[ $src -eq 0 ] && [ -b "$RD" ]'
"$TCMU" iscsi logout $RIQN > /dev/null 2>&1
# A cut longer than the replacement time-out: I/O fails (an error, not a hang), then the
# target comes back and so does the disk.
stay 6
rmdir $NP; ss -K dst 127.0.0.1 dport = :3260 >> /tmp/cuts.log 2>&1
t0=$(date +%s)
dd if=/dev/zero of="$RD" bs=4k count=1 seek=5 oflag=direct 2>/dev/null; drc=$?
took=$(( $(date +%s) - t0 ))
sleep 4; mkdir $NP
for i in $(seq 1 60); do grep -q "I/O issued after the replacement time-out failed" /tmp/stay.err && break; sleep 0.5; done
check "a cut past --replacement-timeout 6 fails the write in 6-20 s, and the log says so" '[ $drc -ne 0 ] && [ $took -ge 5 ] && [ $took -le 20 ] && grep -q "not back after .*replacement time-out" /tmp/stay.err'
check "... and when the target is back the disk serves again" 'grep -q "I/O issued after the replacement time-out failed" /tmp/stay.err && dd if="$RD" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null'
kill -TERM $PSTAY; wait $PSTAY
"$TCMU" iscsi logout $RIQN > /dev/null 2>&1
kill -TERM $PREC; wait $PREC
unset TCMU_TARGET_CHAP_SECRET
