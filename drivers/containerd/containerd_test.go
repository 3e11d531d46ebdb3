package containerd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
)

// Every daemon driver passes the conformance suite (containerd's own test suite through the
// client, then seedbench's lifecycle checks) against its real daemon.
func TestConformance(t *testing.T) {
	// A private daemon serves on its own sockets only, never on the host's default one.
	_, hostErr := os.Stat("/run/containerd/containerd.sock")
	defer func() {
		if _, err := os.Stat("/run/containerd/containerd.sock"); (err == nil) != (hostErr == nil) {
			t.Errorf("the host's /run/containerd/containerd.sock changed: before %v, after %v", hostErr, err)
		}
	}()
	for _, d := range Variants() {
		t.Run(d.Info().Name, func(t *testing.T) {
			// The suite expects of each snapshotter what it does: overlayfs's renames of lower
			// directories fail with EXDEV, as in process.
			drivertest.Run(t, d, drivertest.Config{SuiteName: d.Info().Options["snapshotter"]})
			if left := suiteDaemons(t, d.Info().Name); len(left) > 0 {
				t.Errorf("containerd daemons left running: %v", left)
			}
		})
	}
}

// suiteDaemons lists the private daemons still running under the conformance suite's directories
// for driver name (drivertest names them seedbench-NAME-* and seedbench-suite-NAME-* in the temp
// directory). Daemons of other packages' tests, which go test may run meanwhile, are not counted.
func suiteDaemons(t *testing.T, name string) []int {
	t.Helper()
	ours := func(config string) bool {
		for _, prefix := range []string{"seedbench-" + name + "-", "seedbench-suite-" + name + "-"} {
			if strings.HasPrefix(config, filepath.Join(os.TempDir(), prefix)) {
				return true
			}
		}
		return false
	}
	pids, err := drivers.Processes("containerd", func(args []string) bool {
		i := slices.Index(args, "--config")
		return i >= 0 && i+1 < len(args) && ours(args[i+1])
	})
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// userDaemon starts a containerd of the linked version as a user's would be (not a driver's own),
// and returns its socket; the test stops it.
func userDaemon(t *testing.T) string {
	t.Helper()
	drivertest.RequireSupported(t, New("containerd-overlayfs", Linked, "overlayfs", "", ""))
	dir, err := os.MkdirTemp("", "sb-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	socket, stop, err := StartDaemon(context.Background(), Linked, filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
		os.RemoveAll(dir)
	})
	return socket
}

