#!/bin/sh
# Run as root inside the VM by `cargo xtask bench`. $TCMU is the program; $SECS (seconds per
# cell), $RUNS (rounds), $WORKLOADS (names, space-separated; empty: all), $DEVICES (empty:
# all but ours-direct) and $DISK (1: the images on ext4 on the virtio disk /dev/vda) come from
# xtask. Every device is a 256 MiB disk reached through tcm_loop, its image on a tmpfs (or that
# disk); fio runs libaio with O_DIRECT. One round serves each device in turn and runs every
# workload on it, so slow drift of the guest spreads over all devices alike.
#
# Output, in /results/bench.tsv, one line per cell and per device:
#   cell DEVICE WORKLOAD ROUND READ_IOPS WRITE_IOPS READ_KIB_S WRITE_KIB_S
#   info DEVICE ROUND data_area_bytes|rss_kib|server_cpu_ticks|busy_cpu_ticks|kib_moved VALUE
set -u
OUT=/results/bench.tsv
: > $OUT
C=/sys/kernel/config/target
SIZE=268435456
B=/bench
mkdir -p $B
if [ "${DISK:-0}" = 1 ]; then
  # --disk: the images on ext4 on the guest's virtio disk.
  for i in $(seq 1 50); do [ -b /dev/vda ] && break; sleep 0.1; done
  mkfs.ext4 -q -F /dev/vda && mount /dev/vda $B || { echo "bench: no virtio disk"; exit 1; }
else mount -t tmpfs -o size=1200m bench $B; fi
modprobe target_core_file 2>/dev/null

# name rw bs iodepth numjobs [extra fio options]
ALL="rr4k-qd1:randread:4k:1:1
rr4k-qd16:randread:4k:16:1
rr4k-qd64:randread:4k:64:1
rr4k-qd1-j4:randread:4k:1:4
rr4k-qd16-j4:randread:4k:16:4
rr4k-qd64-j4:randread:4k:64:4
rw4k-qd1:randwrite:4k:1:1
rw4k-qd16:randwrite:4k:16:1
rw4k-qd64:randwrite:4k:64:1
rw4k-qd1-j4:randwrite:4k:1:4
rw4k-qd16-j4:randwrite:4k:16:4
rw4k-qd64-j4:randwrite:4k:64:4
mix70-4k-qd16:randrw:4k:16:1:--rwmixread=70
sr64k-qd16:read:64k:16:1
sw64k-qd16:write:64k:16:1
sr1m-qd16:read:1m:16:1
sw1m-qd16:write:1m:16:1"
[ -n "${WORKLOADS:-}" ] && ALL=$(echo "$ALL" | while IFS=: read -r n rest; do
  for w in $WORKLOADS; do [ "$w" = "$n" ] && echo "$n:$rest"; done; done)
# ublk (6.12 and later): rublk's loop target on the same kind of image, where xtask built it.
UBLK=""; [ -e /dev/ublk-control ] && [ -x "${RUBLK:-}" ] && UBLK=ublk
DEVICES=${DEVICES:-fileio ours-file ours-mem ours-poll tcmu-runner $UBLK}
# The RBD devices (asked for by name) share one single-node Ceph cluster in the guest, started
# by the project's script ($CEPH_SCRIPT): `rbd-bench` is librbd alone (`rbd bench`, no SCSI),
# `ours-rbd` our server, `runner-rbd` tcmu-runner's rbd handler, each on a fresh 256 MiB image;
# two bounds for any block device on this cluster: `fio-rbd` is fio's own librbd engine (fio's
# cost, no block layer) and `krbd` the kernel's rbd driver (the block layer, no user space).
case " $DEVICES " in *" ours-rbd "*|*" runner-rbd "*|*" rbd-bench "*|*" krbd "*|*" fio-rbd "*)
  sh "$CEPH_SCRIPT" up /tmp/bceph 2048 > /dev/null || { echo "bench: no Ceph cluster"; exit 1; }
  export CEPH_CONF=/tmp/bceph/ceph.conf ;;
