package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/core/snapshots/proxy"
	"github.com/containerd/containerd/v2/defaults"
	"github.com/containerd/containerd/v2/pkg/dialer"
	"github.com/containerd/containerd/v2/pkg/filters"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seedbench/seedbench/drivers"
)

// callTimeout bounds the calls the driver makes outside the measured snapshot calls (the probe at
// Open, cleanup's): a socket that never answers is an error within seconds, not a hang.
const callTimeout = 5 * time.Second

// probeKey is the snapshot the probe at Open stats: no snapshotter holds it, so a live snapshots
// service answers "not found".
const probeKey = "seedbench-probe"

// stateFile, in the work directory of an instance at a user's socket, records the socket and the
// key prefix of its snapshots, so `seedbench cleanup` can remove them after a killed run.
const stateFile = "proxy-client.json"

// state is what stateFile holds.
type state struct {
	Socket string `json:"socket"`
	// Scope is the namespace the calls carry, and (with a slash) the prefix of every key.
	Scope string `json:"scope"`
}

// conn is a gRPC connection to a snapshots service, with the scope the instance's snapshots live in.
type conn struct {
	state
	name string // the snapshotter name the requests carry (the proxy plugin's, in containerd)
	cc   *grpc.ClientConn
	// gone, if set, says the server has exited (a private one): its snapshots went with it, so
	// there is nothing left to list or remove.
	gone func() bool
	// explain adds to an error what is known of the server: that it died, or stopped answering.
	explain func(error) error
	record  string // stateFile ("" = none: a private server's snapshots go with its backing)
}

// proxySocket is what a proxy socket's errors call it.
var proxySocket = drivers.SocketOf{Name: "proxy socket", Daemon: "the snapshotter's daemon",
	Example: "the snapshotter's gRPC socket, e.g. /run/containerd-nydus/containerd-nydus-grpc.sock"}

// checkSocket says why socket cannot be a proxy snapshotter's (drivers.CheckSocket).
func checkSocket(socket, fix string) error { return drivers.CheckSocket(socket, proxySocket, fix) }

// scopeOf is the scope of an instance working in workDir: its own, so two instances (or two runs)
// at one snapshotter never see each other's snapshots.
func scopeOf(workDir string) string {
	abs, _ := filepath.Abs(workDir)
	sum := sha256.Sum256([]byte(abs))
	return "seedbench-" + hex.EncodeToString(sum[:6])
}

// dial opens a gRPC connection to socket with the options containerd dials its proxy plugins with
// (cmd/containerd/server: insecure credentials on a unix socket, its dialer, backoff up to 3 s, its
// message size limits), then probes it: a Stat within callTimeout that a snapshots service answers
// "not found".
func dial(ctx context.Context, socket, name, scope string) (*conn, error) {
	bo := backoff.DefaultConfig
	bo.MaxDelay = 3 * time.Second
	cc, err := grpc.NewClient(dialer.DialAddress(socket),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo}),
		grpc.WithContextDialer(dialer.ContextDialer),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(defaults.DefaultMaxRecvMsgSize)),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(defaults.DefaultMaxSendMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("proxy snapshotter at %s: %w", socket, err)
	}
	cn := &conn{state: state{Socket: socket, Scope: scope}, name: name, cc: cc}
	pctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err = cn.snapshotter().Stat(pctx, probeKey)
	switch {
	case err == nil, errdefs.IsNotFound(err):
		return cn, nil
	case errors.Is(pctx.Err(), context.DeadlineExceeded) || nearDeadline(pctx):
		err = fmt.Errorf("proxy snapshotter at %s did not answer within %v: is it a snapshotter's gRPC socket, and is its daemon alive? (%v)", socket, callTimeout, err)
	case errdefs.IsUnavailable(err):
		// containerd's dial parameters give the gRPC handshake a second: a socket that accepts and
		// never answers fails here, after it.
		err = fmt.Errorf("proxy snapshotter at %s does not answer: it accepts connections but no gRPC call goes through (is it a snapshotter's gRPC socket, and is its daemon alive?): %v", socket, err)
	case errdefs.IsNotImplemented(err):
		err = fmt.Errorf("proxy socket %s serves gRPC but no snapshots service: give a snapshotter's socket (%v)", socket, err)
	default:
		err = fmt.Errorf("proxy snapshotter at %s: probe: %w", socket, err)
	}
	return nil, errors.Join(err, cc.Close())
}

