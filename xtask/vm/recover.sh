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
    --noop-interval 2 --noop-timeout 2 $OPTS > /tmp/stay.out 2>>/tmp/stay.err &
  PSTAY=$!
  for i in $(seq 1 300); do [ -s /tmp/stay.out ] && break; sleep 0.1; done
  RD=$(head -1 /tmp/stay.out)
}
cut_link() { # SECONDS: the portal gone and the connection reset, for that long
  rmdir $NP
  ss -K dst 127.0.0.1 dport = :3260 >> /tmp/cuts.log 2>&1
  sleep $1
  mkdir $NP
}
backs() { grep -c "connection back after" /tmp/stay.err; }
rm -f /tmp/stay.err /tmp/cuts.log
# Digests on header and data, and the session options: what LIO agreed to is what the kernel
# runs with, and `tcmu iscsi list` shows it.
OPTS="--header-digest CRC32C --data-digest CRC32C --max-recv-data-segment-length 65536 --max-burst-length 131072 --first-burst-length 32768 --immediate-data no --cmds-max 64"
stay 40
check "login --stay prints the disk and keeps running" '[ -b "$RD" ] && kill -0 $PSTAY'
listed() {
  "$TCMU" iscsi list > /tmp/ilist.out 2>&1
  grep -q "^session [0-9]* $RIQN 127.0.0.1:3260 $RD LOGGED_IN tcmu$" /tmp/ilist.out &&
  for kv in HeaderDigest=CRC32C DataDigest=CRC32C MaxRecvDataSegmentLength=65536 MaxBurstLength=131072 FirstBurstLength=32768 ImmediateData=No replacement_timeout=40 noop_out_interval=2 noop_out_timeout=2; do
    grep -q " $kv\( \|\$\)" /tmp/ilist.out || { echo "recover: no $kv in:"; cat /tmp/ilist.out; return 1; }
  done
}
check "tcmu iscsi list: the session, its disk, digests on, the options as negotiated" 'listed'
"$TCMU" iscsi supervise 2> /tmp/sup0.err &
P0=$!; sleep 2; kill -TERM $P0; wait $P0
check "tcmu iscsi supervise leaves the session login --stay watches alone" 'grep -q "watching the sessions" /tmp/sup0.err && ! grep -q "watching session [0-9]" /tmp/sup0.err'
# The cuts, in seconds ($RECOVER_CUTS: the second kernel's short run makes one); fio runs
# through all of them and 10 s more.
CUTS=${RECOVER_CUTS:-5 8 12}
NCUTS=$(echo $CUTS | wc -w)
runtime=14; for c in $CUTS; do runtime=$(( runtime + c + 5 )); done
fio --name=rec --filename="$RD" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=8 \
  --size=32m --time_based --runtime=$runtime --verify=crc32c --verify_backlog=256 --verify_fatal=1 \
  --do_verify=1 --output=/tmp/rec.fio > /dev/null 2>&1 &
PFIO=$!
t0=$(date +%s)
sleep 4; n=0
for c in $CUTS; do
  cut_link $c; n=$((n+1))
  for i in $(seq 1 60); do [ "$(backs)" -ge $n ] && break; sleep 0.5; done
  sleep 3
done
wait $PFIO; frc=$?
echo "recover: fio ran $(( $(date +%s) - t0 )) s; the cuts:"; cat /tmp/cuts.log
echo "recover: the supervisor said:"; cat /tmp/stay.err
check "fio with crc32c verify runs through cuts of $CUTS s with no error" '[ $frc -eq 0 ] && ! grep -qE "err=[ ]*[1-9]|verify: bad" /tmp/rec.fio'
check "the supervisor saw each cut and brought the connection back on the same disk" '[ "$(grep -c "failed (ISCSI_ERR" /tmp/stay.err)" -ge $NCUTS ] && [ "$(backs)" -ge $NCUTS ] && [ "$(head -1 /tmp/stay.out)" = "$RD" ] && [ -b "$RD" ] && [ "$(ls /sys/class/iscsi_session | wc -l)" = 1 ]'
check "... and after the cuts the same again (digests and options set on each new connection)" 'listed'
check "the CHAP secret is nowhere in the supervisor's output or the state directory" '! grep -rq recover-secret /tmp/stay.err /tmp/stay.out /run/tcmu-rs'
# The bytes fio left are the image's own (read below the initiator: the TCMU image file).
dd if="$RD" bs=1M count=32 iflag=direct 2>/dev/null | md5sum > /tmp/rec.via
check "what the iSCSI disk reads is the image's bytes" 'dd if=/tmp/rec.img bs=1M count=32 2>/dev/null | md5sum | cmp -s - /tmp/rec.via'
kill -TERM $PSTAY; wait $PSTAY; src=$?
check "SIGTERM ends the supervisor, the session stays" '[ $src -eq 0 ] && [ -b "$RD" ]'
"$TCMU" iscsi logout $RIQN > /dev/null 2>&1
OPTS=""
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
# Logged out by someone else, the session is not chased: login --stay ends by itself.
"$TCMU" iscsi logout $RIQN > /dev/null 2>&1
for i in $(seq 1 100); do kill -0 $PSTAY 2>/dev/null || break; sleep 0.1; done
kill -0 $PSTAY 2>/dev/null && kill -TERM $PSTAY; wait $PSTAY; src=$?
check "a logout elsewhere ends login --stay (nothing left to watch), exit 0" '[ $src -eq 0 ] && grep -q "nothing left to watch" /tmp/stay.err'

