package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	"github.com/seedbench/seedbench/drivers"
)

// callTimeout bounds every call the driver makes to a daemon outside the measured snapshot calls
// (connecting, the version, namespaces, leases, introspection): a daemon that is down or a socket
// that never answers is an error within seconds, not a hang.
const callTimeout = 5 * time.Second

// stateFile, in a driver instance's work directory, records where its snapshots are (the socket,
// the namespace, the lease), so `seedbench cleanup` can remove them from the daemon after a killed run.
const stateFile = "containerd-client.json"

// state is what stateFile holds.
type state struct {
	Socket      string `json:"socket"`
	Namespace   string `json:"namespace"`
	Lease       string `json:"lease"`
	Snapshotter string `json:"snapshotter"`
	// Private: the daemon is the run's own (cleanup kills it and drops its root with the backing).
	Private bool `json:"private,omitempty"`
}

// conn is a client connected to a daemon, in a namespace and under a lease of its own.
type conn struct {
	state
	c       *client.Client
	version client.Version
	// gone, if set, says the daemon has exited: a private daemon's snapshots went with it (its
	// root goes with the backing), so there is nothing left to list or remove.
	gone func() bool
	// explain, if set, adds what is known of the daemon to an error from it (that it died).
	explain func(error) error
	record  string // the stateFile, removed once the daemon holds nothing of the instance's
}

// daemonSocket is what a containerd socket's errors call it.
var daemonSocket = drivers.SocketOf{Name: "containerd socket", Daemon: "the daemon",
	Example: "the daemon's gRPC socket, e.g. /run/containerd/containerd.sock"}

// checkSocket says why socket cannot be a containerd daemon's (drivers.CheckSocket).
func checkSocket(socket, fix string) error { return drivers.CheckSocket(socket, daemonSocket, fix) }

// dial connects to the daemon at socket and asks its version, within callTimeout.
func dial(ctx context.Context, socket string) (*client.Client, client.Version, error) {
	c, err := client.New(socket, client.WithTimeout(callTimeout))
	if err != nil {
		return nil, client.Version{}, fmt.Errorf("containerd at %s: %w", socket, err)
	}
	vctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	v, err := c.Version(vctx)
	if err != nil {
		_ = c.Close()
		if errors.Is(vctx.Err(), context.DeadlineExceeded) {
			return nil, client.Version{}, fmt.Errorf("containerd at %s did not answer within %v: is it a containerd gRPC socket, and is the daemon alive? (%v)", socket, callTimeout, err)
		}
		return nil, client.Version{}, fmt.Errorf("containerd at %s: version: %w", socket, err)
	}
	return c, v, nil
}

// namespaceOf is the namespace a driver instance working in workDir uses: its own, so two drivers
// (or two runs) on one daemon never see each other's snapshots.
func namespaceOf(workDir string) string {
	abs, _ := filepath.Abs(workDir)
	sum := sha256.Sum256([]byte(abs))
	return "seedbench-" + hex.EncodeToString(sum[:6])
}

// connect dials socket, makes the instance's namespace and lease (so the daemon's garbage collector
// leaves its snapshots alone), checks the daemon serves snapshotter, and records all of it in
// workDir's stateFile first, so a killed run's leftovers can be found.
func connect(ctx context.Context, socket, snapshotter, workDir string, private bool) (_ *conn, err error) {
	c, v, err := dial(ctx, socket)
	if err != nil {
		return nil, err
	}
	ns := namespaceOf(workDir)
	cn := &conn{state: state{Socket: socket, Namespace: ns, Lease: ns, Snapshotter: snapshotter, Private: private}, c: c, version: v,
		record: filepath.Join(workDir, stateFile)}
	defer func() {
		if err != nil {
			err = errors.Join(err, cn.close(context.WithoutCancel(ctx)))
		}
	}()
	b, _ := json.MarshalIndent(cn.state, "", "  ")
	if err := os.WriteFile(cn.record, append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	labels := map[string]string{"seedbench/workdir": workDir}
	// containerd 1.6 publishes the namespace's creation as an event of that namespace: it must be in
	// the context.
	if err := c.NamespaceService().Create(namespaces.WithNamespace(cctx, ns), ns, labels); err != nil && !errdefs.IsAlreadyExists(err) {
		return nil, fmt.Errorf("containerd at %s: create namespace %s: %w", socket, ns, err)
	}
	if _, err := c.LeasesService().Create(namespaces.WithNamespace(cctx, ns), leases.WithID(ns), leases.WithLabels(labels)); err != nil && !errdefs.IsAlreadyExists(err) {
		return nil, fmt.Errorf("containerd at %s: create lease %s: %w", socket, ns, err)
	}
	// A name the daemon has no snapshotter for is an error here, at Open, not at the first Prepare.
	if _, err := cn.snapshotter().Stat(cctx, "seedbench-probe"); err != nil && !errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("containerd %s at %s has no snapshotter %q: %w (fix: enable the snapshotter plugin in the daemon's config, or name one it has)", v.Version, socket, snapshotter, err)
	}
	return cn, nil
}

// snapshotter is the daemon's snapshotter as the instance uses it: every call in its namespace and
// under its lease.
func (cn *conn) snapshotter() snapshots.Snapshotter {
	return &scoped{Snapshotter: cn.c.SnapshotService(cn.Snapshotter), ns: cn.Namespace, lease: cn.Lease, gone: cn.gone, explain: cn.explain}
}

