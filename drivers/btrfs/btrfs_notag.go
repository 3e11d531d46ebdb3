//go:build cgo && no_btrfs

package btrfs

import (
	"github.com/containerd/containerd/v2/core/snapshots"

	"github.com/seedbench/seedbench/drivers"
)

// unavailable: the no_btrfs build tag compiles containerd's btrfs snapshotter out.
func unavailable(name string) error {
	return drivers.Unsupported(name, "built with the no_btrfs tag", "rebuild without -tags no_btrfs")
}

func newSnapshotter(string) (snapshots.Snapshotter, error) { return nil, unavailable(Family) }
