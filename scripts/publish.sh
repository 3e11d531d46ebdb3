#!/usr/bin/env bash
# Replays the published scenarios, records their results under results/<scenario>/, lists them in
# results/published and regenerates RESULTS.md (make report). Needs root. Each scenario runs on the
# drivers its measurement is about; the flagship runs on every driver.
#
#   scripts/publish.sh [bin/seedbench]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/seedbench}
published=(
	"scenarios/debian-emacs-apache.yaml"
	"scenarios/lookup-depth.yaml --drivers overlayfs,overlayfs-metacopy,native,btrfs"
	# Every round copies up lower files of its own (8.9 GiB of them): four drivers, one per way of
	# copying up (full copy, metadata only, reflink, block CoW), fit in ~70 GiB of work dir.
	"scenarios/copyup-sizes.yaml --drivers overlayfs,overlayfs-metacopy,overlayfs-xfs,btrfs"
	"scenarios/shared-base.yaml --drivers overlayfs,fuse-overlayfs,erofs,native,btrfs"
	"scenarios/lazy-pull.yaml --drivers overlayfs,stargz,stargz-noprefetch,soci"
	# Its drivers are the scenario's own: a full pull against every lazy loader listed there.
	"scenarios/break-even.yaml"
)
# lazy-pull and break-even pull the real Debian image: build it once (debootstrap and apt, about a minute).
[ -f /var/tmp/seedbench-realstack/oci/index.json ] || go run ./scripts/realstack
list=results/published.new
echo "# result files behind RESULTS.md (scripts/publish.sh writes this list; make report reads it)" > "$list"
for entry in "${published[@]}"; do
	read -r scenario flags <<<"$entry"
	name=$(basename "$scenario" .yaml)
	out=results/$name/$(date -u +%Y%m%dT%H%M%SZ).json
	echo "publish: $scenario $flags" >&2
	# shellcheck disable=SC2086 # flags are words
	"$bin" run "$scenario" $flags --out "$out" -q >/dev/null || [ $? -eq 4 ]
	echo "$out" >> "$list"
done
# The regression gate's own measurement (scripts/gate-trials.sh), when this machine has one.
[ -f results/gate/trials.json ] && echo results/gate/trials.json >> "$list"
[ -f results/gate/paired-trials.json ] && echo results/gate/paired-trials.json >> "$list"
mv "$list" results/published
"$bin" report -o RESULTS.md $(grep -v '^#' results/published)
