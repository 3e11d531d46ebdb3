// Package proxy measures snapshotters behind a proxy socket: containerd's snapshots gRPC service on a
// unix socket, the kind containerd loads through `[proxy_plugins]` and the daemons of stargz-grpc,
// nydus-snapshotter, overlaybd and SOCI serve. Every snapshot call goes through containerd's proxy
// client (core/snapshots/proxy) over a gRPC connection dialled as containerd dials its proxy
// plugins; the mounts the service returns are mounted by seedbench, as containerd's client mounts
// them.
//
//	proxy-overlayfs   containerd's overlayfs snapshotter, served by a private server process
//	proxy             a snapshotter at a socket a scenario names: {name: my-nydus, driver: proxy, socket: …}
//
// proxy-overlayfs starts the seedbench binary as a server of its own (ChildName: what `seedbench
// serve` does, in a process of its own, as a proxy plugin's daemon runs) serving the in-process
// overlayfs driver on a directory of the instance's backing — a dedicated, loop-mounted ext4 like
// the in-process driver's — so file operations run on the same filesystem, disk and page cache are
// measured as for any driver, and Info().Options["in_process"] names overlayfs for reports to pair
// it with: what the gRPC path costs, op by op. The server is stopped on every path; after a kill -9,
// `seedbench cleanup` kills it (Reap).
//
// At a user's socket the driver touches only snapshots of its own: it prefixes every key with a
// scope of its own (and carries it as the calls' namespace), as containerd's metadata store does in
// front of every proxy plugin, and removes what has that prefix when it closes — or, after a killed
// run, in `seedbench cleanup`, from the record it left in its work directory. Where such a
// snapshotter keeps its files is its own business: the instance reports a hidden backing, and the
// engine records disk and page-cache metrics as not measured instead of reading a directory it does
// not own.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Family is the driver family name; Client the Go package of the client every call goes through.
const (
	Family = "proxy"
	Client = "github.com/containerd/containerd/v2/core/snapshots/proxy"
)

// Driver is a snapshotter reached through a proxy socket: a private server's, or a user's.
type Driver struct {
	name string
	// served is the in-process driver a private server serves (nil: the user's socket).
	served drivers.Driver
	// opts are what a variant changes in the served driver's Open: its backing, its mount options.
	opts drivers.Options
	// socket is the user's snapshotter's ("" with served nil: none named yet).
	socket string
	// inProcess names the in-process driver measuring the same snapshotter ("" = unknown).
	inProcess string
}

// New returns the driver called name measuring the in-process driver served through a private
// server: proxy.New("proxy-overlayfs", overlayfs.New("overlayfs", nil, "")). The server process
// finds served by its name in the catalogue it is given (ChildMain).
func New(name string, served drivers.Driver) *Driver {
	return &Driver{name: name, served: served, inProcess: served.Info().Name}
}

// AtSocket returns the driver called name measuring the snapshotter serving socket; inProcess, if
// not "", names the in-process driver measuring the same snapshotter. Without a socket it is the
// catalogue's `proxy`, the base of the variants that name one.
func AtSocket(name, socket, inProcess string) *Driver {
	return &Driver{name: name, socket: socket, inProcess: inProcess}
}

// Socket says what a spec's socket is for this family (drivers.SocketDriver).
func (d *Driver) Socket() string {
	return "a proxy snapshotter's gRPC socket (nydus-snapshotter, overlaybd, soci-snapshotter-grpc, stargz-grpc, seedbench serve): measure the snapshotter serving it"
}

// userBacking is what Info says of the backing of a snapshotter at a user's socket.
const userBacking = "the snapshotter's own"

// hidden is why an instance at a user's socket cannot see its backing.
func hidden(socket string) string {
	return "the proxy snapshotter at " + socket + " keeps its snapshots where only it knows"
}

