#!/bin/sh
# Runner mode, run as root inside the VM by `cargo xtask vm-test` after tests.sh; $TCMU is the
# program. Devices are made the way targetcli makes them (configfs writes: dev_config,
# dev_size, enable), by a shell, while `tcmu runner` serves them; each check prints PASS or
# FAIL and the last line counts them.
pass=0; fail=0
check() { if eval "$2"; then echo "PASS $1"; pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
modprobe target_core_user; modprobe tcm_loop
C=/sys/kernel/config/target
WWN=naa.5001405000000077
mkdir -p /tmp/rn
head -c 4194304 /dev/urandom > /tmp/rn/pat

# mkstore NAME CONFIG SIZE: core/user_7/NAME made and enabled as targetcli does; enable's
# status (it waits for the daemon's reply; a time-out is a hang).
mkstore() {
  mkdir -p $C/core/user_7/$1 || return 1
  echo -n "dev_config=$2" > $C/core/user_7/$1/control
  echo -n "dev_size=$3" > $C/core/user_7/$1/control
  timeout 20 sh -c "echo -n 1 > $C/core/user_7/$1/enable"
}
# lun NAME: links it as LUN 0 of a loopback target and prints its new disk.
lun() {
  before=$(ls /sys/block | tr '\n' ' ')
  mkdir -p $C/loopback/$WWN/tpgt_1/lun/lun_0
  echo -n $WWN > $C/loopback/$WWN/tpgt_1/nexus 2>/dev/null
  ln -s $C/core/user_7/$1 $C/loopback/$WWN/tpgt_1/lun/lun_0/$1
  for i in $(seq 1 100); do
    for d in $(ls /sys/block); do
      case " $before " in *" $d "*) ;; *) case $d in sd*) echo /dev/$d; return 0 ;; esac ;; esac
    done
    sleep 0.1
  done
  return 1
}
unlun() {
  rm -f $C/loopback/$WWN/tpgt_1/lun/lun_0/* 2>/dev/null
  rmdir $C/loopback/$WWN/tpgt_1/lun/lun_0 $C/loopback/$WWN/tpgt_1 $C/loopback/$WWN 2>/dev/null
}
start_runner() { # LOG: starts it, sets RP; true once it serves
  NO_COLOR=1 "$TCMU" runner > "$1" 2>&1 &
  RP=$!
  for i in $(seq 1 100); do grep -q "serving subtypes" "$1" && return 0; sleep 0.1; done
  return 1
}

check "runner --check accepts file/<absolute path>" '"$TCMU" runner --check file//tmp/rn/x.img >/dev/null'
out=$("$TCMU" runner --check nosuch/x 2>&1); rc=$?
check "runner --check refuses an unknown subtype, naming what it serves" '[ $rc -eq 1 ] && echo "$out" | grep -q "no handler for subtype \"nosuch\" (this runner serves: file, qcow2, qcow, mem, rbd)"'

# The qcow2 handler behind `tcmu serve` too: a new image made by its name, its bytes checked
# by qemu-img once the server has stopped.
"$TCMU" serve /tmp/rn/s.qcow2 --size 16M --name sq > /tmp/rn/sq.out 2> /tmp/rn/sq.err &
QP=$!
for i in $(seq 1 200); do [ -s /tmp/rn/sq.out ] && break; sleep 0.1; done
DQS=$(head -1 /tmp/rn/sq.out); up=0; [ -b "$DQS" ] && up=1
dd if=/tmp/rn/pat of="$DQS" bs=1M seek=1 oflag=direct conv=fsync 2>/dev/null; wrc=$?
kill -TERM $QP; wait $QP; qrc=$?
qemu-img convert -O raw /tmp/rn/s.qcow2 /tmp/rn/s.raw 2>/dev/null
check "tcmu serve disk.qcow2: a qcow2 disk whose bytes qemu-img reads back" '[ $up = 1 ] && [ $wrc -eq 0 ] && [ $qrc -eq 0 ] && qemu-img check /tmp/rn/s.qcow2 >/dev/null 2>&1 && dd if=/tmp/rn/s.raw bs=1M skip=1 count=4 2>/dev/null | cmp -s - /tmp/rn/pat'
[ $up = 1 ] || cat /tmp/rn/sq.err

# A device `tcmu serve` serves is its own: the runner starts beside it and leaves it alone.
"$TCMU" serve /tmp/rn/own.img --size 16M --name own > /tmp/rn/own.out 2> /tmp/rn/own.err &
SP=$!
for i in $(seq 1 200); do [ -s /tmp/rn/own.out ] && break; sleep 0.1; done
DS=$(head -1 /tmp/rn/own.out)
check "the runner starts" 'start_runner /tmp/rn/r1.log'
check "a device of tcmu serve is left to it, and keeps working" '[ -b "$DS" ] && ! grep -q "user_1/own" /tmp/rn/r1.log && dd if=/tmp/rn/pat of="$DS" bs=1M count=4 oflag=direct 2>/dev/null && dd if="$DS" bs=1M count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/rn/pat'
kill -TERM $SP; wait $SP; src=$?
check "... and stops on its own terms" '[ $src -eq 0 ] && [ ! -e $C/core/user_1/own ]'
mkstore r1 file//tmp/rn/r1.img 67108864; rc=$?
check "a user:file backstore made by hand is taken: enable returns 0" '[ $rc -eq 0 ] && [ "$(cat $C/core/user_7/r1/enable)" = 1 ]'
check "its image is created at the device size" '[ "$(stat -c %s /tmp/rn/r1.img)" = 67108864 ]'
D1=$(lun r1)
check "a loopback LUN gives a 64 MiB disk" '[ -b "$D1" ] && [ "$(cat /sys/block/$(basename $D1)/size)" = 131072 ]'
dd if=/tmp/rn/pat of="$D1" bs=1M seek=3 oflag=direct conv=fsync 2>/dev/null
check "bytes written to the disk are in the image" 'dd if=/tmp/rn/r1.img bs=1M skip=3 count=4 2>/dev/null | cmp -s - /tmp/rn/pat'

sh -c "echo -n 67108864 > $C/core/user_7/r1/attrib/dev_size" 2>/dev/null; same=$?
sh -c "echo -n 33554432 > $C/core/user_7/r1/attrib/dev_size" 2>/dev/null; other=$?
check "a RECONFIG to the value it has is accepted, a change while served refused" '[ $same -eq 0 ] && [ $other -ne 0 ] && [ "$(cat $C/core/user_7/r1/attrib/dev_size)" = 67108864 ] && grep -q "refused a change of size 33554432 while served" /tmp/rn/r1.log'

mkstore bad nosuch/thing 16777216; rc=$?
check "an unknown subtype: enable fails at once (no hang), and the log says why" '[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "no handler for subtype \"nosuch\"" /tmp/rn/r1.log'
rmdir $C/core/user_7/bad 2>/dev/null
mkstore m1 mem/scratch 16777216; rc=$?
check "a user:mem backstore is served too" '[ $rc -eq 0 ] && grep -q "user_7/m1" /tmp/rn/r1.log'
rmdir $C/core/user_7/m1
sleep 0.5
check "removing a backstore stops its serving" 'grep -q "no longer served device=user_7/m1" /tmp/rn/r1.log'

# SIGKILL in the middle of verified I/O, three times: the next runner takes the device back
# (blocked, ring reset: in-flight commands BUSY, which the initiator retries); fio sees no
# error and every block verifies.
# fio passes follow one another until the kills are done (the one running then finishes).
rm -f /tmp/rn/enough
( pass=0; while [ ! -e /tmp/rn/enough ]; do pass=$((pass+1))
    fio --name=k$pass --filename="$D1" --ioengine=libaio --direct=1 --rw=randwrite --bs=64k \
        --iodepth=8 --size=48m --verify=crc32c --verify_fatal=1 --do_verify=1 \
        --output=/tmp/rn/fio$pass.out > /dev/null 2>&1 || exit 1
  done ) &
FP=$!
kills=0; restarted=0
# $RUNNER_KILLS (default 5) kills; `vm-test` asks for fewer on its second kernel.
KILLS=${RUNNER_KILLS:-5}
for n in $(seq 1 $KILLS); do
  sleep 3
  kill -0 $FP 2>/dev/null || break # a failed fio pass ends the loop
  kill -KILL $RP; wait $RP 2>/dev/null; kills=$((kills+1))
  sleep 1
  start_runner /tmp/rn/r$((n+1)).log && grep -q "taken back device=user_7/r1" /tmp/rn/r$((n+1)).log && restarted=$((restarted+1))
done
touch /tmp/rn/enough
wait $FP; frc=$?
passes=$(ls /tmp/rn/fio*.out | wc -l)
check "SIGKILLed mid-I/O and started again ($kills times): every device taken back" '[ $kills -eq $KILLS ] && [ $restarted -eq $kills ]'
check "... and fio ($passes passes) ends with no I/O error and no verify error" '[ $frc -eq 0 ] && [ $(cat /tmp/rn/fio*.out | grep -c "err= 0") -eq $passes ] && ! cat /tmp/rn/fio*.out | grep -qi "verify.*bad\|crc32c.*wanted"'

# One daemon at a time, whichever started first.
out=$(timeout 20 "$TCMU" runner 2>&1); rc=$?
check "a second runner is refused while one runs" '[ $rc -eq 1 ] && echo "$out" | grep -q "holds /run/tcmu.lock"'
unlun; rmdir $C/core/user_7/r1 2>/dev/null
sleep 0.5
check "deleting the served backstore stops its serving" 'cat /tmp/rn/r*.log | grep -q "no longer served device=user_7/r1"'
check "tcmu-runner is installed (xtask installs it)" 'command -v tcmu-runner > /dev/null'
mkdir -p /var/log /etc/tcmu
if command -v tcmu-runner > /dev/null; then
  timeout 10 tcmu-runner > /tmp/rn/tr1.log 2>&1; trc=$?
  check "tcmu-runner refuses to start beside the runner, saying so" '[ $trc -ne 0 ] && [ $trc -ne 124 ] && cat /tmp/rn/tr1.log /var/log/tcmu-runner.log 2>/dev/null | grep -q "already running"'
fi
kill -HUP $RP; sleep 0.5
check "SIGHUP leaves the runner serving" 'kill -0 $RP && cat /tmp/rn/r*.log | grep -q "SIGHUP: nothing to reload"'

kill -TERM $RP; wait $RP; rc=$?
check "the runner stops on SIGTERM with status 0" '[ $rc -eq 0 ]'
if command -v tcmu-runner > /dev/null; then
  tcmu-runner > /tmp/rn/tr2.log 2>&1 &
  TP=$!
  sleep 2
  out=$(timeout 20 "$TCMU" runner 2>&1); rc=$?
  check "the runner refuses to start beside tcmu-runner, naming it" '[ $rc -eq 1 ] && echo "$out" | grep -q "tcmu-runner (pid $TP) holds /run/tcmu.lock"'
  kill -TERM $TP; wait $TP 2>/dev/null
fi
rmdir $C/core/user_7 2>/dev/null
check "nothing is left" '[ ! -e $C/core/user_7 ] && [ ! -e $C/loopback/$WWN ]'



# targetcli drives it (unless RUNNER_TARGETCLI=0: `vm-test` runs this part on one kernel; it
# is targetcli and D-Bus, the same on every kernel), through a system D-Bus that knows only our policy file (no service
# activation, so an installed tcmu-runner is never started behind the test's back).
if [ "${RUNNER_TARGETCLI:-1}" = 0 ]; then
  echo "vm-test (runner): $pass passed, $fail failed (targetcli part not run: RUNNER_TARGETCLI=0)"
  [ $fail -eq 0 ]; exit
fi
ROOT=${TCMU%/target/release/tcmu}
tcli() { targetcli "$@" > /tmp/rn/tcli.out 2>&1; }
mkdir -p /run/dbus /tmp/dbus-system.d
cp "$ROOT/tcmu/dbus/org.kernel.TCMUService1.conf" /tmp/dbus-system.d/
dbus-daemon --config-file="$ROOT/xtask/vm/dbus-system.conf" --fork --print-pid > /tmp/rn/dbus.pid
check "the runner starts with a system bus and owns org.kernel.TCMUService1" 'start_runner /tmp/rn/t1.log && grep -q "org.kernel.TCMUService1" /tmp/rn/t1.log && ! grep -qi "d-bus.*fail\|not on d-bus" /tmp/rn/t1.log'
tcli /backstores/user:file create name=ta size=64M cfgstring=/tmp/rn/ta.img; rc=$?
check "targetcli: user:file create (CheckConfig, enable answered)" '[ $rc -eq 0 ] && [ "$(cat $C/core/user_*/ta/enable)" = 1 ] && [ "$(stat -c %s /tmp/rn/ta.img)" = 67108864 ]'
tcli /backstores/user:mem create name=tm size=16M cfgstring=scratch; rc=$?
check "targetcli: user:mem create" '[ $rc -eq 0 ]'
targetcli ls /backstores > /tmp/rn/ls.out 2>&1
check "targetcli ls shows both, under their handlers" 'grep -q "user:file" /tmp/rn/ls.out && grep -q "ta .*/tmp/rn/ta.img (64.0MiB)" /tmp/rn/ls.out && grep -q "user:mem" /tmp/rn/ls.out && grep -q "tm .*scratch (16.0MiB)" /tmp/rn/ls.out'
tcli /backstores/user:file create name=tb size=16M cfgstring=relative.img; rc=$?
check "targetcli: a config the handler refuses is reported, nothing made" '[ $rc -ne 0 ] && grep -q "cfgstring invalid: .*not an absolute path" /tmp/rn/tcli.out && ! ls -d $C/core/user_*/tb 2>/dev/null'
W2=naa.5001405000000078
tcli /loopback create $W2
before=$(ls /sys/block | tr '\n' ' ')
tcli /loopback/$W2/luns create /backstores/user:file/ta
DT=""; for i in $(seq 1 100); do for d in $(ls /sys/block); do case " $before " in *" $d "*) ;; *) case $d in sd*) DT=/dev/$d ;; esac ;; esac; done; [ -n "$DT" ] && break; sleep 0.1; done
dd if=/tmp/rn/pat of="$DT" bs=1M seek=5 oflag=direct conv=fsync 2>/dev/null
check "targetcli's loopback LUN gives the disk; its bytes reach the image" '[ -b "$DT" ] && dd if=/tmp/rn/ta.img bs=1M skip=5 count=4 2>/dev/null | cmp -s - /tmp/rn/pat'
# disk_of SECTORS: the new sd disk of that size (up to 10 s).
disk_of() { for i in $(seq 1 100); do for d in /sys/block/sd*; do [ "$(cat $d/size 2>/dev/null)" = "$1" ] && { echo /dev/${d##*/}; return 0; }; done; sleep 0.1; done; return 1; }
tcli /backstores/user:qcow2 create name=tq size=32M cfgstring=/tmp/rn/tq.qcow2; rc=$?
tcli /loopback/$W2/luns create /backstores/user:qcow2/tq
DQ=$(disk_of 65536)
dd if=/tmp/rn/pat of="$DQ" bs=1M seek=2 oflag=direct conv=fsync 2>/dev/null; wrc=$?
check "targetcli: user:qcow2 create, a LUN, the disk takes writes" '[ $rc -eq 0 ] && [ -b "$DQ" ] && [ $wrc -eq 0 ] && head -c 4 /tmp/rn/tq.qcow2 | grep -q QFI'
tcli /backstores/user:mem delete tm; rc=$?
check "targetcli: delete removes a backstore and the runner stops serving it" '[ $rc -eq 0 ] && ! ls -d $C/core/user_*/tm 2>/dev/null && sleep 0.5 && grep -q "no longer served device=user_.*/tm" /tmp/rn/t1.log'
tcli saveconfig /tmp/rn/saved.json
kill -TERM $RP; wait $RP
qemu-img convert -O raw /tmp/rn/tq.qcow2 /tmp/rn/tq.raw
check "the qcow2 image checks clean, and qemu-img reads the bytes written" 'qemu-img check /tmp/rn/tq.qcow2 > /dev/null 2>&1 && dd if=/tmp/rn/tq.raw bs=1M skip=2 count=4 2>/dev/null | cmp -s - /tmp/rn/pat'
tcli clearconfig confirm=True
check "saveconfig, runner stopped, clearconfig: the disk is gone" '[ -s /tmp/rn/saved.json ] && [ ! -b "$DT" ] && ! ls -d $C/core/user_*/ta 2>/dev/null'
start_runner /tmp/rn/t2.log
tcli restoreconfig /tmp/rn/saved.json; rc=$?
DT=$(disk_of 131072); DQ=$(disk_of 65536)
check "restoreconfig: the devices come back, served, the data intact" '[ $rc -eq 0 ] && [ -b "$DT" ] && dd if="$DT" bs=1M skip=5 count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/rn/pat && [ -b "$DQ" ] && dd if="$DQ" bs=1M skip=2 count=4 iflag=direct 2>/dev/null | cmp -s - /tmp/rn/pat && grep -q "serving device=user_.*/ta" /tmp/rn/t2.log'
tcli clearconfig confirm=True; rc=$?
check "targetcli clearconfig removes them; the runner stops serving them" '[ $rc -eq 0 ] && ! ls -d $C/core/user_* 2>/dev/null && grep -q "no longer served device=user_.*/ta" /tmp/rn/t2.log && grep -q "no longer served device=user_.*/tq" /tmp/rn/t2.log'
kill -TERM $RP; wait $RP; rc=$?
check "the runner stops on SIGTERM with status 0 (and leaves the bus)" '[ $rc -eq 0 ]'
kill $(cat /tmp/rn/dbus.pid) 2>/dev/null

echo "vm-test (runner): $pass passed, $fail failed"
[ $fail -eq 0 ]