// A driver at the user's daemon works in a namespace of its own and leaves everything else in the
// daemon as it found it: another namespace's snapshot stays, and its own namespace is gone.
func TestUserDaemon(t *testing.T) {
	socket := userDaemon(t)
	ctx := context.Background()
	c, _, err := dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The user's snapshot, held by a lease of theirs as a client's must be (the daemon's garbage
	// collector takes any other).
	theirs := namespaces.WithNamespace(ctx, "users-own")
	if _, err := c.LeasesService().Create(theirs, leases.WithID("theirs")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SnapshotService("overlayfs").Prepare(leases.WithLease(theirs, "theirs"), "their-snapshot", ""); err != nil {
		t.Fatal(err)
	}
	d := New("node-overlayfs", Linked, "overlayfs", "", socket)
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("lifecycle", func(t *testing.T) {
		env := drivertest.Open(t, d, drivers.Options{})
		if b := env.Instance.Backing(); b.Dedicated || !strings.HasSuffix(b.Path, "io.containerd.snapshotter.v1.overlayfs") {
			t.Errorf("backing of the user's daemon = %+v, want its snapshotter root, not dedicated", b)
		}
		drivertest.Lifecycle(t, env)
	})
	nss, err := c.NamespaceService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss {
		if strings.HasPrefix(ns, "seedbench-") {
			t.Errorf("namespace %s left in the user's daemon", ns)
		}
	}
	if _, err := c.SnapshotService("overlayfs").Stat(theirs, "their-snapshot"); err != nil {
		t.Errorf("the user's own snapshot is gone: %v", err)
	}
	if !slices.Contains(nss, "users-own") {
		t.Errorf("the user's namespace is gone: %v", nss)
	}
}

// Each fault is an error naming the socket (or the daemon) and the fix, returned within seconds.
func TestFaults(t *testing.T) {
	socket := userDaemon(t)
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
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	missing := filepath.Join(dir, "gone.sock")
	for _, tc := range []struct {
		name string
		d    *Driver
		want []string
	}{
		{"down", New("x", Linked, "overlayfs", "", missing), []string{missing, "does not exist", "is the daemon running"}},
		{"not a socket", New("x", Linked, "overlayfs", "", notSocket), []string{notSocket, "is not a socket"}},
		{"hung", New("x", Linked, "overlayfs", "", hung), []string{hung, "did not answer within"}},
		{"unknown snapshotter", New("x", Linked, "zfs", "", socket), []string{socket, `no snapshotter "zfs"`, "fix:"}},
		{"other version", New("x", Debian16, "overlayfs", "", socket), []string{socket, "not 1.6", "containerd-overlayfs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			t0 := time.Now()
			inst, err := tc.d.Open(context.Background(), drivers.Options{WorkDir: root})
			took := time.Since(t0)
			if err == nil {
				inst.Close(context.Background())
				t.Fatal("opened")
			}
			t.Logf("%v after %v", err, took.Round(time.Millisecond))
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if took > 3*callTimeout {
				t.Errorf("took %v", took)
			}
			drivertest.AssertNoLeaks(t, root)
		})
	}
}

// A private daemon killed mid-run fails the next snapshot call at once, and closing the instance
// says the daemon died and still undoes the backing.
func TestDaemonKilled(t *testing.T) {
	d := New("containerd-overlayfs", Linked, "overlayfs", "", "")
	drivertest.RequireSupported(t, d)
	root, err := os.MkdirTemp("", "sb-ctd-kill-")
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
	pids, _ := Daemons(root)
	if len(pids) != 1 {
		t.Fatalf("daemons under %s: %v", root, pids)
	}
	unix.Kill(pids[0], unix.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	_, err = sn.Prepare(ctx, "b", "")
	t.Logf("Prepare after the kill: %v after %v", err, time.Since(t0).Round(time.Millisecond))
	if err == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Prepare on a killed daemon: %v (ctx %v)", err, ctx.Err())
	}
	err = inst.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "had exited during the run") {
		t.Errorf("close after the daemon died: %v", err)
	}
	drivertest.AssertNoLeaks(t, root)
}

// Reap kills a killed run's private daemons.
func TestReap(t *testing.T) {
	d := New("containerd-overlayfs", Linked, "overlayfs", "", "")
	drivertest.RequireSupported(t, d)
	root, err := os.MkdirTemp("", "sb-ctd-reap-")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := d.Open(context.Background(), drivers.Options{WorkDir: filepath.Join(root, "w"), BackingSize: drivertest.DefaultBackingSize})
	if err != nil {
		t.Fatal(err)
	}
	killed, err := d.Reap(root)
	if err != nil || len(killed) != 2 || !strings.HasPrefix(killed[0], "containerd ") || !strings.HasPrefix(killed[1], "removed socket link "+SocketLinks) {
		t.Errorf("reap: %v %v", killed, err)
	}
	if left, _ := Daemons(root); len(left) > 0 {
		t.Errorf("left: %v", left)
	}
	inst.Close(context.Background()) // the backing
	drivertest.AssertNoLeaks(t, root)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		major, format int
		version       string
	}{{1, 2, "version = 2"}, {2, 4, "version = 4"}} {
		c := config(tc.major, tc.format, "/r", "/d", "/s", "overlayfs")
		if !strings.Contains(c, `"/s/g.sock"`) || !strings.Contains(c, `"/s/t.sock"`) || !strings.Contains(c, tc.version) || !strings.Contains(c, `"io.containerd.grpc.v1.cri"`) ||
			strings.Contains(c, `"io.containerd.snapshotter.v1.overlayfs"`) || !strings.Contains(c, `"io.containerd.snapshotter.v1.native"`) {
			t.Errorf("config for %d:\n%s", tc.major, c)
		}
	}
	for v, want := range map[string][2]int{"v2.4.2": {2, 4}, "1.6.20~ds1": {1, 6}} {
		if ma, mi, ok := majorMinor(v); !ok || ma != want[0] || mi != want[1] {
			t.Errorf("majorMinor(%s) = %d %d %v", v, ma, mi, ok)
		}
	}
}
