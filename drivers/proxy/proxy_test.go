package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/v2/core/snapshots"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/drivers/overlayfs"
)

// served is what the test binary's private servers serve, as the seedbench binary's do from its
// whole catalogue.
func served() *drivers.Catalog {
	c, _ := drivers.NewCatalog(overlayfs.New("overlayfs", nil, ""))
	return c
}

// TestMain runs the test binary as a private server when a proxy-overlayfs instance starts it as one.
func TestMain(m *testing.M) {
	if child, err := ChildMain(served()); child {
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", ChildName, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func proxyOverlayfs() *Driver { return New("proxy-overlayfs", overlayfs.New("overlayfs", nil, "")) }

// proxy-overlayfs passes the conformance suite — containerd's own snapshotter tests through the
// proxy client and a private server process, then seedbench's lifecycle checks — and leaves no
// server running.
func TestConformance(t *testing.T) {
	d := proxyOverlayfs()
	// The suite expects what overlayfs does: renames of lower directories fail with EXDEV.
	drivertest.Run(t, d, drivertest.Config{SuiteName: "overlayfs"})
	if left := suiteServers(t); len(left) > 0 {
		t.Errorf("servers left running: %v", left)
	}
	if i := d.Info(); i.Options["in_process"] != "overlayfs" || !i.Capabilities.Proxy || !i.Capabilities.Overlay || i.Backing != "ext4" {
		t.Errorf("info: %+v", i)
	}
}

// suiteServers lists the private servers still running under the suite's directories (drivertest
// names them seedbench-NAME-* and seedbench-suite-NAME-* in the temp directory).
func suiteServers(t *testing.T) []int {
	t.Helper()
	var all []int
	for _, prefix := range []string{"seedbench-proxy-overlayfs-", "seedbench-suite-proxy-overlayfs-"} {
		dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
		for _, dir := range dirs {
			pids, err := Servers(dir)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, pids...)
		}
	}
	return all
}

// listen serves overlayfs at a socket of a fresh directory, as `seedbench serve` does, and stops
// it when the test ends, checking it left nothing.
func listen(t *testing.T) (*Server, string) {
	t.Helper()
	drivertest.RequireSupported(t, overlayfs.New("overlayfs", nil, ""))
	root, err := os.MkdirTemp("", "seedbench-serve-")
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(root, "snapshots.sock")
	srv, err := Listen(context.Background(), overlayfs.New("overlayfs", nil, ""), socket,
		drivers.Options{WorkDir: filepath.Join(root, "w"), BackingSize: drivertest.DefaultBackingSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s left after close: %v", socket, err)
		}
		drivertest.AssertNoLeaks(t, root)
	})
	return srv, socket
}