esac
# rbd_bench RW BS QD JOBS: `rbd bench` on rbd/bench for about $SECS seconds, printed as a fio
# --minimal line would hold it (fields 7, 8, 48, 49: read KiB/s, read IOPS, write KiB/s,
# write IOPS).
rbd_bench() {
  case $1 in
  randread) t=read; p=rand ;; randwrite) t=write; p=rand ;;
  read) t=read; p=seq ;; write) t=write; p=seq ;; *) t=readwrite; p=rand ;;
  esac
  case $2 in *k) kib=${2%k} ;; *m) kib=$(( ${2%m} * 1024 )) ;; esac
  # A total that takes about $SECS seconds at the guest's usual rates (rbd bench has no timer).
  if [ $kib -le 4 ]; then total=$(( SECS * 1500 * kib )); else total=$(( SECS * 60 * 1024 )); fi
  rbd bench --io-type $t --io-size ${kib}K --io-threads $(( $3 * $4 )) --io-pattern $p \
      --rw-mix-read 70 --io-total ${total}K rbd/bench 2>/dev/null | awk -v t=$t -v k=$kib '
    /^elapsed:/ { all = $6 } /^read_ops:/ { r = $4 } /^write_ops:/ { w = $4 }
    END {
      if (t == "read") r = all; else if (t == "write") w = all
      line = "rbd"; for (i = 2; i <= 49; i++) f[i] = 0
      f[7] = sprintf("%d", r * k); f[8] = sprintf("%d", r)
      f[48] = sprintf("%d", w * k); f[49] = sprintf("%d", w)
      for (i = 2; i <= 49; i++) line = line ";" f[i]
      print line
    }'
}
new_disk() { # waits for a disk not in $BEFORE; prints it
  for i in $(seq 1 300); do
    for d in $(ls /sys/block | grep '^sd'); do
      echo " $BEFORE " | grep -q " $d " || { echo /dev/$d; return 0; }
    done
    sleep 0.1
  done
  return 1
}
loop_up() { # BACKSTORE_PATH: a tcm_loop LUN in front of it
  L=$C/loopback/naa.5001405000000b01
  mkdir -p $L/tpgt_1/lun/lun_0
  echo -n naa.5001405000000b02 > $L/tpgt_1/nexus
  ln -s "$1" $L/tpgt_1/lun/lun_0/bench
}
loop_down() {
  L=$C/loopback/naa.5001405000000b01
  rm -f $L/tpgt_1/lun/lun_0/bench; rmdir $L/tpgt_1/lun/lun_0 $L/tpgt_1 $L 2>/dev/null
}
ticks() { # PID: utime + stime
  awk '{print $14 + $15}' /proc/$1/stat 2>/dev/null || echo 0
}
busy() { # every CPU's non-idle ticks
  awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}
data_area() { # core/user_N/NAME: its data area in bytes
  echo $(( $(cat $C/core/$1/attrib/max_data_area_mb 2>/dev/null || echo 0) * 1048576 ))
}

tcmu_runner() { # CONFIG: tcmu-runner serving a user_9/runner backstore of CONFIG; sets SPID, DEV
  mkdir -p /var/log /etc/tcmu
  tcmu-runner > /tmp/runner.log 2>&1 &
  SPID=$!
  sleep 1
  mkdir -p $C/core/user_9/runner
  echo -n "dev_size=$SIZE" > $C/core/user_9/runner/control
  echo -n "dev_config=$1" > $C/core/user_9/runner/control
  echo -n 1 > $C/core/user_9/runner/enable
  loop_up $C/core/user_9/runner; DEV=$(new_disk)
}
start() { # DEVICE: sets DEV and SPID (the serving process, or empty)
  BEFORE=$(ls /sys/block | tr '\n' ' '); SPID=""; DEV=""
  case $1 in
  fileio)
    truncate -s $SIZE $B/ref.img
    mkdir -p $C/core/fileio_9/ref
    echo -n "fd_dev_name=$B/ref.img,fd_dev_size=$SIZE,fd_buffered_io=1" > $C/core/fileio_9/ref/control
    echo -n 1 > $C/core/fileio_9/ref/enable
    loop_up $C/core/fileio_9/ref; DEV=$(new_disk) ;;
  ours-file|ours-direct|ours-mem|ours-poll)
    rm -f /tmp/b.out /tmp/b.err
    case $1 in
    ours-file) WHAT=$B/ours.img ;;
    ours-direct) WHAT="$B/ours.img --direct" ;;
    ours-poll) WHAT="$B/ours.img --poll-us 2000" ;;
    *) WHAT=--memory ;;
    esac
    "$TCMU" serve $WHAT --size $SIZE --name ours > /tmp/b.out 2> /tmp/b.err &
    SPID=$!
    for i in $(seq 1 300); do [ -s /tmp/b.out ] && break; sleep 0.1; done
    DEV=$(head -1 /tmp/b.out) ;;
  ours-rbd)
    rbd create --size 256M rbd/bench
    "$TCMU" serve rbd:rbd/bench --name ours > /tmp/b.out 2> /tmp/b.err &
    SPID=$!
    for i in $(seq 1 300); do [ -s /tmp/b.out ] && break; sleep 0.1; done
    DEV=$(head -1 /tmp/b.out) ;;
  runner-rbd)
    rbd create --size 256M rbd/bench
    tcmu_runner "rbd/rbd/bench;conf=$CEPH_CONF" ;;
  rbd-bench|fio-rbd)
    rbd create --size 256M rbd/bench
    rbd bench --io-type write --io-size 4M --io-total 256M rbd/bench > /dev/null 2>&1
    return 0 ;;
  krbd)
    rbd create --size 256M rbd/bench
    modprobe rbd
    # msgr2 in crc mode, as librbd speaks it by default here; noudev: the guest runs no udev
    # (rbd would wait for it forever), devtmpfs makes the node.
    rbd device map -o ms_mode=prefer-crc,noudev rbd/bench > /dev/null 2> /tmp/b.err
    DEV=/dev/rbd$(ls /sys/bus/rbd/devices 2>/dev/null | head -1) ;;
  tcmu-runner)
    qemu-img create -q -f qcow2 -o compat=0.10,preallocation=full $B/r.qcow2 $SIZE
    tcmu_runner "qcow/$B/r.qcow2" ;;
  ublk)
    truncate -s $SIZE $B/ublk.img
    # Buffered, as our file backend and fileio are; one queue per vCPU.
    "$RUBLK" add loop -n 0 -q 2 --buffered-io -f $B/ublk.img > /tmp/ublk.out 2>&1
    for i in $(seq 1 100); do [ -b /dev/ublkb0 ] && break; sleep 0.1; done
    SPID=$(pgrep -n rublk); DEV=/dev/ublkb0 ;;
  esac
  [ -b "$DEV" ] || { echo "bench: $1 gave no disk"; cat /tmp/b.err /tmp/runner.log 2>/dev/null; return 1; }
  # Fill the disk once so reads hit written blocks (and qcow2 clusters exist).
  dd if=/dev/zero of=$DEV bs=1M count=256 oflag=direct 2>/dev/null
}
stop() {
  case $1 in
  fileio) loop_down; rmdir $C/core/fileio_9/ref $C/core/fileio_9; rm -f $B/ref.img ;;
  ours-rbd) kill -TERM $SPID; wait $SPID; rbd rm rbd/bench > /dev/null 2>&1 ;;
  ours-*) kill -TERM $SPID; wait $SPID; rm -f $B/ours.img ;;
  rbd-bench|fio-rbd) rbd rm rbd/bench > /dev/null 2>&1 ;;
  krbd) rbd device unmap -o noudev rbd/bench; rbd rm rbd/bench > /dev/null 2>&1 ;;
  runner-rbd)
    loop_down; rmdir $C/core/user_9/runner $C/core/user_9
    kill -TERM $SPID; wait $SPID; rbd rm rbd/bench > /dev/null 2>&1 ;;
  tcmu-runner)
    loop_down; rmdir $C/core/user_9/runner $C/core/user_9
    kill -TERM $SPID; wait $SPID; rm -f $B/r.qcow2 ;;
  ublk) "$RUBLK" del -n 0; rm -f $B/ublk.img ;;
  esac
}

