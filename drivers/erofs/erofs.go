// Package erofs is containerd's erofs snapshotter (plugins/snapshots/erofs) on a backing filesystem
// of its own.
//
// An active snapshot is an overlay upper dir on the backing; Commit converts it into a read-only EROFS
// image (layer.erofs) with mkfs.erofs and drops the directory. A container on a stack of layers is an
// overlay whose lower dirs are those images, each mounted as an EROFS filesystem of its own. The
// snapshotter returns such stacks as *templated* mounts (a "format/mkdir/overlay" whose lowerdir is
// "{{ overlay 0 N }}" over N "erofs" mounts): Instance.Mount activates them with containerd's mount
// manager (core/mount/manager, with the erofs mount handler of plugins/mount/erofs, its state in a bolt
// db under the work dir, outside the backing) and mounts the remaining system mount at the target;
// Unmount unmounts it and deactivates the rest. Views work the same way, so a diff can be exported
// from Instance.Mount'ed views.
//
// containerd's erofs *differ* writes layers with `mkfs.erofs --tar`, which needs erofs-utils 1.7;
// Debian 12 ships 1.5, so seedbench applies layers with the generic applier (files written into the
// mounted active snapshot) and Commit converts the upper dir. fsverity, dm-verity, IMMUTABLE_FL and
// fsmeta merging are off.
package erofs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/mount/manager"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	erofsmount "github.com/containerd/containerd/v2/plugins/mount/erofs"
	erofssnapshotter "github.com/containerd/containerd/v2/plugins/snapshots/erofs"
	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/drivers/overlayfs"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Family is the driver family name; SnapshotterPackage the Go package it wraps.
const (
	Family             = "erofs"
	SnapshotterPackage = "github.com/containerd/containerd/v2/plugins/snapshots/erofs"
)

// DefaultBacking holds the upper dirs and the layer images.
const DefaultBacking = backing.Ext4

// Namespace is the containerd namespace the mount manager records activations under (it requires
// one); the engine's contexts carry none.
const Namespace = "seedbench"

// managerDir is the mount manager's directory under the work dir: its bolt db and the mount points of
// the activated EROFS layers. It is outside the backing, so it does not count as the driver's disk
// use and the backing can be unmounted once every activation is undone.
const managerDir = "mount-manager"

// Driver is the erofs snapshotter on one kind of backing.
type Driver struct{ fsinstance.Base }

// New returns an erofs driver called name on a backing of kind backingFS ("" = DefaultBacking).
func New(name, backingFS string) drivers.Driver {
	return &Driver{fsinstance.Base{
		Name: name, Family: Family, Backing: backingFS, Default: DefaultBacking, Remake: New,
		// containerd runs mkfs.erofs through PATH: it is looked up the same way.
		Needs: fsinstance.Needs{
			MountOptions: overlayfs.ValidateOptions,
			Root:         "mounting EROFS images and overlays needs root",
			FS: []fsinstance.KernelFS{
				{Name: "erofs", Fix: "modprobe erofs, or use a kernel built with it"},
				{Name: "overlay", Fix: "modprobe overlay, or use a kernel built with it"},
			},
			Tools: []fsinstance.Tool{{Name: "mkfs.erofs", Package: "erofs-utils", InPATH: true}},
		},
	}}
}

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	return drivers.Info{
		Name:   d.Name,
		Family: Family,
		Description: "containerd erofs snapshotter: Commit turns each layer into an EROFS image (mkfs.erofs); containers overlay " +
			"the images' mounts (activated by containerd's mount manager) with an upper dir. The erofs differ is unusable with " +
			"Debian 12's erofs-utils 1.5 (needs >= 1.7 for --tar): layers are applied with the generic applier",
		Snapshotter: SnapshotterPackage,
		Version:     drivers.ContainerdVersion(),
		Backing:     d.BackingFS(drivers.Options{}),
		Options: map[string]string{
			"differ":   "generic applier + mkfs.erofs at commit",
			"dmverity": "off",
			"fsverity": "off",
			"fsmerge":  "off",
		},
		// Each committed layer is a filesystem image mounted as a superblock of its own (per
		// container), under an overlay: page cache is not shared across mounts of a layer.
		Capabilities: drivers.Capabilities{Overlay: true, Block: true, PerMountCache: true},
	}
}

// Check reports whether the driver can run here: root, the erofs and overlay filesystems, mkfs.erofs,
// the backing's tools, and a tiny image made by mkfs.erofs mounting through the erofs mount handler.
func (d *Driver) Check(ctx context.Context) error {
	if err := d.CheckOpen(drivers.Options{}); err != nil {
		return err
	}
	if err := probe(ctx); err != nil {
		return drivers.Unsupported(d.Name, err.Error(), "use a kernel with CONFIG_EROFS_FS and erofs-utils whose images it mounts")
	}
	return nil
}

