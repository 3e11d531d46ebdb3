#!/usr/bin/env bash
# A fault the engine does not make: one driver's backing device slowed in the kernel. Runs
# scenarios/paired-gate.yaml (no --inject-fault) inside a blkio cgroup whose throttle caps the read
# and write IOPS of DRIVER's loop device alone, once the run has attached it; then the paired gate
# judges DRIVER against overlayfs (exit 3 when it sees the slowdown). Needs root and cgroup v1's blkio
# controller (or v2's io controller). Prints the comparison; the result goes to OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/seedbench}
DRIVER=${DRIVER:-overlayfs-f10}
IOPS=${IOPS:-400}
OUT=${OUT:-results/tmp/device-fault.json}
mkdir -p "$(dirname "$OUT")"
if [ -d /sys/fs/cgroup/blkio ]; then
  cg=/sys/fs/cgroup/blkio/seedbench-device-fault-$$
else
  cg=/sys/fs/cgroup/seedbench-device-fault-$$
fi
mkdir "$cg"
trap 'rmdir "$cg" 2>/dev/null || true' EXIT
( echo "$BASHPID" > "$cg/cgroup.procs"; exec "$BIN" run scenarios/paired-gate.yaml --out "$OUT" -q > /dev/null ) &
pid=$!
dev=""
while kill -0 "$pid" 2>/dev/null && [ -z "$dev" ]; do
  loop=$(losetup -a | grep -F -- "-$pid/w/" | grep -F -- "-$DRIVER/seedbench-backing.img" | cut -d: -f1 || true)
  if [ -n "$loop" ]; then
    dev=$(cat "/sys/block/$(basename "$loop")/dev")
    if [ -f "$cg/blkio.throttle.read_iops_device" ]; then
      echo "$dev $IOPS" > "$cg/blkio.throttle.read_iops_device"
      echo "$dev $IOPS" > "$cg/blkio.throttle.write_iops_device"
    else
      echo "$dev riops=$IOPS wiops=$IOPS" > "$cg/io.max"
    fi
    echo "device-fault: $DRIVER's backing $loop ($dev) capped at $IOPS read and write IOPS for the run" >&2
  fi
  sleep 0.2
done
wait "$pid"
[ -n "$dev" ] || { echo "device-fault: $DRIVER's loop device never appeared" >&2; exit 1; }
"$BIN" compare "$OUT" --base overlayfs --new "$DRIVER"
