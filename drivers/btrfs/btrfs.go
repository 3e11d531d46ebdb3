// Package btrfs is containerd's btrfs snapshotter (plugins/snapshots/btrfs) on a loop-mounted btrfs
// of its own. Every snapshot is a subvolume: Prepare snapshots the parent's subvolume (constant
// time, whatever the layer's size), Commit takes a read-only snapshot of the active one, and the
// mounts are btrfs mounts of the backing device with subvolid=N. Copy-up does not exist: a container
// writes into its own subvolume, whose extents it shares with its parent until it changes them.
//
// The snapshotter calls the btrfs ioctls through cgo (github.com/containerd/btrfs/v2): a binary built
// without cgo lists the driver and reports it unsupported, with the fix.
package btrfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Family is the driver family name; SnapshotterPackage the Go package it wraps.
const (
	Family             = "btrfs"
	SnapshotterPackage = "github.com/containerd/containerd/v2/plugins/snapshots/btrfs"
)

// Driver is the btrfs snapshotter on a dedicated loop-mounted btrfs.
type Driver struct {
	name string
}

// New returns the btrfs driver called name.
func New(name string) drivers.Driver { return &Driver{name: name} }

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	return drivers.Info{
		Name:         d.name,
		Family:       Family,
		Description:  "containerd btrfs snapshotter: a subvolume per snapshot, Prepare and Commit are btrfs snapshots",
		Snapshotter:  SnapshotterPackage,
		Version:      drivers.ContainerdVersion(),
		Backing:      backing.Btrfs,
		Capabilities: drivers.Capabilities{CopyOnWriteFS: true},
	}
}

// Check reports whether the driver can run here: a binary with cgo, root, btrfs in the kernel and
// mkfs.btrfs (for the loop-mounted backing).
func (d *Driver) Check(ctx context.Context) error { return d.check(drivers.Options{}) }

func (d *Driver) check(opts drivers.Options) error {
	if len(opts.MountOptions) > 0 {
		return fmt.Errorf("%s: mount options %s: the btrfs snapshotter sets its own (subvolid=N)",
			d.name, strings.Join(opts.MountOptions, ","))
	}
	if opts.Backing != "" && opts.Backing != backing.Btrfs {
		return fmt.Errorf("%s: backing %s: the btrfs snapshotter needs a btrfs backing", d.name, opts.Backing)
	}
	if err := unavailable(d.name); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return drivers.Unsupported(d.name, "btrfs subvolumes and mounts need root", "run seedbench as root")
	}
	if err := backing.Check(backing.Btrfs); err != nil {
		return fmt.Errorf("%s: %w", d.name, err)
	}
	return nil
}

// Open makes the loop-mounted btrfs and builds the snapshotter in a directory at its root
// (NewSnapshotter creates one directory level only, and needs its root to be on btrfs).
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	if err := d.check(opts); err != nil {
		return nil, err
	}
	return fsinstance.Open(ctx, d.name, fsinstance.Spec(opts, backing.Btrfs), func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		sn, err := newSnapshotter(filepath.Join(b.Path, Family))
		if err != nil {
			return nil, fmt.Errorf("%s: new snapshotter: %w", d.name, err)
		}
		return fsinstance.New(fsinstance.Config{Driver: d.name, Snapshotter: sn, Backing: b, Undo: undo}), nil
	})
}

// Variant renames btrfs (a backing_size of its own): it takes no mount options and needs a btrfs
// backing.
func (d *Driver) Variant(spec drivers.Spec) (drivers.Driver, error) {
	if err := drivers.NoChoices(spec, Family, backing.Btrfs); err != nil {
		return nil, err
	}
	return New(spec.Name), nil
}
