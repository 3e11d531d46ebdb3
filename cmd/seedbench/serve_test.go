package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// TestServeProxy serves overlayfs with `seedbench serve`, runs a scenario whose proxy variant
// measures it through its socket next to the in-process overlayfs, and stops the server with
// SIGTERM: the variant ran every op, recorded what it could not measure and why, and nothing of the
// server is left — no socket, no mount, no loop device, no run directory.
func TestServeProxy(t *testing.T) {
	requireRoot(t)
	serveDir, runDir := t.TempDir(), t.TempDir()
	undoWorkdir(t, serveDir)
	undoWorkdir(t, runDir)
	sockDir, err := os.MkdirTemp("", "sb-serve-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	socket := filepath.Join(sockDir, "s.sock")

	srv := exec.Command(binary, "serve", "--driver", "overlayfs", "--socket", socket, "--workdir", serveDir)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var se syncBuffer
	srv.Stderr = &se
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- srv.Wait()
	}()
	t.Cleanup(func() { srv.Process.Kill() })
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "serving overlayfs at "+socket) {
			t.Fatalf("serve said %q", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve never served: %s", se.String())
	}

	// A second server on the same socket is refused, naming it.
	if o := run(t, "serve", "--driver", "overlayfs", "--socket", socket, "--workdir", serveDir); o.code != 1 ||
		!strings.Contains(o.stderr, "socket "+socket+" is in use: a server is listening on it") {
		t.Errorf("second serve: exit %d: %s", o.code, o.stderr)
	}

	scenario := filepath.Join(t.TempDir(), "small.yaml")
	b := append(mustRead(t, "testdata/small.yaml"), []byte("drivers: [overlayfs, {name: served, driver: proxy, socket: "+socket+"}]\n")...)
	if err := os.WriteFile(scenario, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "r.json")
	o := run(t, "run", scenario, "--workdir", runDir, "--out", out, "-q")
	if o.code != 0 {
		t.Fatalf("run: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
	assertNothingOurs(t, runDir)
	r := readResult(t, out)
	var served *result.DriverResult
	for i := range r.Drivers {
		if r.Drivers[i].Name == "served" {
			served = &r.Drivers[i]
		}
	}
	if served == nil || served.Status != result.StatusOK || !served.Capabilities.Proxy || served.Backing == nil || served.Backing.Hidden == "" {
		t.Fatalf("served: %+v", served)
	}
	if len(served.Unmeasured) != 1 || !slices.Contains(served.Unmeasured[0].Metrics, metric.DiskUsed) ||
		!slices.Contains(served.Unmeasured[0].Metrics, metric.PagecacheResident) || !strings.Contains(served.Unmeasured[0].Reason, socket) {
		t.Errorf("served's unmeasured: %+v", served.Unmeasured)
	}
	for _, name := range []metric.ID{metric.SnapshotPrepare, metric.SnapshotCommit, metric.SnapshotMount, metric.OpCreate, metric.OpLookup, metric.OpRead, metric.CopyupLatency, metric.OpDelete} {
		if len(r.Find("served", name, nil)) == 0 {
			t.Errorf("served: no %s metric", name)
		}
	}
	for _, name := range []metric.ID{metric.DiskUsed, metric.PagecacheResident} {
		if len(r.Find("served", name, nil)) != 0 {
			t.Errorf("served: %s measured on a backing it cannot see", name)
		}
		if len(r.Find("overlayfs", name, nil)) == 0 {
			t.Errorf("overlayfs: no %s metric", name)
		}
	}
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("check failed: %+v", c)
		}
	}
	if rep := run(t, "report", out); rep.code != 0 || !strings.Contains(rep.stdout, "not measured: disk.used") {
		t.Errorf("report: exit %d, lacks the unmeasured metrics:\n%s", rep.code, rep.stdout)
	}

	if err := srv.Process.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for l := range lines {
		rest = append(rest, l)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v: %s", err, se.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if len(rest) == 0 || !strings.HasPrefix(rest[len(rest)-1], "stopped: overlayfs closed") {
		t.Errorf("serve's last words: %q", rest)
	}
	if _, err := os.Lstat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left: %v", err)
	}
	assertNothingOurs(t, serveDir)
}
