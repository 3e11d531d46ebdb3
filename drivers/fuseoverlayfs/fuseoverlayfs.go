// Package fuseoverlayfs is containerd's fuse-overlayfs snapshotter
// (github.com/containerd/fuse-overlayfs-snapshotter/v2) on a backing filesystem of its own.
//
// The snapshotter lays snapshots out as the overlay snapshotter does (an upper and a work dir per
// snapshot), but a stack is a "fuse3.fuse-overlayfs" mount: containerd runs the mount.fuse3 helper,
// which starts a fuse-overlayfs daemon that merges the dirs in user space. The daemon daemonises
// (re-parented to PID 1) and exits on its own once its mount is gone, lingering briefly as a zombie
// until PID 1 reaps it. So Unmount checks the mount is gone (mountinfo) and does not wait for the
// process; Close makes sure no fuse-overlayfs process serving this instance is left, killing any
// survivor and reporting it as an error. A snapshot without parent, and a view of one layer, are bind
// mounts, as with overlay.
package fuseoverlayfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	fuseoverlayfs "github.com/containerd/fuse-overlayfs-snapshotter/v2"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Family is the driver family name; SnapshotterPackage the Go package it wraps and SnapshotterModule
// its module.
const (
	Family             = "fuse-overlayfs"
	SnapshotterPackage = "github.com/containerd/fuse-overlayfs-snapshotter/v2"
	SnapshotterModule  = SnapshotterPackage
)

// snapshotterFallback is the version go.mod pins, for binaries without module information.
const snapshotterFallback = "v2.1.7"

// DefaultBacking is ext4, as for overlayfs: a copy-up is a real copy.
const DefaultBacking = backing.Ext4

// Binary is the FUSE daemon; mountHelper the program containerd runs to start it.
const (
	Binary      = "fuse-overlayfs"
	mountHelper = "mount.fuse3"
)

// daemonExitTimeout bounds how long Close waits for the daemons of unmounted mounts to exit.
const daemonExitTimeout = 5 * time.Second

// Driver is the fuse-overlayfs snapshotter on one kind of backing.
type Driver struct{ fsinstance.Base }

// New returns a fuse-overlayfs driver called name on a backing of kind backingFS ("" = DefaultBacking).
func New(name, backingFS string) drivers.Driver {
	return &Driver{fsinstance.Base{
		Name: name, Family: Family, Backing: backingFS, Default: DefaultBacking, Remake: New,
		// containerd runs the helper through PATH, and the helper runs the daemon through PATH.
		Needs: fsinstance.Needs{
			MountOptions: fsinstance.NoMountOptions("fuse-overlayfs mounts are made by the snapshotter and take none"),
			Root:         "mounting FUSE filesystems for other users' files needs root",
			Files:        []fsinstance.File{{Path: "/dev/fuse", Missing: "no /dev/fuse", Fix: "modprobe fuse (and in a container, pass --device /dev/fuse)"}},
			FS:           []fsinstance.KernelFS{{Name: "fuse", Fix: "modprobe fuse, or use a kernel with CONFIG_FUSE_FS"}},
			Tools: []fsinstance.Tool{
				{Name: Binary, Package: "fuse-overlayfs fuse3", InPATH: true},
				{Name: mountHelper, Package: "fuse-overlayfs fuse3", InPATH: true},
			},
		},
	}}
}

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	return drivers.Info{
		Name:   d.Name,
		Family: Family,
		Description: "containerd fuse-overlayfs snapshotter: overlay-style upper/work dirs merged in user space by a " +
			"fuse-overlayfs daemon per mount; bind mounts for a single layer",
		Snapshotter:  SnapshotterPackage,
		Version:      drivers.ModuleVersion(SnapshotterModule, snapshotterFallback),
		Backing:      d.BackingFS(drivers.Options{}),
		Capabilities: drivers.Capabilities{FUSE: true, Overlay: true, PerMountCache: true},
	}
}

// Check reports whether the driver can run here: root, /dev/fuse, the fuse filesystem, the
// fuse-overlayfs daemon and containerd's mount helper, the backing's tools, and the snapshotter's own
// probe (a read-only fuse-overlayfs over two lower dirs) on a scratch directory.
func (d *Driver) Check(ctx context.Context) error {
	if err := d.CheckOpen(drivers.Options{}); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "seedbench-"+d.Name+"-check-")
	if err != nil {
		return fmt.Errorf("%s: check: %w", d.Name, err)
	}
	err = probe(tmp)
	if rerr := os.RemoveAll(tmp); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return drivers.Unsupported(d.Name, err.Error(), "apt-get install fuse-overlayfs fuse3, and make /dev/fuse usable")
	}
	return nil
}