// root is where the daemon keeps the snapshotter's files, as its introspection reports it.
func (cn *conn) root(ctx context.Context) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := cn.c.IntrospectionService().Plugins(cctx, fmt.Sprintf(`type==%q,id==%q`, "io.containerd.snapshotter.v1", cn.Snapshotter))
	if err != nil {
		return "", fmt.Errorf("containerd at %s: introspection: %w", cn.Socket, err)
	}
	for _, p := range resp.Plugins {
		if r := p.Exports["root"]; r != "" {
			return r, nil
		}
	}
	return "", fmt.Errorf("containerd at %s does not say where snapshotter %s keeps its files", cn.Socket, cn.Snapshotter)
}

// close removes what connect made in the daemon (every snapshot of the namespace, the lease, the
// namespace) and closes the client. Snapshots go first, one by one, as a client would remove them;
// the lease is then deleted synchronously (the daemon's garbage collection runs before it returns).
func (cn *conn) close(ctx context.Context) error {
	var errs []error
	if err := drivers.RemoveAll(ctx, cn.snapshotter()); err != nil {
		errs = append(errs, err)
	}
	cctx, cancel := context.WithTimeout(namespaces.WithNamespace(ctx, cn.Namespace), 2*callTimeout)
	defer cancel()
	if err := cn.c.LeasesService().Delete(cctx, leases.Lease{ID: cn.Lease}, leases.SynchronousDelete); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("containerd at %s: delete lease %s: %w", cn.Socket, cn.Lease, err))
	}
	if err := cn.c.NamespaceService().Delete(cctx, cn.Namespace); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("containerd at %s: delete namespace %s: %w", cn.Socket, cn.Namespace, err))
	}
	errs = append(errs, cn.c.Close())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := os.Remove(cn.record); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// scoped runs every call of a daemon's snapshotter in a namespace and under a lease.
type scoped struct {
	snapshots.Snapshotter
	ns, lease string
	gone      func() bool
	// explain, if set, adds what is known of the daemon to an error (it died, and how).
	explain func(error) error
}

func (s *scoped) wrap(err error) error {
	if err != nil && s.explain != nil {
		return s.explain(err)
	}
	return err
}

func (s *scoped) ctx(ctx context.Context) context.Context {
	return leases.WithLease(namespaces.WithNamespace(ctx, s.ns), s.lease)
}

func (s *scoped) Stat(ctx context.Context, key string) (snapshots.Info, error) {
	info, err := s.Snapshotter.Stat(s.ctx(ctx), key)
	return info, s.wrap(err)
}

func (s *scoped) Update(ctx context.Context, info snapshots.Info, fieldpaths ...string) (snapshots.Info, error) {
	info, err := s.Snapshotter.Update(s.ctx(ctx), info, fieldpaths...)
	return info, s.wrap(err)
}

func (s *scoped) Usage(ctx context.Context, key string) (snapshots.Usage, error) {
	u, err := s.Snapshotter.Usage(s.ctx(ctx), key)
	return u, s.wrap(err)
}

func (s *scoped) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	ms, err := s.Snapshotter.Mounts(s.ctx(ctx), key)
	return ms, s.wrap(err)
}

func (s *scoped) Prepare(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	ms, err := s.Snapshotter.Prepare(s.ctx(ctx), key, parent, opts...)
	return ms, s.wrap(err)
}

func (s *scoped) View(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	ms, err := s.Snapshotter.View(s.ctx(ctx), key, parent, opts...)
	return ms, s.wrap(err)
}

func (s *scoped) Commit(ctx context.Context, name, key string, opts ...snapshots.Opt) error {
	return s.wrap(s.Snapshotter.Commit(s.ctx(ctx), name, key, opts...))
}

func (s *scoped) Remove(ctx context.Context, key string) error {
	return s.wrap(s.Snapshotter.Remove(s.ctx(ctx), key))
}

func (s *scoped) Walk(ctx context.Context, fn snapshots.WalkFunc, filters ...string) error {
	if s.gone != nil && s.gone() {
		return nil
	}
	return s.wrap(s.Snapshotter.Walk(s.ctx(ctx), fn, filters...))
}

// Cleanup asks the daemon to reclaim what removed snapshots left (its garbage collection).
func (s *scoped) Cleanup(ctx context.Context) error {
	if s.gone != nil && s.gone() {
		return nil
	}
	if c, ok := s.Snapshotter.(snapshots.Cleaner); ok {
		// The daemon's snapshotter reclaims through its garbage collector, not on request.
		if err := c.Cleanup(s.ctx(ctx)); err != nil && !errdefs.IsNotImplemented(err) {
			return err
		}
	}
	return nil
}

// Close does nothing: the client's connection is the instance's, closed with it.
func (s *scoped) Close() error { return nil }

// removeLeftovers removes what a killed run's instance left in the daemon stateFile names: its
// snapshots, its lease and its namespace. A daemon that is gone (a private one, killed) leaves
// nothing to remove.
func removeLeftovers(ctx context.Context, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if st.Private {
		return "", nil
	}
	if err := checkSocket(st.Socket, "start the daemon again, then run seedbench cleanup"); err != nil {
		return "", err
	}
	c, _, err := dial(ctx, st.Socket)
	if err != nil {
		return "", err
	}
	cn := &conn{state: st, c: c, record: path}
	if err := cn.close(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("namespace %s (its snapshots and lease) from the containerd at %s", st.Namespace, st.Socket), nil
}