// probe makes a one-file EROFS image as Commit does and mounts it through the erofs mount handler.
func probe(ctx context.Context) (err error) {
	tmp, err := os.MkdirTemp("", "seedbench-erofs-check-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	src := filepath.Join(tmp, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("probe\n"), 0o644); err != nil {
		return err
	}
	img := filepath.Join(tmp, "layer.erofs")
	if out, err := exec.CommandContext(ctx, "mkfs.erofs", "--quiet", "-Enoinline_data", img, src).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.erofs: %w: %s", err, out)
	}
	h := erofsmount.NewErofsMountHandler()
	mp := filepath.Join(tmp, "mnt")
	if _, err := h.Mount(ctx, mount.Mount{Type: "erofs", Source: img, Options: []string{"ro", "loop"}}, mp, nil); err != nil {
		return fmt.Errorf("mount an EROFS image: %w", err)
	}
	got, rerr := os.ReadFile(filepath.Join(mp, "f"))
	if uerr := h.Unmount(ctx, mp); uerr != nil {
		return fmt.Errorf("unmount the probe image: %w", uerr)
	}
	if rerr != nil || string(got) != "probe\n" {
		return fmt.Errorf("read from an EROFS image: %q %v", got, rerr)
	}
	return nil
}

// Open makes the backing, the snapshotter on it, and the mount manager next to it.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	return d.Build(ctx, opts, func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		// The manager's directory goes after the backing's (which removes the work dir it made), so it is
		// removed first.
		mdir := filepath.Join(filepath.Dir(b.Path), managerDir)
		if err := os.Mkdir(mdir, 0o700); err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		undo.Push("remove "+mdir, func() error { return os.RemoveAll(mdir) })
		db, err := bolt.Open(filepath.Join(mdir, "mounts.db"), 0o600, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: mount manager db: %w", d.Name, err)
		}
		mm, err := manager.NewManager(db, filepath.Join(mdir, "t"),
			manager.WithMountHandler("erofs", erofsmount.NewErofsMountHandler()))
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: mount manager: %w", d.Name, err)
		}
		closer, _ := mm.(interface{ Close() error }) // closes the db too
		undo.Push("close mount manager", closer.Close)

		snOpts := []erofssnapshotter.Opt{erofssnapshotter.WithDmverityMode("off")}
		if len(opts.MountOptions) > 0 {
			snOpts = append(snOpts, erofssnapshotter.WithOvlOptions(slices.Clone(opts.MountOptions)))
		}
		sn, err := erofssnapshotter.NewSnapshotter(d.Root(b), snOpts...)
		if err != nil {
			return nil, fmt.Errorf("%s: new snapshotter: %w", d.Name, err)
		}
		m := mounter{mm}
		return fsinstance.New(fsinstance.Config{Driver: d.Name, Snapshotter: sn, Backing: b, Undo: undo,
			Mount: m.mount, BeforeRemove: m.deactivateLeft}), nil
	})
}

// mounter mounts through containerd's mount manager what the snapshotter returns.
type mounter struct{ mm mount.Manager }

// mount activates mounts under the target's name and mounts what remains at target; release
// deactivates them. A snapshot with no templated or EROFS mount (a layer without parent: a bind
// mount of its upper dir) is not the manager's business and is mounted directly. When the manager
// performed every mount (a view of one layer is one EROFS mount), target is a read-only bind mount
// of it.
func (m mounter) mount(ctx context.Context, mounts []mount.Mount, target string) (release func(context.Context) error, err error) {
	ctx = namespaces.WithNamespace(ctx, Namespace)
	// Activate writes the formatted mounts back into the slice it is given: the caller's mounts would
	// then name this activation's mount points, gone once it is deactivated, and a second Mount of
	// the same snapshot (a remount) would fail.
	info, err := m.mm.Activate(ctx, target, cloneMounts(mounts))
	switch {
	case errors.Is(err, errdefs.ErrNotImplemented): // nothing was activated
		return nil, fsinstance.MountAll(mounts, target)
	case err != nil:
		return nil, fmt.Errorf("activate: %w", err)
	case len(info.System) == 0:
		info.System = []mount.Mount{{Type: "bind", Source: info.Active[len(info.Active)-1].MountPoint, Options: []string{"ro", "rbind"}}}
	}
	if err := fsinstance.MountAll(info.System, target); err != nil {
		return nil, errors.Join(err, m.mm.Deactivate(ctx, target))
	}
	return func(ctx context.Context) error {
		if err := m.mm.Deactivate(namespaces.WithNamespace(ctx, Namespace), target); err != nil {
			return fmt.Errorf("deactivate: %w", err)
		}
		return nil
	}, nil
}

func cloneMounts(ms []mount.Mount) []mount.Mount {
	out := slices.Clone(ms)
	for i := range out {
		out[i].Options = slices.Clone(out[i].Options)
	}
	return out
}

// deactivateLeft undoes the activations the manager still holds once every target is unmounted (a
// failure between activating and mounting leaves one): their EROFS mounts would keep the layer
// images, and so the backing, busy.
func (m mounter) deactivateLeft(ctx context.Context) error {
	ctx = namespaces.WithNamespace(ctx, Namespace)
	left, err := m.mm.List(ctx)
	if err != nil {
		return fmt.Errorf("list activations: %w", err)
	}
	var errs []error
	for _, a := range left {
		if err := m.mm.Deactivate(ctx, a.Name); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deactivate %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}
