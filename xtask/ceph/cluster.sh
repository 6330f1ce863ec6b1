#!/bin/sh
# A throwaway single-node Ceph cluster for the RBD tests, on the host and in the guest (which
# runs the host's programs): one monitor, one OSD keeping its objects in memory (memstore), no
# manager, pool `rbd` of size 1, cephx on, everything on 127.0.0.1 and under one folder.
#
#   sh xtask/ceph/cluster.sh install          apt-get Ceph's monitor, OSD and tools if missing
#   sh xtask/ceph/cluster.sh up DIR [MIB]     start one in DIR (MIB: the OSD's memory, 1024);
#                                             prints CEPH_CONF=DIR/ceph.conf on stdout
#   sh xtask/ceph/cluster.sh down DIR         stop the one in DIR (only its own processes)
#
# Clients: `rbd --conf DIR/ceph.conf ...` as client.admin; client.tcmu (caps: profile rbd) has
# its key in DIR/client.tcmu.keyring. CEPH_MON_PORT_V2 / CEPH_MON_PORT_V1 (default 3300 / 6789)
# move the monitor, so that two clusters (or a real one) can coexist.
set -eu

say() { echo "ceph-cluster: $*" >&2; }

do_install() {
  command -v ceph-mon > /dev/null && command -v ceph-osd > /dev/null && command -v rbd > /dev/null \
    && return 0
  say "installing ceph-mon ceph-osd ceph-common (once)"
  pkgs="ceph-mon ceph-osd ceph-common"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $pkgs > /dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -qq --no-install-recommends $pkgs > /dev/null; }
}

# ours NAME: prints the pid in DIR/run/NAME.pid if that process is alive and a Ceph daemon.
ours() {
  f=$D/run/$1.pid
  [ -s "$f" ] || return 1
  pid=$(cat "$f")
  case $pid in '' | *[!0-9]*) return 1 ;; esac
  # Started by `up` with `-c DIR/ceph.conf`: a process without that argument (a real daemon
  # whose pid a stale file names) is never ours.
  tr '\0' '\n' 2> /dev/null < "/proc/$pid/cmdline" | grep -qxF "$D/ceph.conf" || return 1
  echo "$pid"
}

# stop_pid NAME: SIGTERM the daemon of DIR/run/NAME.pid, up to 10 s, then SIGKILL.
stop_pid() {
  pid=$(ours "$1") || return 0
  kill -TERM "$pid" 2> /dev/null || true
  i=0
  while kill -0 "$pid" 2> /dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$pid" 2> /dev/null; then
    say "$1 (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$pid" 2> /dev/null || true
  fi
  rm -f "$D/run/$1.pid"
}

down() {
  [ -d "$D/run" ] || return 0
  stop_pid osd.0
  stop_pid mon.a
}

# fail MESSAGE [LOG]: says why, with the end of LOG; the EXIT trap stops what started.
fail() {
  say "$1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then say "last lines of $2:"; tail -n 15 "$2" >&2; fi
  exit 1
}

# wait_for SECONDS COMMAND...: true once COMMAND succeeds (each try cut at 30 s), false once
# SECONDS have passed.
wait_for() {
  end=$(($(date +%s) + $1)); shift
  while :; do
    timeout 30 "$@" > /dev/null 2>&1 && return 0
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.5
  done
}

up() {
  mib=${1:-1024}
  case $mib in '' | *[!0-9]*) say "SIZE_MB must be a number of MiB, not '$mib'"; exit 2 ;; esac
  if ours mon.a > /dev/null || ours osd.0 > /dev/null; then
    say "$D already holds a running cluster (stop it with: sh $0 down $D)"; exit 1
  fi
  command -v ceph-mon > /dev/null || { say "ceph-mon is missing: sh $0 install"; exit 1; }
  # Only a folder this script made (or an empty one) is emptied: never a user's.
  if [ -d "$D" ] && [ -n "$(ls -A "$D")" ]; then
    [ -f "$D/.cluster-sh" ] \
      || { say "$D is not empty and was not made by $0: give an empty or new folder"; exit 1; }
    rm -rf "$D"
  fi
  mkdir -p "$D/mon" "$D/osd" "$D/run"
  : > "$D/.cluster-sh"
  # From here on, any failure (a `fail` or a command that `set -e` stops at) stops what started.
  trap 'rc=$?; if [ $rc -ne 0 ]; then say "failed: stopping what started in $D"; down; fi' EXIT
  trap 'exit 130' INT TERM HUP
  v2=${CEPH_MON_PORT_V2:-3300}; v1=${CEPH_MON_PORT_V1:-6789}
  addr="[v2:127.0.0.1:$v2,v1:127.0.0.1:$v1]"
  fsid=$(uuidgen 2> /dev/null || cat /proc/sys/kernel/random/uuid)
  cat > "$D/ceph.conf" << EOF
