// Package containerd measures snapshotters where production runs them: inside a containerd daemon,
// reached through its gRPC API with containerd's v2 Go client, behind its metadata store (bolt),
// its leases and its garbage collector. The replay is the same as for every in-process driver; the
// snapshot calls go over the daemon's socket, and the client mounts what they return, as
// containerd's own clients do.
//
//	containerd-overlayfs      a private containerd of the version seedbench links (v2.4.2), overlayfs
//	containerd-native         the same daemon, native
//	containerd1-6-overlayfs   Debian 12's containerd 1.6, overlayfs: what an upgrade to 2.4 costs
//
// By default each instance starts a private daemon of its own: its config, state and sockets in the
// driver's work directory, its root on a loop-mounted backing of its own (ext4 unless a variant says
// otherwise, as for the in-process drivers, so file operations run on the same filesystem), no CRI,
// no NRI and no snapshotter loaded but the one measured. It is stopped by its PID on every path;
// after a kill -9, `seedbench cleanup` kills it (Reap).
//
// A spec with a socket (or `seedbench run --containerd SOCKET`) measures the user's own daemon
// instead: the driver creates a namespace and a lease of its own there, and removes its snapshots,
// the lease and the namespace when it closes — or, after a killed run, in `seedbench cleanup`, from
// the record it left in its work directory. Nothing else in that daemon is touched.
//
// Info.Options records the daemon's version and the in-process driver measuring the same
// snapshotter ("in_process"), which the report pairs it with: the daemon's cost, op by op.
package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Family is the driver family name; Client the Go package the driver reaches the daemon with.
const (
	Family = "containerd"
	Client = "github.com/containerd/containerd/v2/client"
)

// Where the daemons come from. The daemon of the linked version is built from the Go module by
// scripts/build-containerd.sh into CacheDir; Debian's containerd package installs 1.6.
const (
	CacheDir  = "/var/cache/seedbench"
	DebianBin = "/usr/bin/containerd"
)

// LinkedBinary is where scripts/build-containerd.sh puts containerd of the version seedbench links.
func LinkedBinary() string {
	return filepath.Join(CacheDir, "containerd-"+drivers.ContainerdVersion(), "containerd")
}

// Daemon is which containerd a driver starts.
type Daemon struct {
	// Label is how names and descriptions call it: "" for the linked version, "1.6", …
	Label string
	// Binary is the daemon's executable; Want the version prefix it must report ("" = any).
	Binary, Want string
	// Fix is how to install it.
	Fix string
}

// The daemons seedbench runs.
var (
	Linked = Daemon{Binary: LinkedBinary(), Want: strings.TrimPrefix(drivers.ContainerdVersion(), "v"),
		Fix: "run bash scripts/build-containerd.sh (make test and make run do), which builds it from the Go module"}
	Debian16 = Daemon{Label: "1.6", Binary: DebianBin, Want: "1.6.", Fix: "apt-get install containerd (Debian 12's is 1.6)"}
)

// Variants returns the registered daemon drivers, in order.
func Variants() []drivers.Driver {
	return []drivers.Driver{
		New("containerd-overlayfs", Linked, "overlayfs", "", ""),
		New("containerd-native", Linked, "native", "", ""),
		New("containerd1-6-overlayfs", Debian16, "overlayfs", "", ""),
	}
}

// Driver is one snapshotter of one containerd.
type Driver struct {
	fsinstance.Base
	daemon      Daemon
	snapshotter string // the daemon's name for it: overlayfs, native
	socket      string // the user's daemon ("" = a private one)

	once    sync.Once
	version string // the binary's, read once
	verErr  error
}

// New returns the driver called name measuring snapshotter in daemon: a private daemon on a backing
// of kind backingFS ("" = ext4), or the user's daemon at socket.
func New(name string, daemon Daemon, snapshotter, backingFS, socket string) *Driver {
	d := &Driver{daemon: daemon, snapshotter: snapshotter, socket: socket}
	d.Base = fsinstance.Base{
		Name: name, Family: Family, Backing: backingFS, Default: backing.Ext4,
		Needs: fsinstance.Needs{
			MountOptions: fsinstance.NoMountOptions("a daemon's snapshotter mounts with its own options"),
			Root:         "a containerd daemon and its client's mounts need root",
		},
	}
	if snapshotter == "overlayfs" {
		d.Needs.FS = []fsinstance.KernelFS{{Name: "overlay", Fix: "modprobe overlay, or use a kernel with CONFIG_OVERLAY_FS"}}
	}
	return d
}

