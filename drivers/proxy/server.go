package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/v2/contrib/snapshotservice"
	"google.golang.org/grpc"

	"github.com/seedbench/seedbench/drivers"
)

// maxSocketPath is the longest path a unix socket can be bound at (sun_path holds 108 bytes with
// the terminating NUL).
const maxSocketPath = 107

// drainTimeout is how long Close lets the clients' calls in flight finish before it cuts them off.
const drainTimeout = 5 * time.Second

// Server serves one driver instance's snapshotter as containerd's snapshots gRPC service on a unix
// socket — what a proxy plugin's daemon (stargz-grpc, nydus-snapshotter, overlaybd, SOCI) serves
// and containerd's `[proxy_plugins]` reach — with containerd's own server side of that API
// (contrib/snapshotservice). The mounts it returns are mounted by its clients, as containerd's are.
type Server struct {
	// Socket is where it serves.
	Socket string
	// Driver is the driver it serves; Instance its open instance.
	Driver   string
	Instance drivers.Instance

	gs     *grpc.Server
	served chan error // Serve's error, once it returns
	closed bool
}

// CheckListen says what stands in the way of serving at socket, and removes a socket a dead server
// left there (nothing answers on it): the directory is missing, the path is too long, it exists
// and is not a socket, or a server is listening on it.
func CheckListen(socket string) error {
	if len(socket) > maxSocketPath {
		return fmt.Errorf("socket %s is %d bytes long, more than a unix socket's %d: choose a shorter --socket path", socket, len(socket), maxSocketPath)
	}
	dir := filepath.Dir(socket)
	if fi, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("socket %s: directory %s does not exist (fix: mkdir -p %s, or choose another --socket)", socket, dir, dir)
	} else if err != nil {
		return fmt.Errorf("socket %s: %w", socket, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("socket %s: %s is not a directory: choose another --socket", socket, dir)
	}
	fi, err := os.Lstat(socket)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("socket %s: %w", socket, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("socket %s exists and is %s, not a socket: remove it, or choose another --socket", socket, drivers.FileKind(fi))
	}
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("socket %s is in use: a server is listening on it (stop that server, or choose another --socket)", socket)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("socket %s: %w", socket, err)
	}
	// Nothing listens: a dead server's socket file.
	if err := os.Remove(socket); err != nil {
		return fmt.Errorf("socket %s is left by a dead server and cannot be removed: %w", socket, err)
	}
	return nil
}

// Listen opens driver d with opts and serves its snapshotter at socket until Close. On error
// nothing is left: no instance, no socket.
func Listen(ctx context.Context, d drivers.Driver, socket string, opts drivers.Options) (_ *Server, err error) {
	name := d.Info().Name
	if err := CheckListen(socket); err != nil {
		return nil, err
	}
	inst, err := d.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, inst.Close(context.WithoutCancel(ctx)))
		}
	}()
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w (stop whatever serves there, or choose another --socket)", socket, err)
	}
	// Root's alone, as containerd's own socket is.
	if err := os.Chmod(socket, 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("socket %s: %w", socket, err), ln.Close())
	}
	s := &Server{Socket: socket, Driver: name, Instance: inst, gs: grpc.NewServer(), served: make(chan error, 1)}
	snapshotsapi.RegisterSnapshotsServer(s.gs, snapshotservice.FromSnapshotter(inst.Snapshotter()))
	go func() { s.served <- s.gs.Serve(ln) }()
	return s, nil
}

// Done is closed, or yields Serve's error, when the server stops serving on its own.
func (s *Server) Done() <-chan error { return s.served }

// Close stops serving (the calls in flight may finish, for drainTimeout), closes the instance —
// its snapshots removed, its backing unmounted and detached — and removes the socket. It is
// idempotent.
func (s *Server) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	drained := make(chan struct{})
	go func() { s.gs.GracefulStop(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
		s.gs.Stop()
		<-drained
	}
	errs := []error{s.Instance.Close(ctx)}
	if err := os.Remove(s.Socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("serve %s at %s: %w", s.Driver, s.Socket, err)
	}
	return nil
}
