//go:build cgo && !no_btrfs

package btrfs

import (
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/plugins/snapshots/btrfs"
)

func unavailable(string) error { return nil }

func newSnapshotter(root string) (snapshots.Snapshotter, error) { return btrfs.NewSnapshotter(root) }