func (d *Driver) backingFS() string {
	if d.served == nil {
		return userBacking
	}
	if d.opts.Backing != "" {
		return d.opts.Backing
	}
	return d.served.Info().Backing
}

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	opts := map[string]string{}
	if d.inProcess != "" {
		opts["in_process"] = d.inProcess
	}
	info := drivers.Info{Name: d.name, Family: Family, Backing: d.backingFS(), Options: opts}
	if d.served == nil {
		info.Snapshotter = Client + " → the socket's"
		info.Version = "the snapshotter's"
		info.Capabilities = drivers.Capabilities{Proxy: true}
		if d.socket == "" {
			info.Description = "a snapshotter behind a proxy socket a scenario names ({name: my-nydus, driver: proxy, socket: /run/containerd-nydus/containerd-nydus-grpc.sock}): nydus, overlaybd, SOCI, stargz-grpc or seedbench serve, through containerd's proxy client"
		} else {
			opts["socket"] = d.socket
			info.Description = "the proxy snapshotter at " + d.socket + ", through containerd's proxy client, its snapshots under a key prefix of seedbench's own"
		}
		return info
	}
	s := d.served.Info()
	opts["server"] = "private seedbench serve --driver " + s.Name
	if len(d.opts.MountOptions) > 0 {
		opts["mount_options"] = strings.Join(d.opts.MountOptions, ",")
	}
	info.Snapshotter = Client + " → " + s.Name
	info.Version = s.Version
	info.Capabilities = s.Capabilities
	info.Capabilities.Proxy = true
	info.Description = fmt.Sprintf("containerd's %s snapshotter behind a snapshots gRPC socket: served by a private seedbench serve process, reached with containerd's proxy client as a proxy plugin is", s.Name)
	return info
}

// Check reports whether the driver can run here: root and the served driver's needs, or the user's
// socket answering as a snapshots service.
func (d *Driver) Check(ctx context.Context) error {
	if d.served != nil {
		if os.Geteuid() != 0 {
			return drivers.Unsupported(d.name, "the server's backing and its clients' mounts need root", "run seedbench as root")
		}
		if err := d.served.Check(ctx); err != nil {
			return err // names the served driver, and the fix
		}
		if _, err := os.Executable(); err != nil {
			return drivers.Unsupported(d.name, "cannot find the seedbench binary to run its server: "+err.Error(), "")
		}
		return nil
	}
	if d.socket == "" {
		return drivers.Unsupported(d.name, "no socket: it measures the snapshotter at a socket a scenario variant names",
			"add a variant such as {name: my-nydus, driver: proxy, socket: /run/containerd-nydus/containerd-nydus-grpc.sock} and run it")
	}
	if os.Geteuid() != 0 {
		return drivers.Unsupported(d.name, "mounting what the snapshotter returns needs root", "run seedbench as root")
	}
	if err := checkSocket(d.socket, "start the snapshotter's daemon, or name its socket"); err != nil {
		return drivers.Unsupported(d.name, err.Error(), "")
	}
	cn, err := dial(ctx, d.socket, d.name, scopeOf(os.TempDir()))
	if err != nil {
		return drivers.Unsupported(d.name, err.Error(), "")
	}
	return cn.cc.Close()
}

// Open starts the private server on a backing of the instance's own, or connects to the user's
// socket, and returns the instance reaching the snapshotter through it.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	if d.served == nil {
		return d.openUser(ctx, opts)
	}
	if err := d.Check(ctx); err != nil {
		return nil, err
	}
	return fsinstance.Open(ctx, d.name, fsinstance.Spec(opts, d.backingFS()), func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		// The server keeps its snapshotter in a directory of the backing (a "dir" backing of its
		// own there): its files are on this instance's filesystem, and a server killed mid-run
		// leaves nothing the backing's close does not take. Its socket and log stay outside.
		served := drivers.Options{WorkDir: filepath.Join(b.Path, "server"), Backing: backing.Dir,
			MountOptions: append(d.opts.MountOptions, opts.MountOptions...), ImageSize: opts.ImageSize}
		srv, err := startServer(ctx, d.served.Info().Name, filepath.Join(opts.WorkDir, "server"), served)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
		undo.Push("stop the snapshots server", srv.stop)
		cn, err := dial(ctx, srv.socket, d.name, scopeOf(opts.WorkDir))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
		cn.gone, cn.explain = srv.Dead, srv.Explain
		undo.Push("close the proxy client", func() error { return cn.close(context.Background()) })
		return fsinstance.New(fsinstance.Config{Driver: d.name, Snapshotter: cn.snapshotter(), Backing: b, Undo: undo}), nil
	})
}