for round in $(seq 1 $RUNS); do
  for dev in $DEVICES; do
    start $dev || { stop $dev; continue; }
    t0=0; [ -n "$SPID" ] && t0=$(ticks $SPID); b0=$(busy); kib=0
    echo "$ALL" | while IFS=: read -r name rw bs qd jobs extra; do
      if [ $dev = rbd-bench ]; then line=$(rbd_bench $rw $bs $qd $jobs); else
      if [ $dev = fio-rbd ]; then target="--ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench"
      else target="--filename=$DEV --ioengine=libaio --direct=1"; fi
      line=$(fio --name=$name $target --rw=$rw --bs=$bs \
        --iodepth=$qd --numjobs=$jobs --group_reporting --time_based --runtime=$SECS \
        --ramp_time=1 --randrepeat=0 --norandommap ${extra:-} --minimal 2>/tmp/fio.err | tail -1)
      fi
      echo "$line" | awk -F';' -v d=$dev -v n=$name -v r=$round \
        '{print "cell", d, n, r, $8, $49, $7, $48}' >> $OUT
      echo "$line" | awk -F';' '{print $6 + $47}' >> /tmp/kib.$round
      echo "bench: round $round $dev $name $(tail -1 $OUT | cut -d' ' -f5-)"
    done
    kib=$(awk '{s += $1} END {print s + 0}' /tmp/kib.$round); rm -f /tmp/kib.$round
    server=0; rss=0; area=0
    if [ -n "$SPID" ]; then
      server=$(( $(ticks $SPID) - t0 ))
      rss=$(awk '/^VmHWM/{print $2}' /proc/$SPID/status)
      case $dev in ours-*) area=$(data_area user_1/ours) ;; tcmu-runner|runner-rbd) area=$(data_area user_9/runner) ;; esac
    fi
    echo "info $dev $round data_area_bytes $area" >> $OUT
    echo "info $dev $round rss_kib $rss" >> $OUT
    echo "info $dev $round server_cpu_ticks $server" >> $OUT
    echo "info $dev $round busy_cpu_ticks $(( $(busy) - b0 ))" >> $OUT
    echo "info $dev $round kib_moved $kib" >> $OUT
    stop $dev
  done
done
[ -d /tmp/bceph ] && sh "$CEPH_SCRIPT" down /tmp/bceph
echo "bench: done"
