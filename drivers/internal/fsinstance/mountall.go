package fsinstance

import (
	"errors"

	"github.com/containerd/containerd/v2/core/mount"
)

// MountAll mounts mounts at target in order, as containerd's mount.All does, except that an overlay
// whose options overflow one page is mounted from a thread that leaves the lower dirs' parent
// afterwards (see mountOne). If one fails, whatever was already mounted at target is unmounted.
// Instance.Mount uses it, and so does a Config.Mount (erofs's activated mounts) for the mounts it
// performs.
func MountAll(mounts []mount.Mount, target string) error {
	for _, m := range mounts {
		if err := mountOne(m, target); err != nil {
			return errors.Join(err, mount.UnmountAll(target, 0))
		}
	}
	return nil
}
