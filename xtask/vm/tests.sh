#!/bin/sh
# Integration tests run as root inside the VM by `cargo xtask vm-test`; $TCMU is the program.
# Each check prints PASS or FAIL; the last line counts them.
pass=0; fail=0
check() { if eval "$2"; then echo "PASS $1"; pass=$((pass+1)); else echo "FAIL $1"; fail=$((fail+1)); fi; }
leftovers() { ls /sys/kernel/config/target/core 2>/dev/null | grep -q '^user_' && return 0; ls /sys/block | grep -q '^sd' && return 0; return 1; }

IMG=/tmp/disk.img
check "the program exists" '[ -x "$TCMU" ]'
"$TCMU" serve "$IMG" --size 64M --name vmdisk > /tmp/serve.out 2> /tmp/serve.err &
PID=$!
for i in $(seq 1 200); do [ -s /tmp/serve.out ] && break; sleep 0.1; done
DEV=$(head -1 /tmp/serve.out); SD=$(basename "$DEV")
check "serve prints the disk" '[ -b "$DEV" ]'
check "vendor and product" '[ "$(cat /sys/block/$SD/device/vendor)" = "TCMU-RS " ] && grep -q "Rust TCMU disk" /sys/block/$SD/device/model'
check "size is 64 MiB" '[ "$(cat /sys/block/$SD/size)" = 131072 ]'

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
check "no configfs object or disk of ours remains" '[ -n "$SD" ] && ! leftovers'
check "the image holds a clean file system" 'e2fsck -fn "$IMG" >/dev/null 2>&1'

echo "vm-test: $pass passed, $fail failed"
[ $fail -eq 0 ]
