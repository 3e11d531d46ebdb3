#!/usr/bin/env bash
# Holds seedbench's own measurements against the raw kernel floor on the same overlay mount, in one
# run: warm stat (engine vs a tight x/sys/unix loop vs the same loop in C) and the 64 MiB copy-up
# (engine vs C open+write+close). Ratios near 1.00 mean seedbench measures the kernel, not itself.
# Needs root and gcc. Usage: scripts/floors.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
go test -run '^$' -bench '^BenchmarkFloors$' -benchtime 1x -count "${1:-1}" ./internal/replay
