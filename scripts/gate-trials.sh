#!/usr/bin/env bash
# Measures the regression gate on this machine, as its README section "The regression gate" says:
#   1. LEARN A/A runs of the gate plan teach the noise floors (seedbench noise);
#   2. TRIALS more A/A runs, each followed by a run with faults injected on purpose: consecutive A/A
#      runs are the false-alarm trials, and each faulted run, compared with the A/A run before it, a
#      power trial;
#   3. seedbench trials writes what the gate did into results/gate/trials.json (RESULTS.md shows it).
# Needs root (it runs seedbench run). Every run's result is kept under $WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/seedbench}
LEARN=${LEARN:-10}
TRIALS=${TRIALS:-21}
SAMPLES=${SAMPLES:-15}
WORK=${WORK:-results/gate/runs}
PLAN=(scenarios/debian-emacs-apache.yaml --quick --samples "$SAMPLES" --drivers "${GATE_DRIVERS:-overlayfs,overlayfs-metacopy,native,btrfs,fuse-overlayfs}" -q --format json)
FAULTS=(
  --inject-fault 'slow:copyup.latency,write=first,size>=1MiB:+10%'
  --inject-fault 'slow:op.lookup,cache=warm:+10%'
  --inject-fault 'slow:op.lookup,cache=mount:+25%'
  --inject-fault 'slow:op.lookup,cache=cold:+25%'
  --inject-fault 'slow:snapshot.*:+25%'
  --inject-fault 'write:lookup:+4MiB'
)
mkdir -p "$WORK/learn" "$WORK/aa" "$WORK/faulted" results/gate
run() { "$BIN" run "${PLAN[@]}" --results "$1" "${@:2}" > /dev/null; }
for i in $(seq "$LEARN"); do echo "learn $i/$LEARN" >&2; run "$WORK/learn"; done
"$BIN" noise "$WORK"/learn/*/*.json -o "$WORK/noise.json"
for i in $(seq "$TRIALS"); do
  echo "trial $i/$TRIALS" >&2
  run "$WORK/aa"
  run "$WORK/faulted" "${FAULTS[@]}"
done
"$BIN" trials --learn "$WORK"/learn/debian-emacs-apache --aa "$WORK"/aa/debian-emacs-apache --faulted "$WORK"/faulted/debian-emacs-apache -o results/gate/trials.json
echo "results/gate/trials.json" >&2
