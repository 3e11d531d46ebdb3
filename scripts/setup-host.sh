#!/usr/bin/env bash
# Idempotent host set-up for seedbench on Debian 12: the kernel tools and packages every driver needs.
# Used by `make run`, `make test` and .ci/run. Needs root (the Makefile adds sudo only where needed).
set -euo pipefail

packages=(
	e2fsprogs    # mkfs.ext4 for the loop-mounted backing filesystems
	util-linux   # losetup, mount
	btrfs-progs  # btrfs driver and btrfs backings
	xfsprogs     # xfs (reflink) backings
	erofs-utils  # erofs driver: mkfs.erofs at commit
	fuse3        # FUSE for fuse-overlayfs and stargz
	fuse-overlayfs
	gcc          # cgo (btrfs snapshotter)
	libc6-dev
	make
	debootstrap  # scripts/realstack: the real Debian seed stack
	strace       # seedbench trace: the files a program touches
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "setup-host: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Kernel pieces the drivers use; load them where they are modules (no error if built in).
for m in overlay loop fuse btrfs xfs erofs; do
	modprobe -q "$m" 2>/dev/null || true
done

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "setup-host: Go is at /usr/local/go/bin; add it to PATH" >&2
fi
echo "setup-host: ok" >&2
