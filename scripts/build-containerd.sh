#!/usr/bin/env bash
# Builds containerd's daemon at the version seedbench links (go.mod) from the Go module, once, into
# /var/cache/seedbench/containerd-VERSION/containerd: the daemon the containerd-… drivers start.
# A second call finds it and does nothing. --path prints where it is (or would be) and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
module=github.com/containerd/containerd/v2
version=$("$GO" list -m -f '{{.Version}}' "$module")
dir=${SEEDBENCH_CACHE:-/var/cache/seedbench}/containerd-$version
bin=$dir/containerd
if [[ ${1:-} == --path ]]; then
	echo "$bin"
	exit 0
fi
built() { [[ -x $bin ]] && "$bin" --version 2>/dev/null | grep -q " $version "; }
if built; then
	exit 0
fi
mkdir -p "$dir"
exec 9>"$dir/containerd.lock"
flock 9
if built; then # another build finished while this one waited for the lock
	exit 0
fi
echo "build-containerd: building containerd $version from $module (once; cached in $dir)" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# go install of module@version builds the daemon with containerd's own go.mod, as its release does;
# no_btrfs: the daemon's btrfs snapshotter is not measured here and would need libbtrfs headers.
# The version is stamped as containerd's release build stamps it (its Makefile's -X flags), with
# the module's checksum as the revision.
sum=$("$GO" list -m -f '{{.Sum}}' "$module")
GOBIN=$tmp CGO_ENABLED=1 "$GO" install -tags no_btrfs \
	-ldflags "-X $module/version.Version=$version -X $module/version.Revision=$sum" "$module/cmd/containerd@$version"
mv "$tmp/containerd" "$bin.new"
mv "$bin.new" "$bin"
"$bin" --version >&2