// Socket says what a spec's socket is for this family (drivers.SocketDriver).
func (d *Driver) Socket() string {
	return "a containerd daemon's gRPC socket: measure that daemon instead of a private one"
}

// inProcess is the in-process driver measuring the same snapshotter.
func (d *Driver) inProcess() string {
	if d.Backing != "" && d.Backing != backing.Ext4 {
		return d.snapshotter + "-" + d.Backing
	}
	return d.snapshotter
}

// binaryVersion is the private daemon's version, as its binary reports it.
func (d *Driver) binaryVersion() (string, error) {
	d.once.Do(func() {
		if _, err := os.Stat(d.daemon.Binary); err != nil {
			d.verErr = drivers.Unsupported(d.Name, "no containerd"+label(d.daemon)+" at "+d.daemon.Binary, d.daemon.Fix)
			return
		}
		d.version, d.verErr = binaryVersion(context.Background(), d.daemon.Binary)
		if d.verErr == nil && d.daemon.Want != "" && !strings.HasPrefix(strings.TrimPrefix(d.version, "v"), d.daemon.Want) {
			d.verErr = drivers.Unsupported(d.Name, fmt.Sprintf("%s is containerd %s, not %s", d.daemon.Binary, d.version, d.daemon.Want+"…"), d.daemon.Fix)
		}
	})
	return d.version, d.verErr
}

func label(dm Daemon) string {
	if dm.Label == "" {
		return " " + strings.TrimPrefix(drivers.ContainerdVersion(), "v")
	}
	return " " + dm.Label
}

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	opts := map[string]string{"snapshotter": d.snapshotter, "in_process": d.inProcess()}
	var desc, version string
	if d.socket != "" {
		opts["socket"] = d.socket
		desc = fmt.Sprintf("the %s snapshotter of the containerd daemon at %s, in a namespace of seedbench's own", d.snapshotter, d.socket)
		version = "the daemon's"
	} else {
		version, _ = d.binaryVersion()
		if version == "" {
			version = d.daemon.Want
		}
		opts["daemon"] = "private " + d.daemon.Binary
		desc = fmt.Sprintf("containerd%s's %s snapshotter, in a private daemon reached through its gRPC socket", label(d.daemon), d.snapshotter)
	}
	return drivers.Info{
		Name:         d.Name,
		Family:       Family,
		Description:  desc,
		Snapshotter:  Client + " → " + d.snapshotter,
		Version:      version,
		Backing:      d.BackingFS(drivers.Options{}),
		Options:      opts,
		Capabilities: drivers.Capabilities{Daemon: true, Overlay: d.snapshotter == "overlayfs", FullCopy: d.snapshotter == "native"},
	}
}

// Check reports whether the driver can run here: root, the kernel's overlay for overlayfs, and the
// daemon (its binary of the right version; or the user's socket answering).
func (d *Driver) Check(ctx context.Context) error {
	if err := d.CheckOpen(drivers.Options{}); err != nil {
		return err
	}
	if d.socket != "" {
		if err := checkSocket(d.socket, "start the daemon, or remove socket to run a private one"); err != nil {
			return drivers.Unsupported(d.Name, err.Error(), "")
		}
		c, _, err := dial(ctx, d.socket)
		if err != nil {
			return drivers.Unsupported(d.Name, err.Error(), "")
		}
		return c.Close()
	}
	_, err := d.binaryVersion()
	return err
}

// Open starts the private daemon on a backing of the driver's own, or connects to the user's, and
// returns the instance reaching its snapshotter.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	if d.socket != "" {
		return d.openUser(ctx, opts)
	}
	version, err := d.binaryVersion()
	if err != nil {
		return nil, err
	}
	major, _, ok := majorMinor(version)
	if !ok {
		return nil, fmt.Errorf("%s: cannot read the version %q of %s", d.Name, version, d.daemon.Binary)
	}
	return d.Build(ctx, opts, func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		dir := filepath.Join(opts.WorkDir, "ctd")
		root := filepath.Join(b.Path, "containerd")
		dm, err := startDaemon(ctx, d.daemon.Binary, major, root, dir, d.snapshotter, func(ctx context.Context, socket string) error {
			c, _, err := dial(ctx, socket)
			if err == nil {
				err = c.Close()
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		undo.Push("stop containerd", dm.stop)
		cn, err := connect(ctx, dm.socket, d.snapshotter, opts.WorkDir, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.Name, err)
		}
		cn.gone, cn.explain = dm.Dead, dm.Explain
		undo.Push("remove the namespace from the daemon", func() error {
			if dm.Dead() {
				// Its metadata goes with the backing: nothing to ask a dead daemon (stop says it died).
				return errors.Join(cn.c.Close(), os.Remove(cn.record))
			}
			return cn.close(context.Background())
		})
		return fsinstance.New(fsinstance.Config{Driver: d.Name, Snapshotter: cn.snapshotter(), Backing: b, Undo: undo}), nil
	})
}