[global]
fsid = $fsid
mon host = $addr
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
# Clients are all Pacific: no HEALTH_WARN AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED.
auth allow insecure global id reclaim = false
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
log file = $D/\$name.log
mon data = $D/mon
osd data = $D/osd
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
# The OSD's place in the CRUSH map, named here: the guest's host name is "(none)", which the
# monitor refuses as a CRUSH location.
crush location = root=default host=ceph-test
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon mgr mkfs grace = 1000000000
osd objectstore = memstore
memstore device bytes = $((mib * 1048576))
memstore page set = true
osd op num shards = 2
osd op num threads per shard = 1
osd min pg log entries = 100
osd max pg log entries = 500
rbd cache = true
EOF
  export CEPH_CONF="$D/ceph.conf"
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' > /dev/null
  ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' > /dev/null
  monmaptool --create --fsid "$fsid" --addv a "$addr" "$D/monmap" > /dev/null
  ceph-mon -c "$D/ceph.conf" -i a --mkfs --monmap "$D/monmap" --keyring "$D/keyring" > "$D/mon.mkfs.log" 2>&1 \
    || fail "the monitor's mkfs failed" "$D/mon.mkfs.log"
  # The daemons fork; their output goes to files, never to the caller's stdout (a pipe that a
  # forked daemon kept open would hold `$(cluster.sh up ...)` until the daemon exits).
  ceph-mon -c "$D/ceph.conf" -i a > "$D/mon.start.log" 2>&1 < /dev/null \
    || fail "the monitor did not start (port $v2 or $v1 taken?)" "$D/mon.a.log"
  wait_for 60 ceph -s --connect-timeout 10 \
    || fail "the monitor does not answer 'ceph -s' after 60 s" "$D/mon.a.log"
  uuid=$(uuidgen 2> /dev/null || cat /proc/sys/kernel/random/uuid)
  id=$(timeout 60 ceph osd new "$uuid") || fail "'ceph osd new' failed" "$D/mon.a.log"
  [ "$id" = 0 ] || fail "the new OSD is osd.$id, not osd.0"
  timeout 60 ceph auth get-or-create osd.0 mon 'allow profile osd' osd 'allow *' \
    mgr 'allow profile osd' >> "$D/keyring" || fail "no key for osd.0" "$D/mon.a.log"
  ceph-osd -c "$D/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" > "$D/osd.mkfs.log" 2>&1 \
    || fail "the OSD's mkfs failed" "$D/osd.mkfs.log"
  ceph-osd -c "$D/ceph.conf" -i 0 > "$D/osd.start.log" 2>&1 < /dev/null || fail "the OSD did not start" "$D/osd.0.log"
  timeout 60 ceph osd pool create rbd 8 8 > /dev/null 2>&1 \
    || fail "creating pool rbd failed" "$D/mon.a.log"
  wait_for 120 rbd pool init rbd || fail "'rbd pool init rbd' failed for 120 s" "$D/osd.0.log"
  timeout 60 ceph auth get-or-create client.tcmu mon 'profile rbd' osd 'profile rbd' \
    -o "$D/client.tcmu.keyring" 2> /dev/null || fail "creating client.tcmu failed" "$D/mon.a.log"
  # Usable once client.tcmu (what the tests use) can make and remove an image.
  wait_for 120 sh -c 'k=$1/client.tcmu.keyring; rbd --id tcmu --keyring "$k" rm rbd/probe \
      > /dev/null 2>&1; rbd --id tcmu --keyring "$k" create --size 4M rbd/probe \
      && rbd --id tcmu --keyring "$k" rm rbd/probe' _ "$D" \
    || fail "client.tcmu cannot create and remove an image for 120 s" "$D/osd.0.log"
  trap - EXIT INT TERM HUP
  echo "CEPH_CONF=$D/ceph.conf"
}

cmd=${1:-}
case $cmd in
install) do_install ;;
up | down)
  [ -n "${2:-}" ] || { say "usage: $0 $cmd DIR"; exit 2; }
  case $2 in /*) D=$2 ;; *) D=$(pwd)/$2 ;; esac
  # One spelling of the folder (the daemons are recognised by their `-c DIR/ceph.conf`).
  while [ "$D" != / ] && [ "${D%/}" != "$D" ]; do D=${D%/}; done
  if [ "$cmd" = up ]; then up "${3:-}"; else down; fi ;;
*) say "usage: $0 install | up DIR [SIZE_MB] | down DIR"; exit 2 ;;
esac
