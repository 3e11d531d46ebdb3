#!/usr/bin/env bash
# Measures the paired regression gate on this machine (README, "Paired comparisons in one run"):
# RUNS runs of scenarios/paired-gate.yaml, each holding an A/A pair (overlayfs against a plain
# variant of itself) and two pairs whose new side the run slows on purpose, by 10% and by 5%, on
# every class the trials measure (lookups, copy-ups of 1 MiB and more, creates, deletes, snapshot
# calls); then seedbench trials --paired counts false alarms, detections and interval coverage into
# results/gate/paired-trials.json (RESULTS.md shows it). Needs root (it runs seedbench run).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/seedbench}
RUNS=${RUNS:-40}
WORK=${WORK:-results/gate/paired-runs}
FAULTS=()
for target in 'op.lookup' 'copyup.latency,size>=1MiB' 'op.create' 'op.delete' 'snapshot.*'; do
  FAULTS+=(--inject-fault "slow:$target,driver=overlayfs-f10:+10%" --inject-fault "slow:$target,driver=overlayfs-f5:+5%")
done
mkdir -p "$WORK" results/gate
for i in $(seq "$RUNS"); do
  echo "paired run $i/$RUNS" >&2
  "$BIN" run scenarios/paired-gate.yaml --results "$WORK" -q --format json "${FAULTS[@]}" > /dev/null
done
"$BIN" trials --paired "$WORK"/paired-gate -o results/gate/paired-trials.json
echo "results/gate/paired-trials.json" >&2
