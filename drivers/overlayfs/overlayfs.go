// Package overlayfs is containerd's overlay snapshotter (plugins/snapshots/overlay) on a backing
// filesystem of its own, in the variants seedbench compares:
//
//	overlayfs           plain (containerd appends index=off)
//	overlayfs-metacopy  metacopy=on,redirect_dir=on,index=on: chmod/chown copy up metadata only
//	overlayfs-volatile  volatile: no syncs to the upper filesystem
//	overlayfs-index     index=on: hard links to lower files are not broken by copy-up
//
// New makes any other variant (a scenario's own mount options). The snapshotter's mounts are a bind
// mount for a snapshot with no parent (and for a view of a single layer), an overlay otherwise.
package overlayfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Family is the driver family name; SnapshotterPackage the Go package it wraps.
const (
	Family             = "overlayfs"
	SnapshotterPackage = "github.com/containerd/containerd/v2/plugins/snapshots/overlay"
)

// DefaultBacking is the backing filesystem when neither New nor Options name one: on ext4 a copy-up
// is a real copy (xfs and btrfs would reflink it).
const DefaultBacking = backing.Ext4

// The registered variants' mount options.
var (
	MetacopyOptions = []string{"metacopy=on", "redirect_dir=on", "index=on"}
	VolatileOptions = []string{"volatile"}
	IndexOptions    = []string{"index=on"}
)

// Variants returns the registered overlayfs drivers, in order.
func Variants() []drivers.Driver {
	return []drivers.Driver{
		New("overlayfs", nil, ""),
		New("overlayfs-metacopy", MetacopyOptions, ""),
		New("overlayfs-volatile", VolatileOptions, ""),
		New("overlayfs-index", IndexOptions, ""),
	}
}

var descriptions = map[string]string{
	"overlayfs":          "containerd overlay snapshotter (index=off, as containerd mounts it)",
	"overlayfs-metacopy": "overlay with metacopy=on,redirect_dir=on,index=on: metadata-only copy-up, directory renames without EXDEV",
	"overlayfs-volatile": "overlay with volatile: the upper filesystem is never synced",
	"overlayfs-index":    "overlay with index=on: copy-up keeps hard links to lower files",
}

// Driver is one overlay configuration.
type Driver struct {
	fsinstance.Base
	options []string
}

// New returns an overlayfs driver called name that mounts with mountOptions (on top of containerd's)
// on a backing filesystem of kind backingFS ("" = DefaultBacking).
func New(name string, mountOptions []string, backingFS string) drivers.Driver {
	options := slices.Clone(mountOptions)
	return &Driver{options: options, Base: fsinstance.Base{
		Name: name, Family: Family, Backing: backingFS, Default: DefaultBacking,
		Needs: fsinstance.Needs{
			MountOptions: func(opts []string) error { return ValidateOptions(append(slices.Clone(options), opts...)) },
			Root:         "mounting overlays needs root",
			FS:           []fsinstance.KernelFS{{Name: "overlay", Fix: "modprobe overlay, or use a kernel with CONFIG_OVERLAY_FS"}},
		},
	}}
}

// ValidateOptions rejects options the snapshotter sets itself.
func ValidateOptions(opts []string) error {
	for _, o := range opts {
		k, _, _ := strings.Cut(o, "=")
		switch {
		case o == "":
			return errors.New("empty mount option")
		case k == "lowerdir" || k == "upperdir" || k == "workdir" || k == "lowerdir+" || k == "datadir+":
			return fmt.Errorf("mount option %q is set by the snapshotter", o)
		case strings.ContainsAny(o, ", "):
			return fmt.Errorf("mount option %q: give one option per list item", o)
		}
	}
	return nil
}

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	desc, ok := descriptions[d.Name]
	if !ok || (d.Backing != "" && d.Backing != DefaultBacking) {
		desc = "containerd overlay snapshotter"
		if len(d.options) > 0 {
			desc += " with " + strings.Join(d.options, ",")
		}
		switch d.Backing {
		case backing.XFS:
			desc += " on xfs (reflink=1): copy-up clones the lower file's extents instead of copying its bytes"
		case backing.Btrfs:
			desc += " on btrfs: copy-up clones the lower file's extents instead of copying its bytes"
		case "":
		default:
			desc += " on " + d.Backing
		}
	}
	info := drivers.Info{
		Name:         d.Name,
		Family:       Family,
		Description:  desc,
		Snapshotter:  SnapshotterPackage,
		Version:      drivers.ContainerdVersion(),
		Backing:      d.BackingFS(drivers.Options{}),
		Capabilities: drivers.Capabilities{Overlay: true},
	}
	if len(d.options) > 0 {
		info.Options = map[string]string{"mount_options": strings.Join(d.options, ",")}
	}
	return info
}