# `tcmu iscsi supervise`, the service: a session a plain `tcmu iscsi login` made (digests on)
# is found and brought back through a cut, from what sysfs and the state directory hold.
RD=$(TCMU_CHAP_SECRET=recover-secret-1234 "$TCMU" iscsi login iscsi://127.0.0.1/$RIQN/0 --initiator $RINI --chap-user recuser --header-digest CRC32C --data-digest CRC32C --replacement-timeout 30 2>/dev/null)
TCMU_CHAP_SECRET=recover-secret-1234 "$TCMU" iscsi supervise --chap-user recuser 2> /tmp/sup.err &
PSUP=$!
for i in $(seq 1 100); do grep -q "watching session [0-9]" /tmp/sup.err && break; sleep 0.1; done
fio --name=sup --filename="$RD" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=8 \
  --size=16m --time_based --runtime=15 --verify=crc32c --verify_backlog=256 --verify_fatal=1 \
  --do_verify=1 --output=/tmp/sup.fio > /dev/null 2>&1 &
PFIO=$!
sleep 3; cut_link 5
wait $PFIO; frc=$?
cat /tmp/sup.err
check "tcmu iscsi supervise brings a plain login's session back: fio verify through a 5 s cut, digests on again" '[ -b "$RD" ] && [ $frc -eq 0 ] && grep -q "connection back after" /tmp/sup.err && "$TCMU" iscsi list | grep -q "HeaderDigest=CRC32C DataDigest=CRC32C" && ! grep -q recover-secret /tmp/sup.err'
kill -TERM $PSUP; wait $PSUP
"$TCMU" iscsi logout $RIQN > /dev/null 2>&1
kill -TERM $PREC; wait $PREC

# Time to a usable disk: `tcmu iscsi login` against open-iscsi's `iscsiadm --login` with iscsid
# running (same target, same CHAP), each until its disk is there; printed for the README.
ms() { echo $(( $(date +%s%N) / 1000000 )); }
"$TCMU" serve /tmp/rec.img --name rec --iscsi $RIQN --chap-initiator $RINI --chap-user recuser > /tmp/rec.out 2>/tmp/rec.err &
PREC=$!
for i in $(seq 1 200); do [ -s /tmp/rec.out ] && break; sleep 0.1; done
t=$(ms); RD=$(TCMU_CHAP_SECRET=recover-secret-1234 "$TCMU" iscsi login iscsi://127.0.0.1/$RIQN/0 --initiator $RINI --chap-user recuser 2>/dev/null)
ours=$(( $(ms) - t )); ours_ok=0; [ -b "$RD" ] && ours_ok=1
"$TCMU" iscsi logout $RIQN > /dev/null 2>&1
mkdir -p /etc/iscsi /run/lock/iscsi /var/lib/iscsi
echo "InitiatorName=$RINI" > /etc/iscsi/initiatorname.iscsi
iscsid 2>/dev/null; sleep 1
iscsiadm -m discovery -t st -p 127.0.0.1 > /dev/null 2>&1
radm() { iscsiadm -m node -T $RIQN -p 127.0.0.1 -o update -n "$1" -v "$2"; }
radm node.session.auth.authmethod CHAP; radm node.session.auth.username recuser; radm node.session.auth.password recover-secret-1234
disk_up() { ls /sys/class/iscsi_session/session*/device/target*/*/block 2>/dev/null | grep -q sd; }
t=$(ms); iscsiadm -m node -T $RIQN -p 127.0.0.1 --login > /dev/null 2>&1
for i in $(seq 1 500); do disk_up && break; sleep 0.01; done
theirs=$(( $(ms) - t ))
echo "recover: login to a usable disk: tcmu iscsi login $ours ms, iscsiadm --login $theirs ms"
check "both initiators give the disk (login times printed above)" '[ $ours_ok = 1 ] && disk_up'
iscsiadm -m node -T $RIQN -p 127.0.0.1 --logout > /dev/null 2>&1
iscsiadm -m node -T $RIQN -p 127.0.0.1 -o delete > /dev/null 2>&1
kill $(pidof iscsid) 2>/dev/null
kill -TERM $PREC; wait $PREC
unset TCMU_TARGET_CHAP_SECRET