// nearDeadline reports whether ctx's deadline is all but passed: a server that gives up on the call
// when the deadline it was sent passes answers a moment before the client's own timer fires.
func nearDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < 100*time.Millisecond
}

// snapshotter is the service as the instance uses it: containerd's proxy client, every call in the
// instance's scope.
func (cn *conn) snapshotter() *scoped {
	return &scoped{sn: proxy.NewSnapshotter(snapshotsapi.NewSnapshotsClient(cn.cc), cn.name), ns: cn.Scope, prefix: cn.Scope + "/",
		gone: cn.gone, explain: cn.explain}
}

// writeRecord records where the instance's snapshots are, before it makes any.
func (cn *conn) writeRecord(workDir string) error {
	cn.record = filepath.Join(workDir, stateFile)
	b, _ := json.MarshalIndent(cn.state, "", "  ")
	return os.WriteFile(cn.record, append(b, '\n'), 0o600)
}

// close removes every snapshot of the instance's scope still in the service (unless the server is
// gone), closes the connection and drops the record once nothing is left.
func (cn *conn) close(ctx context.Context) error {
	var errs []error
	if cn.gone == nil || !cn.gone() {
		cctx, cancel := context.WithTimeout(ctx, 12*callTimeout)
		if err := drivers.RemoveAll(cctx, cn.snapshotter()); err != nil {
			errs = append(errs, fmt.Errorf("proxy snapshotter at %s: remove the snapshots of %s: %w", cn.Socket, cn.Scope, err))
		}
		cancel()
	}
	errs = append(errs, cn.cc.Close())
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if cn.record != "" {
		if err := os.Remove(cn.record); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// removeLeftovers removes the snapshots a killed run's instance left at the socket the record at
// path names, and the record.
func removeLeftovers(ctx context.Context, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil || st.Socket == "" || st.Scope == "" {
		return "", fmt.Errorf("%s: not a proxy client record (%v)", path, err)
	}
	if err := checkSocket(st.Socket, "start the snapshotter's daemon again, then run seedbench cleanup"); err != nil {
		return "", err
	}
	cn, err := dial(ctx, st.Socket, "", st.Scope)
	if err != nil {
		return "", err
	}
	n := 0
	_ = cn.snapshotter().Walk(ctx, func(context.Context, snapshots.Info) error { n++; return nil })
	cn.record = path
	if err := cn.close(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d snapshots %s/… from the proxy snapshotter at %s", n, st.Scope, st.Socket), nil
}

// scoped is a snapshotter behind a proxy socket as one instance sees it. containerd's metadata
// store does the same in front of every proxy plugin: it prefixes each key with a namespace of its
// own, filters what the service lists to that prefix, and carries the namespace in the requests'
// gRPC metadata. The instance's keys are prefixed with its scope, so it never touches, nor removes,
// another client's snapshots.
type scoped struct {
	sn      snapshots.Snapshotter
	ns      string
	prefix  string
	gone    func() bool
	explain func(error) error
}

func (s *scoped) ctx(ctx context.Context) context.Context { return namespaces.WithNamespace(ctx, s.ns) }

func (s *scoped) key(k string) string {
	if k == "" {
		return ""
	}
	return s.prefix + k
}

func (s *scoped) unkey(k string) string { return strings.TrimPrefix(k, s.prefix) }

func (s *scoped) info(i snapshots.Info) snapshots.Info {
	i.Name, i.Parent = s.unkey(i.Name), s.unkey(i.Parent)
	return i
}

func (s *scoped) wrap(err error) error {
	if err != nil && s.explain != nil {
		return s.explain(err)
	}
	return err
}

func (s *scoped) Stat(ctx context.Context, key string) (snapshots.Info, error) {
	info, err := s.sn.Stat(s.ctx(ctx), s.key(key))
	if err != nil {
		return snapshots.Info{}, s.wrap(err)
	}
	return s.info(info), nil
}

func (s *scoped) Update(ctx context.Context, info snapshots.Info, fieldpaths ...string) (snapshots.Info, error) {
	info.Name, info.Parent = s.key(info.Name), s.key(info.Parent)
	info, err := s.sn.Update(s.ctx(ctx), info, fieldpaths...)
	if err != nil {
		return snapshots.Info{}, s.wrap(err)
	}
	return s.info(info), nil
}

func (s *scoped) Usage(ctx context.Context, key string) (snapshots.Usage, error) {
	u, err := s.sn.Usage(s.ctx(ctx), s.key(key))
	return u, s.wrap(err)
}

func (s *scoped) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	ms, err := s.sn.Mounts(s.ctx(ctx), s.key(key))
	return ms, s.wrap(err)
}

func (s *scoped) Prepare(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	ms, err := s.sn.Prepare(s.ctx(ctx), s.key(key), s.key(parent), opts...)
	return ms, s.wrap(err)
}

func (s *scoped) View(ctx context.Context, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	ms, err := s.sn.View(s.ctx(ctx), s.key(key), s.key(parent), opts...)
	return ms, s.wrap(err)
}

func (s *scoped) Commit(ctx context.Context, name, key string, opts ...snapshots.Opt) error {
	return s.wrap(s.sn.Commit(s.ctx(ctx), s.key(name), s.key(key), opts...))
}

func (s *scoped) Remove(ctx context.Context, key string) error {
	return s.wrap(s.sn.Remove(s.ctx(ctx), s.key(key)))
}

// Walk lists the scope's snapshots. The service lists all of its own; the filters apply here, to
// the names without the prefix, as containerd's metadata store applies them.
func (s *scoped) Walk(ctx context.Context, fn snapshots.WalkFunc, fs ...string) error {
	if s.gone != nil && s.gone() {
		return nil
	}
	filter, err := filters.ParseAll(fs...)
	if err != nil {
		return err
	}
	return s.wrap(s.sn.Walk(s.ctx(ctx), func(ctx context.Context, info snapshots.Info) error {
		if !strings.HasPrefix(info.Name, s.prefix) {
			return nil
		}
		info = s.info(info)
		if !filter.Match(adapt(info)) {
			return nil
		}
		return fn(ctx, info)
	}))
}

// Cleanup asks the service to reclaim what removed snapshots left, where it can.
func (s *scoped) Cleanup(ctx context.Context) error {
	if s.gone != nil && s.gone() {
		return nil
	}
	if c, ok := s.sn.(snapshots.Cleaner); ok {
		if err := c.Cleanup(s.ctx(ctx)); err != nil && !errdefs.IsNotImplemented(err) {
			return s.wrap(err)
		}
	}
	return nil
}

// Close does nothing: the connection is the instance's, closed with it.
func (s *scoped) Close() error { return nil }

// adapt exposes a snapshot's fields to a filter, as containerd's metadata store does (kind, name,
// parent, labels.KEY).
func adapt(info snapshots.Info) filters.Adaptor {
	return filters.AdapterFunc(func(fieldpath []string) (string, bool) {
		if len(fieldpath) == 0 {
			return "", false
		}
		switch fieldpath[0] {
		case "kind":
			switch info.Kind {
			case snapshots.KindActive:
				return "active", true
			case snapshots.KindView:
				return "view", true
			case snapshots.KindCommitted:
				return "committed", true
			}
		case "name":
			return info.Name, true
		case "parent":
			return info.Parent, true
		case "labels":
			if len(info.Labels) == 0 {
				return "", false
			}
			v, ok := info.Labels[strings.Join(fieldpath[1:], ".")]
			return v, ok
		}
		return "", false
	})
}

// unanswered adds to err, from a call to the snapshotter at socket, that the service is no longer
// there, when that is what the error says.
func unanswered(socket string) func(error) error {
	return func(err error) error {
		if errdefs.IsUnavailable(err) {
			return fmt.Errorf("the proxy snapshotter at %s stopped answering (has its daemon died?): %w", socket, err)
		}
		return err
	}
}
