#!/usr/bin/env bash
# Two builds of a snapshotter side by side, in one run: BASE_BIN and NEW_BIN (two seedbench binaries,
# e.g. last night's and tonight's) each serve DRIVER's snapshotter (seedbench serve) on the proxy
# sockets scenarios/paired-builds.yaml names; the run measures both in the same rounds, one right
# after the other, and the paired gate judges the new build against the base (exit 3 on a
# regression). The servers are stopped (SIGTERM: they unmount and detach their backings) on every
# path. Needs root. Usage: scripts/paired-builds.sh BASE_BIN NEW_BIN [OUT.json]
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_BIN=${1:?usage: paired-builds.sh BASE_BIN NEW_BIN [OUT.json]}
NEW_BIN=${2:?usage: paired-builds.sh BASE_BIN NEW_BIN [OUT.json]}
OUT=${3:-results/tmp/paired-builds.json}
BIN=${BIN:-$NEW_BIN}
DRIVER=${DRIVER:-overlayfs}
dir=/run/seedbench-paired
mkdir -p "$dir" "$(dirname "$OUT")"
pids=()
stop() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap stop EXIT
"$BASE_BIN" serve --driver "$DRIVER" --socket "$dir/base.sock" & pids+=($!)
"$NEW_BIN" serve --driver "$DRIVER" --socket "$dir/new.sock" & pids+=($!)
for s in base new; do
  for _ in $(seq 100); do [ -S "$dir/$s.sock" ] && break; sleep 0.1; done
  [ -S "$dir/$s.sock" ] || { echo "paired-builds: the $s build's server did not come up at $dir/$s.sock" >&2; exit 1; }
done
"$BIN" run scenarios/paired-builds.yaml --out "$OUT" -q > /dev/null
"$BIN" compare "$OUT"
