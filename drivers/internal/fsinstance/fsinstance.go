// Package fsinstance is what drivers whose snapshotter lives on a local backing filesystem share
// (overlayfs, native, btrfs, blockfile, fuse-overlayfs, erofs, …): the drivers.Instance, whose mounts
// are plain mount(2) calls unless the driver mounts its own way (Config.Mount), and the skeleton of
// the driver itself (Base: name, backing, host checks, variants).
package fsinstance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
	"github.com/seedbench/seedbench/internal/network"
	"github.com/seedbench/seedbench/internal/registry"
)

// Config is what a driver's Open built.
type Config struct {
	Driver      string // driver name, for errors
	Snapshotter snapshots.Snapshotter
	// Backing is where the snapshots are stored (Undo closes it). Nil for a snapshotter that keeps
	// them where seedbench can neither make nor see them (a user's proxy snapshotter): the instance
	// then reports Elsewhere, whose Hidden says why.
	Backing   *backing.Backing
	Elsewhere drivers.Backing
	// Undo holds the steps that tear down the snapshotter's resources and the backing (the driver
	// pushed them while opening); Close unwinds it after removing every snapshot.
	Undo *cleanup.Stack
	// BeforeMount, if set, runs before every Mount (overlay's volatile marker is cleared there).
	BeforeMount func(mounts []mount.Mount) error
	// Mount, if set, mounts mounts at target in place of plain mount(2) calls (MountAll): erofs
	// activates its layers through containerd's mount manager first. It returns what undoes the
	// rest once target is unmounted (nil: nothing), which Unmount and Close call. Its errors are
	// wrapped as the instance's mount errors.
	Mount func(ctx context.Context, mounts []mount.Mount, target string) (release func(context.Context) error, err error)
	// BeforeRemove, if set, runs in Close once every target is unmounted, before the snapshots are
	// removed (erofs undoes activations left without a mounted target there).
	BeforeRemove func(ctx context.Context) error
}

// New returns an Instance owning cfg's resources. Its Snapshotter's Close may be called by the user
// (containerd's test suite does); Instance.Close then skips what needs an open snapshotter.
func New(cfg Config) drivers.Instance {
	return &instance{cfg: cfg, sn: &tracked{Snapshotter: cfg.Snapshotter}, mounted: map[string]func(context.Context) error{}}
}

type instance struct {
	cfg     Config
	sn      *tracked
	mu      sync.Mutex
	mounted map[string]func(context.Context) error // target → what undoes its mount after the unmount (Config.Mount's release, or nil)
	closed  bool
}

// tracked records whether the snapshotter was closed, and keeps the optional Cleaner interface.
type tracked struct {
	snapshots.Snapshotter
	closed atomic.Bool
}

func (s *tracked) Close() error {
	s.closed.Store(true)
	return s.Snapshotter.Close()
}

// Cleanup forwards to the snapshotter's asynchronous cleanup where it has one.
func (s *tracked) Cleanup(ctx context.Context) error {
	if c, ok := s.Snapshotter.(snapshots.Cleaner); ok {
		return c.Cleanup(ctx)
	}
	return nil
}

func (i *instance) Snapshotter() snapshots.Snapshotter { return i.sn }

func (i *instance) Backing() drivers.Backing {
	if i.cfg.Backing == nil {
		return i.cfg.Elsewhere
	}
	return i.cfg.Backing.Info()
}

func (i *instance) Mount(ctx context.Context, mounts []mount.Mount, target string) error {
	if i.cfg.BeforeMount != nil {
		if err := i.cfg.BeforeMount(mounts); err != nil {
			return fmt.Errorf("%s: mount %s: %w", i.cfg.Driver, target, err)
		}
	}
	var release func(context.Context) error
	var err error
	if i.cfg.Mount != nil {
		release, err = i.cfg.Mount(ctx, mounts, target)
	} else {
		err = MountAll(mounts, target) // a list of several mounts may have been mounted in part: MountAll undoes it
	}
	if err != nil {
		return fmt.Errorf("%s: mount %s: %w", i.cfg.Driver, target, err)
	}
	i.mu.Lock()
	i.mounted[target] = release
	i.mu.Unlock()
	return nil
}

func (i *instance) Unmount(ctx context.Context, target string) error {
	i.mu.Lock()
	release := i.mounted[target]
	i.mu.Unlock()
	if err := i.unmount(ctx, target, release); err != nil {
		return err
	}
	i.mu.Lock()
	delete(i.mounted, target)
	i.mu.Unlock()
	return nil
}