// Check reports whether the driver can run here: root, the overlay filesystem, the backing's tools,
// and the kernel accepting the mount options (probed by mounting a tiny overlay on a scratch tmpfs).
func (d *Driver) Check(ctx context.Context) error {
	if err := d.CheckOpen(drivers.Options{}); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "seedbench-"+d.Name+"-check-")
	if err != nil {
		return fmt.Errorf("%s: check: %w", d.Name, err)
	}
	defer os.Remove(tmp)
	if err := unix.Mount("tmpfs", tmp, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		return fmt.Errorf("%s: check: mount scratch tmpfs: %w", d.Name, err)
	}
	defer mount.UnmountAll(tmp, 0)
	if err := probe(tmp, d.options); err != nil {
		return drivers.Unsupported(d.Name, err.Error(), "use a kernel that supports these overlay options, or drop them")
	}
	return nil
}

// Open makes the backing, probes the mount options on it, and builds the snapshotter in it.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	return d.Build(ctx, opts, func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		mountOptions := append(slices.Clone(d.options), opts.MountOptions...)
		// The probe on the real backing is the last word: an option the upper filesystem cannot honour
		// (index=on needs file handles) is reported here, not in the middle of a run.
		if err := probe(b.Path, mountOptions); err != nil {
			return nil, drivers.Unsupported(d.Name, fmt.Sprintf("on %s: %v", b.FS, err),
				"use a kernel and backing filesystem that support these overlay options, or drop them")
		}
		var snOpts []overlay.Opt
		if len(mountOptions) > 0 {
			snOpts = append(snOpts, overlay.WithMountOptions(mountOptions))
		}
		sn, err := overlay.NewSnapshotter(d.Root(b), snOpts...)
		if err != nil {
			return nil, fmt.Errorf("%s: new snapshotter: %w", d.Name, err)
		}
		return fsinstance.New(fsinstance.Config{
			Driver:      d.Name,
			Snapshotter: sn,
			Backing:     b,
			Undo:        undo,
			BeforeMount: clearVolatile,
		}), nil
	})
}

// clearVolatile removes the marker a volatile overlay leaves in its work dir. The kernel refuses to
// mount that upper again while the marker exists, because after a crash the upper may be corrupt;
// here the previous mount was unmounted cleanly by this process, which is the case the kernel
// documentation allows removing it for. Without this a container could not be mounted twice (the
// "mount" cache mode mounts each container afresh).
func clearVolatile(mounts []mount.Mount) error {
	for _, m := range mounts {
		if m.Type != "overlay" || !slices.Contains(m.Options, "volatile") {
			continue
		}
		for _, o := range m.Options {
			if work, ok := strings.CutPrefix(o, "workdir="); ok {
				if err := os.RemoveAll(filepath.Join(work, "work", "incompat", "volatile")); err != nil {
					return fmt.Errorf("clear volatile marker: %w", err)
				}
			}
		}
	}
	return nil
}

// Variant makes a variant of d: d's mount options and spec's (ValidateOptions), on spec's backing or
// d's.
func (d *Driver) Variant(spec drivers.Spec) (drivers.Driver, error) {
	opts := append(slices.Clone(d.options), spec.MountOptions...)
	if err := ValidateOptions(opts); err != nil {
		return nil, drivers.KeyError("mount_options", fmt.Errorf("%w: remove it", err))
	}
	b, err := fsinstance.VariantBacking(spec.Backing, d.Backing)
	if err != nil {
		return nil, err
	}
	return New(spec.Name, opts, b), nil
}