// A driver at a `seedbench serve` socket measures the snapshotter behind it: every lifecycle step
// through the socket, its backing hidden, its snapshots under its own prefix; another client's
// snapshot is left alone, and its own are gone when it closes.
func TestServeAndVariant(t *testing.T) {
	srv, socket := listen(t)
	ctx := context.Background()
	theirs := srv.Instance.Snapshotter()
	if _, err := theirs.Prepare(ctx, "someone-elses", ""); err != nil {
		t.Fatal(err)
	}
	d, err := proxyOverlayfs().Variant(drivers.Spec{Name: "served", Socket: socket})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if i := d.Info(); i.Options["socket"] != socket || i.Options["in_process"] != "overlayfs" || !i.Capabilities.Proxy {
		t.Errorf("info: %+v", i)
	}
	t.Run("lifecycle", func(t *testing.T) {
		env := drivertest.Open(t, d, drivers.Options{})
		if b := env.Instance.Backing(); b.Hidden == "" || !strings.Contains(b.Hidden, socket) || b.Path != "" {
			t.Errorf("backing at a user's socket = %+v, want hidden, naming the socket", b)
		}
		if _, err := os.Stat(filepath.Join(env.WorkDir, stateFile)); err != nil {
			t.Errorf("no record for cleanup: %v", err)
		}
		// The instance's keys are under its scope in the server.
		if _, err := env.Instance.Snapshotter().Prepare(ctx, "mine", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := theirs.Stat(ctx, scopeOf(env.WorkDir)+"/mine"); err != nil {
			t.Errorf("the instance's snapshot in the server: %v", err)
		}
		if err := env.Instance.Snapshotter().Remove(ctx, "mine"); err != nil {
			t.Fatal(err)
		}
		drivertest.Lifecycle(t, env)
	})
	var names []string
	if err := theirs.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		names = append(names, info.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "someone-elses" {
		t.Errorf("snapshots in the server after the instance closed: %v, want only someone-elses", names)
	}
	if err := theirs.Remove(ctx, "someone-elses"); err != nil {
		t.Fatal(err)
	}
}

// firstLine is an error's first line: what a run's report shows of it.
func firstLine(err error) string { line, _, _ := strings.Cut(err.Error(), "\n"); return line }

// Each fault at a user's socket is an error naming the socket and the fix, within seconds.
func TestFaults(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := t.TempDir()
	notSocket := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(notSocket, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A socket that accepts and never answers.
	hung := filepath.Join(dir, "hung.sock")
	l, err := net.Listen("unix", hung)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	// A snapshots service that takes the call and never returns it.
	stalled := filepath.Join(dir, "stalled.sock")
	sl, err := net.Listen("unix", stalled)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	snapshotsapi.RegisterSnapshotsServer(gs, stallingService{})
	go gs.Serve(sl)
	defer gs.Stop()
	missing := filepath.Join(dir, "gone.sock")
	for _, tc := range []struct {
		name, socket, want string
	}{
		{"missing", missing, "x: proxy socket " + missing + " does not exist: is the snapshotter's daemon running? (fix: start the snapshotter's daemon, or name its socket)"},
		{"not a socket", notSocket, "x: proxy socket " + notSocket + " is not a socket but a regular file: give the snapshotter's gRPC socket, e.g. /run/containerd-nydus/containerd-nydus-grpc.sock"},
		{"hung", hung, "x: proxy snapshotter at " + hung + " does not answer: it accepts connections but no gRPC call goes through (is it a snapshotter's gRPC socket, and is its daemon alive?): "},
		{"stalled", stalled, "x: proxy snapshotter at " + stalled + " did not answer within 5s: is it a snapshotter's gRPC socket, and is its daemon alive? ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			t0 := time.Now()
			inst, err := AtSocket("x", tc.socket, "").Open(context.Background(), drivers.Options{WorkDir: filepath.Join(root, "w")})
			took := time.Since(t0)
			if err == nil {
				inst.Close(context.Background())
				t.Fatal("opened")
			}
			t.Logf("first line %q after %v", firstLine(err), took.Round(time.Millisecond))
			if !strings.HasPrefix(firstLine(err), tc.want) {
				t.Errorf("first line %q, want %q…", firstLine(err), tc.want)
			}
			if took > callTimeout+time.Second {
				t.Errorf("took %v", took)
			}
			if _, err := os.Stat(filepath.Join(root, "w")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("work dir left: %v", err)
			}
			drivertest.AssertNoLeaks(t, root)
		})
	}
}

// A private server killed mid-run fails the next snapshot call at once, saying it died; closing the
// instance says so too and still undoes the backing.
func TestServerKilled(t *testing.T) {
	d := proxyOverlayfs()
	drivertest.RequireSupported(t, d)
	root, err := os.MkdirTemp("", "seedbench-proxy-kill-")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := d.Open(context.Background(), drivers.Options{WorkDir: filepath.Join(root, "w"), BackingSize: drivertest.DefaultBackingSize})
	if err != nil {
		t.Fatal(err)
	}
	sn := inst.Snapshotter()
	if _, err := sn.Prepare(context.Background(), "a", ""); err != nil {
		t.Fatal(err)
	}
	pids, _ := Servers(root)
	if len(pids) != 1 {
		t.Fatalf("servers under %s: %v", root, pids)
	}
	unix.Kill(pids[0], unix.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err = sn.Prepare(ctx, "b", "")
	took := time.Since(t0)
	if err == nil {
		t.Fatal("Prepare on a killed server succeeded")
	}
	t.Logf("first line %q after %v", firstLine(err), took.Round(time.Millisecond))
	want := fmt.Sprintf("the private snapshots server %d (overlayfs) has exited (signal: killed): ", pids[0])
	if !strings.HasPrefix(firstLine(err), want) || took > 2*time.Second {
		t.Errorf("Prepare after the kill: %q after %v, want %q…", firstLine(err), took, want)
	}
	err = inst.Close(context.Background())
	want = fmt.Sprintf("proxy-overlayfs: close: stop the snapshots server: the private snapshots server %d (overlayfs) had exited during the run (signal: killed): ", pids[0])
	if err == nil || !strings.HasPrefix(firstLine(err), want) {
		t.Errorf("close after the server died: %v, want %q…", err, want)
	}
	drivertest.AssertNoLeaks(t, root)
}

// A user's server killed mid-run fails the next call at once, saying the socket stopped answering.
func TestUserServerKilled(t *testing.T) {
	drivertest.RequireSupported(t, proxyOverlayfs())
	root := t.TempDir()
	srv, err := startServer(context.Background(), "overlayfs", filepath.Join(root, "srv"), drivers.Options{WorkDir: filepath.Join(root, "served"), Backing: "dir"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	inst, err := AtSocket("x", srv.socket, "").Open(context.Background(), drivers.Options{WorkDir: filepath.Join(root, "w")})
	if err != nil {
		t.Fatal(err)
	}
	sn := inst.Snapshotter()
	if _, err := sn.Prepare(context.Background(), "a", ""); err != nil {
		t.Fatal(err)
	}
	unix.Kill(srv.PID(), unix.SIGKILL)
	<-srv.Exited()
	t0 := time.Now()
	_, err = sn.Prepare(context.Background(), "b", "")
	took := time.Since(t0)
	if err == nil {
		t.Fatal("Prepare on a killed server succeeded")
	}
	t.Logf("first line %q after %v", firstLine(err), took.Round(time.Millisecond))
	want := "the proxy snapshotter at " + srv.socket + " stopped answering (has its daemon died?): "
	if !strings.HasPrefix(firstLine(err), want) || took > 2*time.Second {
		t.Errorf("Prepare after the kill: %q after %v, want %q…", firstLine(err), took, want)
	}
	if err := inst.Close(context.Background()); err == nil || !strings.Contains(err.Error(), "stopped answering") {
		t.Errorf("close after the server died: %v", err)
	}
}

// Reap kills a killed run's private servers and removes their socket links; and removes what an
// instance at a user's socket left there, from its record.
func TestReap(t *testing.T) {
	d := proxyOverlayfs()
	drivertest.RequireSupported(t, d)
	_, socket := listen(t)
	root, err := os.MkdirTemp("", "seedbench-proxy-reap-")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := d.Open(context.Background(), drivers.Options{WorkDir: filepath.Join(root, "w"), BackingSize: drivertest.DefaultBackingSize})
	if err != nil {
		t.Fatal(err)
	}
	user, err := AtSocket("x", socket, "").Open(context.Background(), drivers.Options{WorkDir: filepath.Join(root, "u")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.Snapshotter().Prepare(context.Background(), "left", ""); err != nil {
		t.Fatal(err)
	}
	done, err := d.Reap(root)
	if err != nil {
		t.Error(err)
	}
	// Other runs' dead links may go too: what must be there is this run's.
	for _, want := range []string{ChildName + " ", "removed socket link " + drivers.SocketLinks + "/",
		"removed 1 snapshots " + scopeOf(filepath.Join(root, "u")) + "/… from the proxy snapshotter at " + socket} {
		if !slices.ContainsFunc(done, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("reap did not say %q…: %q", want, done)
		}
	}
	if left, _ := Servers(root); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(root, "u", stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record left after reaping: %v", err)
	}
	inst.Close(context.Background()) // the backing
	user.Close(context.Background())
	drivertest.AssertNoLeaks(t, root)
}

// CheckListen refuses a socket it cannot serve at, naming the fix, and clears a dead server's.
func TestCheckListen(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	live := filepath.Join(dir, "live.sock")
	l, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stale := filepath.Join(dir, "stale.sock")
	sl, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	sl.(*net.UnixListener).SetUnlinkOnClose(false)
	sl.Close()
	long := "/" + strings.Repeat("x", maxSocketPath)
	for _, tc := range []struct{ socket, want string }{
		{filepath.Join(dir, "no", "s.sock"), "socket " + filepath.Join(dir, "no", "s.sock") + ": directory " + filepath.Join(dir, "no") + " does not exist (fix: mkdir -p"},
		{file, "socket " + file + " exists and is a regular file, not a socket: remove it, or choose another --socket"},
		{live, "socket " + live + " is in use: a server is listening on it (stop that server, or choose another --socket)"},
		{long, "socket " + long + " is 108 bytes long, more than a unix socket's 107: choose a shorter --socket path"},
		{stale, ""},
		{filepath.Join(dir, "new.sock"), ""},
	} {
		err := CheckListen(tc.socket)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.socket, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q…", tc.socket, err, tc.want)
		}
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a dead server's socket is still there: %v", err)
	}
}

// The catalogue's proxy, without a socket, says how to name one; its variants need one.
func TestNoSocket(t *testing.T) {
	d := AtSocket("proxy", "", "")
	err := d.Check(context.Background())
	if !errors.Is(err, drivers.ErrUnsupported) || !strings.Contains(err.Error(), "driver: proxy, socket: /run/") {
		t.Errorf("check: %v", err)
	}
	if _, err := d.Variant(drivers.Spec{Name: "n"}); err == nil || !strings.Contains(err.Error(), "add socket:") {
		t.Errorf("variant without a socket: %v", err)
	}
	if _, err := d.Variant(drivers.Spec{Name: "n", Socket: "/run/x.sock", Backing: "xfs"}); err == nil || !strings.Contains(err.Error(), "has no backing to choose") {
		t.Errorf("variant with a backing: %v", err)
	}
}

// stallingService is a snapshots service whose every Stat waits for its caller to give up.
type stallingService struct {
	snapshotsapi.UnimplementedSnapshotsServer
}

func (stallingService) Stat(ctx context.Context, _ *snapshotsapi.StatSnapshotRequest) (*snapshotsapi.StatSnapshotResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