// openUser connects to the user's daemon: no backing of the driver's own, the snapshotter's root as
// the daemon reports it (shared with whatever else the daemon stores: not dedicated).
func (d *Driver) openUser(ctx context.Context, opts drivers.Options) (_ drivers.Instance, err error) {
	if err := d.CheckOpen(opts); err != nil {
		return nil, err
	}
	if err := checkSocket(d.socket, "start the daemon, or remove socket to run a private one"); err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	undo := &cleanup.Stack{}
	defer func() {
		if err != nil {
			err = errors.Join(err, undo.Unwind())
		}
	}()
	if err := fsinstance.WorkDir(undo, opts.WorkDir); err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	cn, err := connect(ctx, d.socket, d.snapshotter, opts.WorkDir, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	undo.Push("remove the namespace from the daemon", func() error { return cn.close(context.Background()) })
	if d.daemon.Label != "" && !strings.HasPrefix(strings.TrimPrefix(cn.version.Version, "v"), d.daemon.Want) {
		return nil, fmt.Errorf("%s: the daemon at %s is containerd %s, not %s: use driver containerd-%s for it", d.Name, d.socket, cn.version.Version, d.daemon.Label, d.snapshotter)
	}
	root, err := cn.root(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.Name, err)
	}
	b := &backing.Backing{FS: fsType(root), Kind: backing.Dir, Path: root}
	return fsinstance.New(fsinstance.Config{Driver: d.Name, Snapshotter: cn.snapshotter(), Backing: b, Undo: undo}), nil
}

// fsType names the filesystem path is on, as statfs tells it.
func fsType(path string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "unknown"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return backing.Ext4
	case unix.XFS_SUPER_MAGIC:
		return backing.XFS
	case unix.BTRFS_SUPER_MAGIC:
		return backing.Btrfs
	case unix.TMPFS_MAGIC:
		return backing.Tmpfs
	}
	return fmt.Sprintf("fs 0x%x", st.Type)
}

// Variant makes a variant: the same daemon and snapshotter on another backing, or reached at the
// user's socket. It takes no mount options.
func (d *Driver) Variant(spec drivers.Spec) (drivers.Driver, error) {
	if err := drivers.NoChoices(drivers.Spec{MountOptions: spec.MountOptions}, Family, ""); err != nil {
		return nil, err
	}
	if spec.Socket != "" && spec.Backing != "" {
		return nil, drivers.KeyError("backing", fmt.Errorf("the daemon at %s stores its snapshots where it is configured to: remove backing", spec.Socket))
	}
	bk, err := fsinstance.VariantBacking(spec.Backing, d.Backing)
	if err != nil {
		return nil, err
	}
	socket := spec.Socket
	if socket == "" {
		socket = d.socket
	}
	// A driver named for a version measures that version only: at a socket, the daemon's version is
	// checked when it opens.
	return New(spec.Name, d.daemon, d.snapshotter, bk, socket), nil
}

// WithSocket is d reached at the user's daemon at socket (`seedbench run --containerd SOCKET`).
func (d *Driver) WithSocket(socket string) drivers.Driver {
	return New(d.Name, d.daemon, d.snapshotter, "", socket)
}

// Reap kills the private daemons a killed run under dir left and removes what its instances left
// in users' daemons: drivers.Reaper, for `seedbench cleanup`, before it unmounts anything.
func (d *Driver) Reap(dir string) ([]string, error) {
	done, err := drivers.Kill(func() ([]int, error) { return Daemons(dir) },
		func(pid int) string { return fmt.Sprintf("containerd %d (a private daemon)", pid) }, 5*time.Second)
	errs := []error{err}
	for _, l := range drivers.StaleLinks(dir) {
		done = append(done, "removed socket link "+l)
	}
	for _, f := range drivers.Records(dir, stateFile) {
		what, err := removeLeftovers(context.Background(), f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
		} else if what != "" {
			done = append(done, "removed "+what)
		}
	}
	return done, errors.Join(errs...)
}
