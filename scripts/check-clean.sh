#!/usr/bin/env bash
# Fails if anything of seedbench's is still mounted or attached: run after the tests.
set -u
bad=0
if grep -E 'seedbench' /proc/mounts; then
	echo "check-clean: mounts left behind (above)" >&2
	bad=1
fi
if losetup -a 2>/dev/null | grep -E 'seedbench'; then
	echo "check-clean: loop devices left attached (above)" >&2
	bad=1
fi
if pgrep -a fuse-overlayfs >/dev/null 2>&1; then
	pgrep -a fuse-overlayfs
	echo "check-clean: fuse-overlayfs daemons left running (above)" >&2
	bad=1
fi
[ $bad = 0 ] && echo "check-clean: nothing of ours is mounted or attached" >&2
exit $bad