// probe runs the snapshotter's own check in dir and makes sure it left nothing mounted or running
// (the upstream check only logs a failed unmount).
func probe(dir string) error {
	err := fuseoverlayfs.Supported(dir)
	ms, merr := backing.MountsUnder(dir)
	var left []string
	for _, m := range ms {
		if m != dir && merr == nil { // dir itself may be a mount point (the backing)
			left = append(left, m)
			_ = mount.UnmountAll(m, 0)
		}
	}
	if len(left) > 0 {
		err = errors.Join(err, fmt.Errorf("the probe left %s mounted", strings.Join(left, ", ")))
	}
	return errors.Join(err, reapDaemons(dir, daemonExitTimeout))
}

// Open makes the backing, probes fuse-overlayfs on it, and builds the snapshotter in it.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	return d.Build(ctx, opts, func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		// Every daemon of this instance has the backing's paths in its arguments and holds its dirs open:
		// none may outlive the instance, and the backing cannot be unmounted while one runs.
		undo.Push("stop fuse-overlayfs daemons", func() error { return reapDaemons(b.Path, daemonExitTimeout) })

		if err := probe(b.Path); err != nil {
			return nil, drivers.Unsupported(d.Name, fmt.Sprintf("on %s: %v", b.FS, err), "apt-get install fuse-overlayfs fuse3")
		}
		sn, err := fuseoverlayfs.NewSnapshotter(d.Root(b))
		if err != nil {
			return nil, fmt.Errorf("%s: new snapshotter: %w", d.Name, err)
		}
		return &instance{
			Instance: fsinstance.New(fsinstance.Config{Driver: d.Name, Snapshotter: sn, Backing: b, Undo: undo}),
			name:     d.Name,
		}, nil
	})
}

// instance is an fsinstance whose Unmount proves the FUSE mount is gone.
type instance struct {
	drivers.Instance
	name string
}

// Unmount unmounts target and checks mountinfo that nothing is mounted there any more. It does not
// wait for the daemon: it exits by itself once the kernel drops the connection, and Close checks.
func (i *instance) Unmount(ctx context.Context, target string) error {
	if err := i.Instance.Unmount(ctx, target); err != nil {
		return err
	}
	if mounted, err := mountinfo.Mounted(target); err != nil {
		return fmt.Errorf("%s: unmount %s: %w", i.name, target, err)
	} else if mounted {
		return fmt.Errorf("%s: unmount %s: still mounted after unmount", i.name, target)
	}
	return nil
}

// Daemons lists the running fuse-overlayfs processes whose arguments mention dir (zombies, which
// have no arguments left, are not running).
func Daemons(dir string) ([]int, error) {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return drivers.Processes(Binary, func(args []string) bool {
		return slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, dir+"/") })
	})
}

// Reap kills the fuse-overlayfs daemons serving mounts under dir (a killed run's) and waits for them
// to be gone: drivers.Reaper, for `seedbench cleanup`. Each is described as
// "fuse-overlayfs PID (command line)".
func (d *Driver) Reap(dir string) ([]string, error) {
	return drivers.Kill(func() ([]int, error) { return Daemons(dir) }, func(pid int) string { return Binary + " " + describe(pid) }, daemonExitTimeout)
}

// describe names a process: "PID (command line)".
func describe(pid int) string {
	cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return fmt.Sprintf("%d (%s)", pid, strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " "))
}

// reapDaemons waits up to timeout for the fuse-overlayfs processes serving dir to exit, then kills
// the survivors and reports them: a daemon still running means a mount was not undone.
func reapDaemons(dir string, timeout time.Duration) error {
	var pids []int
	var err error
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		if pids, err = Daemons(dir); err != nil || len(pids) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(pids) == 0 {
		return err
	}
	var desc []string
	for _, pid := range pids {
		desc = append(desc, describe(pid))
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if left, _ := Daemons(dir); len(left) == 0 {
			break
		}
	}
	return fmt.Errorf("fuse-overlayfs still running %v after its mounts were undone; killed: %s", timeout, strings.Join(desc, "; "))
}
