#!/bin/sh
# `cargo xtask demo`: what `sudo tcmu serve disk.img --size 128M` does on a host with LIO's
# modules, shown in the VM. $TCMU is the program; /results is shared with the host.
set -e
IMG=/results/demo.img
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "tcmu serve $IMG --size 128M --name demo"
"$TCMU" serve "$IMG" --size 128M --name demo > /tmp/serve.out 2> /tmp/serve.err &
PID=$!
for i in $(seq 1 300); do [ -s /tmp/serve.out ] && break; sleep 0.1; done
DEV=$(head -1 /tmp/serve.out)
[ -b "$DEV" ] || { cat /tmp/serve.err; exit 1; }
echo "tcmu printed: $DEV"

say "the kernel's view of $DEV"
SD=$(basename "$DEV")
echo "vendor: $(cat /sys/block/$SD/device/vendor)  model: $(cat /sys/block/$SD/device/model)  size: $(( $(cat /sys/block/$SD/size) / 2048 )) MiB"
sg_vpd -p sn "$DEV" | sed -n 2p
"$TCMU" list

say "mkfs.ext4 $DEV && mount $DEV /mnt/demo"
mkfs.ext4 -q -L tcmu-demo "$DEV"
mkdir -p /mnt/demo
mount "$DEV" /mnt/demo
df -h /mnt/demo | sed 's/^/  /'

say "write files, unmount, mount again, check them"
echo "served from user space by tcmu-rs on $(date -u)" > /mnt/demo/hello.txt
dd if=/dev/urandom of=/mnt/demo/random.bin bs=1M count=16 2>/dev/null
(cd /mnt/demo && sha256sum hello.txt random.bin) > /tmp/sums
umount /mnt/demo
mount "$DEV" /mnt/demo
(cd /mnt/demo && sha256sum -c /tmp/sums) | sed 's/^/  /'
ls -l /mnt/demo | sed 's/^/  /'
cat /mnt/demo/hello.txt | sed 's/^/  /'
umount /mnt/demo

say "stop tcmu serve (SIGTERM): the disk and its configfs objects go away"
kill -TERM $PID
wait $PID
[ ! -b "$DEV" ] && echo "  $DEV is gone"
"$TCMU" cleanup | sed 's/^/  /'
