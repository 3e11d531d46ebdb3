// Package fsinstance is the drivers.Instance shared by drivers whose snapshotter lives on a local
// backing filesystem and whose mounts are plain mount(2) calls (overlayfs, native, btrfs, …).
package fsinstance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Config is what a driver's Open built.
type Config struct {
	Driver      string // driver name, for errors
	Snapshotter snapshots.Snapshotter
	Backing     *backing.Backing
	// Undo holds the steps that tear down the snapshotter's resources and the backing (the driver
	// pushed them while opening); Close unwinds it after removing every snapshot.
	Undo *cleanup.Stack
	// BeforeMount, if set, runs before every Mount (overlay's volatile marker is cleared there).
	BeforeMount func(mounts []mount.Mount) error
}

// New returns an Instance owning cfg's resources. Its Snapshotter's Close may be called by the user
// (containerd's test suite does); Instance.Close then skips what needs an open snapshotter.
func New(cfg Config) drivers.Instance {
	return &instance{cfg: cfg, sn: &tracked{Snapshotter: cfg.Snapshotter}, mounted: map[string]bool{}}
}

type instance struct {
	cfg     Config
	sn      *tracked
	mu      sync.Mutex
	mounted map[string]bool
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

func (i *instance) Backing() drivers.Backing { return i.cfg.Backing.Info() }

func (i *instance) Mount(ctx context.Context, mounts []mount.Mount, target string) error {
	if i.cfg.BeforeMount != nil {
		if err := i.cfg.BeforeMount(mounts); err != nil {
			return fmt.Errorf("%s: mount %s: %w", i.cfg.Driver, target, err)
		}
	}
	for _, m := range mounts {
		if err := mountOne(m, target); err != nil {
			// A list of several mounts may have been mounted in part.
			return errors.Join(fmt.Errorf("%s: mount %s: %w", i.cfg.Driver, target, err), mount.UnmountAll(target, 0))
		}
	}
	i.mu.Lock()
	i.mounted[target] = true
	i.mu.Unlock()
	return nil
}

func (i *instance) Unmount(ctx context.Context, target string) error {
	if err := mount.UnmountAll(target, 0); err != nil {
		return fmt.Errorf("%s: unmount %s: %w", i.cfg.Driver, target, err)
	}
	i.mu.Lock()
	delete(i.mounted, target)
	i.mu.Unlock()
	return nil
}

// Close unmounts whatever is still mounted through Mount, removes every snapshot, closes the
// snapshotter and drops the backing. It is idempotent.
func (i *instance) Close(ctx context.Context) error {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return nil
	}
	i.closed = true
	var targets []string
	for t := range i.mounted {
		targets = append(targets, t)
	}
	i.mounted = nil
	i.mu.Unlock()

	var errs []error
	for _, t := range targets {
		errs = append(errs, mount.UnmountAll(t, 0))
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