// unmount unmounts target, then undoes what its Mount made besides (release, if not nil).
func (i *instance) unmount(ctx context.Context, target string, release func(context.Context) error) error {
	if err := mount.UnmountAll(target, 0); err != nil {
		return fmt.Errorf("%s: unmount %s: %w", i.cfg.Driver, target, err)
	}
	if release != nil {
		if err := release(ctx); err != nil {
			return fmt.Errorf("%s: unmount %s: %w", i.cfg.Driver, target, err)
		}
	}
	return nil
}

// Close unmounts whatever is still mounted through Mount (and releases it), runs BeforeRemove,
// removes every snapshot, closes the snapshotter and drops the backing. It is idempotent.
func (i *instance) Close(ctx context.Context) error {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return nil
	}
	i.closed = true
	mounted := i.mounted
	i.mounted = nil
	i.mu.Unlock()

	var errs []error
	for target, release := range mounted {
		errs = append(errs, i.unmount(ctx, target, release))
	}
	if i.cfg.BeforeRemove != nil {
		errs = append(errs, i.cfg.BeforeRemove(ctx))
	}
	if !i.sn.closed.Load() {
		// Removing snapshots one by one is not needed to free the space (the backing goes next)
		// but proves the snapshotter can tear down what it built — except on a backing that ran
		// out of space, where the snapshotter cannot even record a removal in its metadata.
		if err := drivers.RemoveAll(ctx, i.sn); err != nil && !strings.Contains(err.Error(), unix.ENOSPC.Error()) {
			errs = append(errs, err)
		}
		errs = append(errs, i.sn.Close())
	}
	errs = append(errs, i.cfg.Undo.Unwind())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: close: %w", i.cfg.Driver, err)
	}
	return nil
}

// CheckFUSEOverlay is the check of a lazy snapshotter that mounts layers with FUSE and overlays
// them on an ext4 backing (stargz, SOCI): root, /dev/fuse, overlay and fuse in the kernel.
func CheckFUSEOverlay(driver string) error {
	if os.Geteuid() != 0 {
		return drivers.Unsupported(driver, "FUSE and overlay mounts need root", "run seedbench as root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return drivers.Unsupported(driver, "/dev/fuse is missing", "modprobe fuse")
	}
	for _, fs := range []string{"overlay", "fuse"} {
		if ok, err := backing.KernelHasFS(fs); err != nil {
			return fmt.Errorf("%s: %w", driver, err)
		} else if !ok {
			return drivers.Unsupported(driver, fs+" is not in /proc/filesystems", "modprobe "+fs)
		}
	}
	return backing.Check(backing.Ext4)
}

// Remote is what OpenRemote made for a lazy snapshotter's instance: the instance over its
// snapshotter, its proxy to the run's registry, and its backing's mount point.
type Remote struct {
	Inner drivers.Instance
	Proxy *registry.Proxy
	Root  string
}

// OpenRemote is how a lazy snapshotter's Open runs (stargz, SOCI): it takes no mount options and
// needs the run's registry; it opens an ext4 backing, a proxy of its own to the registry, and the
// snapshotter newSn makes rooted at the backing's family directory and reaching the registry at
// the proxy's address; wrap makes the driver's instance of them.
func OpenRemote(ctx context.Context, driver, family string, opts drivers.Options,
	newSn func(root, proxyAddr string) (snapshots.Snapshotter, error), wrap func(Remote) drivers.Instance) (drivers.Instance, error) {
	if len(opts.MountOptions) > 0 {
		return nil, fmt.Errorf("%s takes no mount options", driver)
	}
	if opts.Registry == "" {
		return nil, fmt.Errorf("%s: no registry to receive layers from (drivers.Options.Registry)", driver)
	}
	return Open(ctx, driver, Spec(opts, backing.Ext4), func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		proxy, err := registry.NewProxy(opts.Registry, network.Profile{Name: "loopback"})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", driver, err)
		}
		undo.Push("stop the proxy", proxy.Close)
		sn, err := newSn(filepath.Join(b.Path, family), proxy.Addr)
		if err != nil {
			return nil, fmt.Errorf("%s: new snapshotter: %w", driver, err)
		}
		inner := New(Config{Driver: driver, Snapshotter: sn, Backing: b, Undo: undo})
		return wrap(Remote{Inner: inner, Proxy: proxy, Root: b.Path}), nil
	})
}
