#!/usr/bin/env bash
# Fails if a run or a test left anything mounted, attached or running: run after the tests.
# Ours = mounts under the temp dirs or seedbench's work dir, overlay/FUSE mounts anywhere there, loop
# devices backed by files there, fuse-overlayfs daemons.
set -u
bad=0
mounts=$(awk '$2 ~ /^\/(tmp|var\/tmp)\// || $2 ~ /seedbench/ {print $3" "$2}' /proc/mounts | grep -v '^tmpfs /tmp$')
if [ -n "$mounts" ]; then
	printf '%s\n' "$mounts"
	echo "check-clean: mounts left behind (above)" >&2
	bad=1
fi
loops=$(losetup -a 2>/dev/null | grep -E '\((/tmp|/var/tmp)/|seedbench')
if [ -n "$loops" ]; then
	printf '%s\n' "$loops"
	echo "check-clean: loop devices left attached (above)" >&2
	bad=1
fi
# A daemon that has exited waits, as a zombie, for init to reap it: it holds nothing, so it is not
# counted (drivers/fuseoverlayfs.Daemons skips zombies the same way).
daemons=$(ps -C fuse-overlayfs -o pid=,stat=,args= | awk '$2 !~ /^Z/')
if [ -n "$daemons" ]; then
	printf '%s\n' "$daemons"
	echo "check-clean: fuse-overlayfs daemons left running (above)" >&2
	bad=1
fi
[ $bad = 0 ] && echo "check-clean: nothing of ours is mounted, attached or running" >&2
exit $bad