// openUser connects to the user's socket: no backing of the driver's own, and none it can see.
func (d *Driver) openUser(ctx context.Context, opts drivers.Options) (_ drivers.Instance, err error) {
	if d.socket == "" || os.Geteuid() != 0 {
		return nil, d.Check(ctx)
	}
	if err := checkSocket(d.socket, "start the snapshotter's daemon, or name its socket"); err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	undo := &cleanup.Stack{}
	defer func() {
		if err != nil {
			err = errors.Join(err, undo.Unwind())
		}
	}()
	if err := fsinstance.WorkDir(undo, opts.WorkDir); err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	cn, err := dial(ctx, d.socket, d.name, scopeOf(opts.WorkDir))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	cn.explain = unanswered(d.socket)
	if err := cn.writeRecord(opts.WorkDir); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", d.name, err), cn.cc.Close())
	}
	undo.Push("remove the instance's snapshots from the proxy snapshotter", func() error { return cn.close(context.Background()) })
	return fsinstance.New(fsinstance.Config{Driver: d.name, Snapshotter: cn.snapshotter(), Undo: undo,
		Elsewhere: drivers.Backing{FS: userBacking, Hidden: hidden(d.socket)}}), nil
}

// Variant makes a variant: the snapshotter at the user's socket (no backing or mount options:
// it has its own), or, for a private server, the served driver on another backing or with more
// mount options (which the served driver's family validates).
func (d *Driver) Variant(spec drivers.Spec) (drivers.Driver, error) {
	if spec.Socket != "" {
		if err := drivers.NoChoices(spec, Family, ""); err != nil {
			return nil, err
		}
		return AtSocket(spec.Name, spec.Socket, d.inProcess), nil
	}
	if d.served == nil {
		if d.socket != "" {
			return AtSocket(spec.Name, d.socket, d.inProcess), drivers.NoChoices(spec, Family, "")
		}
		return nil, drivers.KeyError("socket", fmt.Errorf("driver %s measures the snapshotter at a socket: add socket: with its path (e.g. /run/containerd-nydus/containerd-nydus-grpc.sock), or use driver: proxy-overlayfs for a private server", d.name))
	}
	v, ok := d.served.(drivers.Variants)
	if !ok {
		return nil, drivers.KeyError("driver", fmt.Errorf("driver %s has no variants: name it alone, or give a socket", d.name))
	}
	check := spec
	check.Socket = ""
	if _, err := v.Variant(check); err != nil {
		return nil, err
	}
	out := &Driver{name: spec.Name, served: d.served, opts: d.opts}
	out.opts.MountOptions = append(append([]string(nil), d.opts.MountOptions...), spec.MountOptions...)
	if spec.Backing != "" {
		out.opts.Backing = spec.Backing
	}
	if out.opts.Backing == "" && len(out.opts.MountOptions) == 0 {
		out.inProcess = d.inProcess
	}
	return out, nil
}

// Reap kills the private servers a killed run under dir left, removes their socket links, and
// removes what its instances left at users' sockets: drivers.Reaper, for `seedbench cleanup`,
// before it unmounts anything.
func (d *Driver) Reap(dir string) ([]string, error) {
	done, err := drivers.Kill(func() ([]int, error) { return Servers(dir) },
		func(pid int) string { return fmt.Sprintf("%s %d (a private snapshots server)", ChildName, pid) }, 5*time.Second)
	errs := []error{err}
	for _, l := range drivers.StaleLinks(dir) {
		done = append(done, "removed socket link "+l)
	}
	for _, f := range drivers.Records(dir, stateFile) {
		what, err := removeLeftovers(context.Background(), f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
		} else {
			done = append(done, "removed "+what)
		}
	}
	return done, errors.Join(errs...)
}
