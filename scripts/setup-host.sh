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
	containerd   # Debian 12's containerd 1.6: the containerd1.6-… drivers' private daemons
	chromium     # the history page's test: a real headless browser loads it and draws its charts
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
	# seedbench runs containerd as private daemons of its own: the package's service, if the
	# install started one, is not left running or enabled on the host's behalf.
	if [[ " ${missing[*]} " == *" containerd "* ]] && [ -d /run/systemd/system ]; then
		systemctl disable --now containerd.service >/dev/null 2>&1 || true
	fi
fi

# containerd of the version seedbench links, built from the Go module once (cached): the
# containerd-… drivers' private daemons.
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)} bash "$(dirname "$0")/build-containerd.sh"

# Kernel pieces the drivers use; load them where they are modules (no error if built in).
for m in overlay loop fuse btrfs xfs erofs; do
	modprobe -q "$m" 2>/dev/null || true
done

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "setup-host: Go is at /usr/local/go/bin; add it to PATH" >&2
fi
echo "setup-host: ok" >&2
