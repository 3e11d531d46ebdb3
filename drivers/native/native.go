// Package native is containerd's native snapshotter (plugins/snapshots/native) on a backing
// filesystem of its own. Prepare copies the whole parent into the new snapshot and the mounts are
// bind mounts. The copy uses copy_file_range: on ext4 (the default backing) it is a true full copy
// of every byte; on btrfs and xfs it reflinks, so the same driver measures very differently there —
// the backing is recorded with every result for that reason.
package native

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
type Driver struct {
	name    string
	backing string
}

// New returns a native driver called name on a backing of kind backingFS ("" = DefaultBacking).
func New(name, backingFS string) drivers.Driver {
	return &Driver{name: name, backing: backingFS}
}

func (d *Driver) backingFS(opts drivers.Options) string {
	return fsinstance.BackingFS(opts.Backing, d.backing, DefaultBacking)
}

// reflinks reports whether copy_file_range shares extents on fs instead of copying them.
func reflinks(fs string) bool { return fs == backing.Btrfs || fs == backing.XFS }

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	fs := d.backingFS(drivers.Options{})
	copyMode, copyKind := "full copy of the parent on every Prepare", "full"
	if reflinks(fs) {
		copyMode, copyKind = "Prepare reflinks the parent (copy_file_range on "+fs+"): no data is copied", "reflink"
	}
	return drivers.Info{
		Name:         d.name,
		Family:       Family,
		Description:  "containerd native snapshotter: " + copyMode + "; bind mounts",
		Snapshotter:  SnapshotterPackage,
		Version:      drivers.ContainerdVersion(),
		Backing:      fs,
		Options:      map[string]string{"copy": copyKind},
		Capabilities: drivers.Capabilities{FullCopy: !reflinks(fs)},
	}
}

// Check reports whether the driver can run here: root (for the bind mounts and the loop device)
// and the backing's tools.
func (d *Driver) Check(ctx context.Context) error {
	return d.check(drivers.Options{})
}

func (d *Driver) check(opts drivers.Options) error {
	if len(opts.MountOptions) > 0 {
		return fmt.Errorf("%s: mount options %s: the native snapshotter makes bind mounts and takes none",
			d.name, strings.Join(opts.MountOptions, ","))
	}
	if os.Geteuid() != 0 {
		return drivers.Unsupported(d.name, "bind mounts need root", "run seedbench as root")
	}
	if err := backing.Check(d.backingFS(opts)); err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	return nil
}

// Open makes the backing and builds the snapshotter in it.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	if err := d.check(opts); err != nil {
		return nil, err
	}
	return fsinstance.Open(ctx, d.name, fsinstance.Spec(opts, d.backingFS(opts)), func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		sn, err := native.NewSnapshotter(filepath.Join(b.Path, Family))
		if err != nil {
			return nil, fmt.Errorf("%s: new snapshotter: %w", d.name, err)
		}
		return fsinstance.New(fsinstance.Config{Driver: d.name, Snapshotter: sn, Backing: b, Undo: undo}), nil
	})
}

// Variant makes native on spec's backing (or d's): it takes no mount options.
func (d *Driver) Variant(spec drivers.Spec) (drivers.Driver, error) {
	if err := drivers.NoChoices(drivers.Spec{MountOptions: spec.MountOptions}, Family, ""); err != nil {
		return nil, err
	}
	b, err := fsinstance.VariantBacking(spec.Backing, d.backing)
	if err != nil {
		return nil, err
	}
	return New(spec.Name, b), nil
}
