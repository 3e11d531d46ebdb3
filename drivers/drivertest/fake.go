package drivertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/plugins/snapshots/native"

	"github.com/seedbench/seedbench/drivers"
)

// Fake returns a rootless test double of a driver, for testing the engine's phases, sampling,
// recorder and reports with `go test` as any user: containerd's native snapshotter in a plain
// directory (no backing filesystem of its own), whose mounts are simulated by moving the snapshot's
// directory to the mount target and back (native's mounts are bind mounts of that directory, so the
// container sees the same files). It is never registered, measured or reported as a driver: its
// timings are of the test machine's directory renames, not of a mount.
func Fake(name string) drivers.Driver { return &fake{name: name} }

type fake struct{ name string }

func (f *fake) Info() drivers.Info {
	return drivers.Info{
		Name: f.name, Family: "fake", Backing: "dir",
		Description:  "test double: containerd's native snapshotter in a directory, mounts simulated by renames",
		Snapshotter:  "github.com/containerd/containerd/v2/plugins/snapshots/native",
		Version:      drivers.ContainerdVersion(),
		Capabilities: drivers.Capabilities{FullCopy: true},
	}
}

func (f *fake) Check(context.Context) error { return nil }

func (f *fake) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	root := filepath.Join(opts.WorkDir, "backing")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	sn, err := native.NewSnapshotter(filepath.Join(root, "native"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.name, err)
	}
	return &fakeInstance{sn: sn, root: root, moved: map[string]string{}}, nil
}

type fakeInstance struct {
	sn    snapshots.Snapshotter
	root  string
	mu    sync.Mutex
	moved map[string]string // mount target → the snapshot directory moved there
}

func (i *fakeInstance) Snapshotter() snapshots.Snapshotter { return i.sn }

// Mount moves the bind mount's source directory to target (an empty directory on the same
// filesystem).
func (i *fakeInstance) Mount(_ context.Context, ms []mount.Mount, target string) error {
	if len(ms) != 1 || ms[0].Type != "bind" {
		return fmt.Errorf("fake: want one bind mount, got %v", ms)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, ok := i.moved[target]; ok {
		return fmt.Errorf("fake: %s is already mounted", target)
	}
	if err := os.Remove(target); err != nil {
		return err
	}
	if err := os.Rename(ms[0].Source, target); err != nil {
		return errors.Join(err, os.Mkdir(target, 0o755))
	}
	i.moved[target] = ms[0].Source
	return nil
}

// Unmount moves the snapshot's directory back and leaves target an empty directory.
func (i *fakeInstance) Unmount(_ context.Context, target string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	src, ok := i.moved[target]
	if !ok {
		return fmt.Errorf("fake: %s is not mounted", target)
	}
	if err := os.Rename(target, src); err != nil {
		return err
	}
	delete(i.moved, target)
	return os.Mkdir(target, 0o755)
}

func (i *fakeInstance) Backing() drivers.Backing {
	return drivers.Backing{FS: "dir", Path: i.root, Dedicated: false}
}

func (i *fakeInstance) Close(ctx context.Context) error {
	i.mu.Lock()
	var errs []error
	for target, src := range i.moved {
		if err := os.Rename(target, src); err != nil {
			errs = append(errs, err)
		}
		delete(i.moved, target)
	}
	i.mu.Unlock()
	errs = append(errs, drivers.RemoveAll(ctx, i.sn), i.sn.Close(), os.RemoveAll(i.root))
	return errors.Join(errs...)
}
