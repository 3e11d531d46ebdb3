// Package native is containerd's native snapshotter (plugins/snapshots/native) on a backing
// filesystem of its own. Prepare copies the whole parent into the new snapshot and the mounts are
// bind mounts. The copy uses copy_file_range: on ext4 (the default backing) it is a true full copy
// of every byte; on btrfs and xfs it reflinks, so the same driver measures very differently there —
// the backing is recorded with every result for that reason.
package native

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/plugins/snapshots/native"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Family is the driver family name; SnapshotterPackage the Go package it wraps.
const (
	Family             = "native"
	SnapshotterPackage = "github.com/containerd/containerd/v2/plugins/snapshots/native"
)

// DefaultBacking is ext4, where Prepare is a real copy.
const DefaultBacking = backing.Ext4

// Driver is the native snapshotter on one kind of backing.
type Driver struct{ fsinstance.Base }

// New returns a native driver called name on a backing of kind backingFS ("" = DefaultBacking).
func New(name, backingFS string) drivers.Driver {
	return &Driver{fsinstance.Base{
		Name: name, Family: Family, Backing: backingFS, Default: DefaultBacking, Remake: New,
		Needs: fsinstance.Needs{
			MountOptions: fsinstance.NoMountOptions("the native snapshotter makes bind mounts and takes none"),
			Root:         "bind mounts need root",
		},
	}}
}

// reflinks reports whether copy_file_range shares extents on fs instead of copying them.
func reflinks(fs string) bool { return fs == backing.Btrfs || fs == backing.XFS }

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	fs := d.BackingFS(drivers.Options{})
	copyMode, copyKind := "full copy of the parent on every Prepare", "full"
	if reflinks(fs) {
		copyMode, copyKind = "Prepare reflinks the parent (copy_file_range on "+fs+"): no data is copied", "reflink"
	}
	return drivers.Info{
		Name:         d.Name,
		Family:       Family,
		Description:  "containerd native snapshotter: " + copyMode + "; bind mounts",
		Snapshotter:  SnapshotterPackage,
		Version:      drivers.ContainerdVersion(),
		Backing:      fs,
		Options:      map[string]string{"copy": copyKind},
		Capabilities: drivers.Capabilities{FullCopy: !reflinks(fs)},
	}
}

// Open makes the backing and builds the snapshotter in it.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	return d.Build(ctx, opts, func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		sn, err := native.NewSnapshotter(d.Root(b))
		if err != nil {
			return nil, fmt.Errorf("%s: new snapshotter: %w", d.Name, err)
		}
		return fsinstance.New(fsinstance.Config{Driver: d.Name, Snapshotter: sn, Backing: b, Undo: undo}), nil
	})
}
