//go:build !cgo

package btrfs

import (
	"github.com/containerd/containerd/v2/core/snapshots"

	"github.com/seedbench/seedbench/drivers"
)

// unavailable: containerd's btrfs snapshotter calls the btrfs ioctls through cgo and is compiled
// only with it.
func unavailable(name string) error {
	return drivers.Unsupported(name, "built without cgo", "rebuild with CGO_ENABLED=1 and gcc")
}

func newSnapshotter(string) (snapshots.Snapshotter, error) { return nil, unavailable(Family) }
