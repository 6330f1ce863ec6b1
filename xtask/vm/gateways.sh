# Two gateways, one image: sourced by rbd.sh (its cluster, $R, $KR, check, export_at), run by
# `cargo xtask vm-test`. Gateway A (target port group 1) and B (group 2) serve rbd/gw through
# LIO's iSCSI fabric on two portals; open-iscsi logs in to both and multipathd groups the two
# paths (same serial and NAA: the image's id) by their ALUA state. fio writes with crc32c
# verify while A, holding the lock, is SIGKILLed: its path fails, B takes the lock over
# (blocklisting A), fio ends with no error; A restarted joins active/non-optimized. Then the
# same with our own initiator (`tcmu iscsi login`) and B, now the holder, SIGKILLed.
for m in dm_multipath dm_round_robin dm_service_time scsi_dh_alua iscsi_tcp; do modprobe $m 2>/dev/null; done
G=$R/gw; mkdir -p $G /etc/multipath /etc/iscsi /run/lock/iscsi /var/lib/iscsi
rbd create --size 128M rbd/gw
gw() { # NAME GROUP PORT: serves rbd/gw as a gateway exported on 127.0.0.1:PORT
  rm -f $G/$1.out
  NO_COLOR=1 "$TCMU" serve "rbd:rbd/gw@id=tcmu,keyring=$KR" --name $1 --hba 9 --alua-group $2 \
    --iscsi iqn.2026-12.rs.tcmu:$1 --portal 127.0.0.1:$3 --cmd-time-out 5 > $G/$1.out 2> $G/$1.err &
  eval "P_$1=$!"
  for i in $(seq 1 300); do [ -s $G/$1.out ] && break; sleep 0.1; done
  [ -s $G/$1.out ]
}
login() { # NAME PORT
  iscsiadm -m discovery -t st -p 127.0.0.1:$2 > /dev/null 2>&1
  iscsiadm -m node -T iqn.2026-12.rs.tcmu:$1 -p 127.0.0.1:$2 -o update -n node.session.timeo.replacement_timeout -v 5
  iscsiadm -m node -T iqn.2026-12.rs.tcmu:$1 -p 127.0.0.1:$2 --login > /dev/null 2>&1
}
sd_of() { # IQN: the sd disk of the session to that target
  for s in /sys/class/iscsi_session/session*; do
    [ "$(cat $s/targetname)" = "$1" ] || continue
    ls $s/device/target*/*/block 2>/dev/null | head -1
  done
}
state_of() { # SD: the access state its own gateway reports for its own group
  sg_rtpg -d /dev/$1 2>/dev/null | grep -m1 "access state" | sed 's/.*(\(.*\))/\1/'
}
wait_map() { # sets MAP: the multipath map, once both its paths are active and ready
  MAP=
  for i in $(seq 1 150); do
    MAP=$(dmsetup ls --target multipath 2>/dev/null | awk '$2 ~ /^\(/ {print $1; exit}')
    [ -n "$MAP" ] && [ "$(multipath -ll 2>/dev/null | grep -c 'active ready')" = 2 ] && break; sleep 0.2
  done
}
settled() { # OUT: `multipath -ll` into $G/OUT once the holder's group (prio 50) is active and
  # the other's (prio 10) enabled: multipathd sets both at its next checks (up to 30 s)
  for i in $(seq 1 150); do
    multipath -ll > $G/$1 2>&1
    grep -q "prio=50 status=active" $G/$1 && grep -q "prio=10 status=enabled" $G/$1 && break
    sleep 0.2
  done
}
failover() { # OUT VICTIM SURVIVOR: fio with crc32c verify on $DM into $G/OUT while gateway
  # VICTIM (holding the lock) is SIGKILLed; sets running, frc and ms (until SURVIVOR holds it)
  fio --name=v --filename=$DM --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 \
      --size=24m --verify=crc32c --verify_fatal=1 --do_verify=1 --output=$G/$1 > /dev/null 2>&1 &
  FP=$!
  sleep 3
  running=0; kill -0 $FP 2>/dev/null && running=1
  t0=$(date +%s%N)
  eval "kill -KILL \$P_$2; wait \$P_$2 2>/dev/null"
  for i in $(seq 1 600); do grep -q "took the exclusive lock over" $G/$3.err && break; sleep 0.1; done
  t1=$(date +%s%N)
  wait $FP; frc=$?
  ms=$(( (t1 - t0) / 1000000 ))
}
gw gwa 1 3260 && gw gwb 2 3261; grc=$?
check "two gateways of rbd/gw serve (A took the free lock)" '[ $grc -eq 0 ] && grep -q "took the free exclusive lock" $G/gwa.err && ! grep -q "took the free" $G/gwb.err'
[ $grc -eq 0 ] || { cat $G/gwa.err $G/gwb.err; }
echo "InitiatorName=iqn.2026-12.rs.tcmu:vm-initiator" > /etc/iscsi/initiatorname.iscsi
iscsid 2>/dev/null; sleep 1
login gwa 3260; login gwb 3261
SA=$(sd_of iqn.2026-12.rs.tcmu:gwa); SB=$(sd_of iqn.2026-12.rs.tcmu:gwb)
sg_vpd -p di_lu /dev/$SA > $G/id-a.txt 2>&1; sg_vpd -p di_lu /dev/$SB > $G/id-b.txt 2>&1
check "open-iscsi logs in to both: one disk each, one identity (VPD 83h)" '[ -n "$SA" ] && [ -n "$SB" ] && grep -q "designator type: NAA" $G/id-a.txt && cmp -s $G/id-a.txt $G/id-b.txt'
check "REPORT TARGET PORT GROUPS: A active/optimized, B active/non-optimized" 'state_of $SA | grep -qi "active/optimized" && state_of $SB | grep -qi "active/non optimized"'
sg_rtpg -d /dev/$SA > $G/rtpg-a.txt 2>&1; sg_rtpg -d /dev/$SB > $G/rtpg-b.txt 2>&1

# multipathd, with udev for the disks' identities; only iSCSI paths (any other disk of the
# guest is left alone).
# (udevadm refuses to work in a chroot, as the guest's script runs, unless told to go on.)
export SYSTEMD_IGNORE_CHROOT=1
/lib/systemd/systemd-udevd --daemon 2>/dev/null
udevadm trigger --action=add --subsystem-match=block 2>/dev/null; udevadm settle -t 30 2>/dev/null
cat > /etc/multipath.conf <<'CONF'
defaults {
	user_friendly_names no
	find_multipaths no
	polling_interval 1
}
blacklist {
	protocol ".*"
}
blacklist_exceptions {
	protocol "scsi:iscsi"
}
devices {
	device {
		vendor "TCMU-RS"
		product ".*"
		path_grouping_policy group_by_prio
		detect_prio no
		prio alua
		hardware_handler "1 alua"
		path_checker tur
		failback immediate
		no_path_retry 60
	}
}
CONF
multipathd -d -s > $G/multipathd.log 2>&1 &
MP=$!
wait_map
settled mp-before.txt
check "multipathd groups the two paths: A's group prio 50 active, B's prio 10" '[ -n "$MAP" ] && grep -q "prio=50 status=active" $G/mp-before.txt && grep -q "prio=10 status=enabled" $G/mp-before.txt'
grep -q "prio=50 status=active" $G/mp-before.txt || { cat $G/mp-before.txt; sg_rtpg -d /dev/$SA; sg_rtpg -d /dev/$SB; tail -30 $G/multipathd.log; grep -i "lock\|warn" $G/gwa.err $G/gwb.err | tail; }
[ -n "$MAP" ] || { multipath -v3 -d > $G/mp-debug.log 2>&1; grep -i -E "blacklist|wwid|uid|protocol|sd[a-z]|error|fail" $G/mp-debug.log | head -60; tail -20 $G/multipathd.log; }
DM=/dev/mapper/$MAP
if [ -z "$MAP" ]; then
  check "the failover through multipath (not run: multipathd made no map)" false
else

fio_bw() { # SECONDS: 4 KiB random writes at QD16 on the map; KiB/s
  fio --name=bw --filename=$DM --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=16 \
      --size=32m --time_based --runtime=$1 --output-format=terse 2>/dev/null | awk -F';' '{print $48}'
}
before=$(fio_bw 5)
failover fio.out gwa gwb
after=$(fio_bw 5)
echo "gateways: failover (SIGKILL of A to B holding the lock) $ms ms; 4k QD16 random writes ${before} KiB/s before, ${after} KiB/s after"
grep -h "clat.*max\|lat (msec)\|err=" $G/fio.out | head -4
check "fio crc32c verify running through the SIGKILL of the active gateway: no error" '[ $running = 1 ] && [ $frc -eq 0 ] && grep -q "err= 0" $G/fio.out'
# A's address, as B named it when it broke A's lock.
ADDR=$(sed -n 's/.*breaking the holder.s lock.*owner=\([^ ]*\).*/\1/p' $G/gwb.err | head -1)
check "B took the lock over and blocklisted A ($ADDR); B is active/optimized" '[ -n "$ADDR" ] && grep -q "took the exclusive lock over" $G/gwb.err && ceph osd blocklist ls 2>/dev/null | grep -qF "$ADDR" && state_of $SB | grep -qi "active/optimized"'
multipath -ll > $G/mp-after.txt 2>&1

# A restarted (its dead device cleaned up first) joins active/non-optimized; the lock stays.
timeout 60 "$TCMU" cleanup > $G/cleanup.out 2>&1
gw gwa 1 3260; arc=$?
for i in $(seq 1 200); do [ "$(multipath -ll 2>/dev/null | grep -c 'active ready')" = 2 ] && break; sleep 0.2; done
SA=$(sd_of iqn.2026-12.rs.tcmu:gwa)
settled mp-rejoined.txt
check "A restarted rejoins non-optimized; B keeps the lock (prio 50 active)" '[ $arc -eq 0 ] && ! grep -q "took the free" $G/gwa.err && state_of $SA | grep -qi "active/non optimized" && [ "$(grep -c "active ready" $G/mp-rejoined.txt)" = 2 ] && grep -q "prio=50 status=active" $G/mp-rejoined.txt'
# What the initiator sees is what the cluster holds (read below every cache: another client).
dd if=$DM bs=1M count=24 iflag=direct 2>/dev/null > $G/via-mp
check "the map's first 24 MiB are the cluster's (rbd export)" 'export_at gw 0 24 | cmp -s - $G/via-mp'

# The same with our own initiator: open-iscsi logs out, `tcmu iscsi login` logs in to both
# gateways (no iscsid), multipathd makes the map again, and fio verifies through the SIGKILL
# of B, which now holds the lock: A takes it over.
dmsetup remove $MAP 2>/dev/null
iscsiadm -m node --logoutall=all > /dev/null 2>&1; kill $(pidof iscsid) 2>/dev/null
for t in gwa:3260 gwb:3261; do
  "$TCMU" iscsi login "iscsi://127.0.0.1:${t#*:}/iqn.2026-12.rs.tcmu:${t%%:*}/0" > $G/login-${t%%:*}.out 2>&1
done
wait_map
settled mp-ours.txt
DM=/dev/mapper/$MAP
failover fio-ours.out gwb gwa
echo "gateways, our initiator: failover (SIGKILL of B to A holding the lock) $ms ms"
check "our initiator (tcmu iscsi login) to both, multipathd: fio crc32c verify through the SIGKILL of B, A takes the lock over, no error" '[ -n "$MAP" ] && grep -q "prio=50 status=active" $G/mp-ours.txt && [ $running = 1 ] && [ $frc -eq 0 ] && grep -q "err= 0" $G/fio-ours.out && grep -q "took the exclusive lock over" $G/gwa.err'
[ $frc -eq 0 ] || { cat $G/login-gwa.out $G/login-gwb.out $G/mp-ours.txt; grep -h "err=" $G/fio-ours.out; }

fi
dmsetup remove $MAP 2>/dev/null; kill $MP 2>/dev/null; wait $MP 2>/dev/null
"$TCMU" iscsi logout --all > /dev/null 2>&1
iscsiadm -m node --logoutall=all > /dev/null 2>&1; kill $(pidof iscsid) 2>/dev/null
udevadm control --exit 2>/dev/null
for p in ${P_gwa:-} ${P_gwb:-}; do kill -TERM $p 2>/dev/null; wait $p; done
timeout 60 "$TCMU" cleanup > /dev/null 2>&1
