package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers/all"
	"github.com/seedbench/seedbench/drivers/containerd"
	"github.com/seedbench/seedbench/drivers/fuseoverlayfs"
	"github.com/seedbench/seedbench/drivers/proxy"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/rundir"
)

// undoWorkdir undoes whatever a test's runs left under workdir, when the test ends — passed or not:
// the same Cleanup `seedbench cleanup` runs, then a lazy unmount of anything it could not undo.
func undoWorkdir(t *testing.T, workdir string) {
	t.Helper()
	t.Cleanup(func() {
		if _, err := rundir.Cleanup(workdir, all.Catalog().Reapers()); err != nil {
			t.Logf("cleanup of %s: %v", workdir, err)
		}
		pids, _ := fuseoverlayfs.Daemons(workdir)
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
		mps, _ := rundir.Mounts(workdir)
		for _, mp := range mps {
			unix.Unmount(mp, unix.MNT_DETACH)
		}
	})
}

// TestCrashCleanup kills a run with SIGKILL mid-replay — nothing of its own cleanup runs — and
// checks that `seedbench cleanup` undoes everything it left: mounts (FUSE ones included), loop
// devices, fuse-overlayfs daemons, the run directory (stargz's and SOCI's registry, proxies and FUSE servers
// are goroutines of the killed process: its mounts are left, dead, and cleanup unmounts them).
func TestCrashCleanup(t *testing.T) {
	requireRoot(t)
	ds := "overlayfs,native,proxy-overlayfs" // proxy-overlayfs: a private snapshots server process
	fuse := fuseoverlayfs.New("fuse-overlayfs", "").Check(context.Background()) == nil
	if fuse {
		ds += ",fuse-overlayfs,stargz,soci" // stargz's and SOCI's FUSE mounts are served in process: killed with it
	} else {
		t.Log("fuse-overlayfs cannot run here: crashing without it")
	}
	// A private containerd (a process of its own) and the user's daemon (a namespace in it) too.
	if containerd.New("c", containerd.Linked, "overlayfs", "", "").Check(context.Background()) == nil {
		ds += ",containerd-overlayfs,node-overlayfs"
	} else {
		t.Log("containerd cannot run here: crashing without it")
	}
	workdir := t.TempDir()
	undoWorkdir(t, workdir)
	scenarioFile := "testdata/small.yaml"
	userSock := ""
	if strings.Contains(ds, "containerd") {
		// The user's daemon is named by a spec's socket: the scenario, with that variant added.
		userSock = userContainerd(t)
		b, err := os.ReadFile(scenarioFile)
		if err != nil {
			t.Fatal(err)
		}
		scenarioFile = filepath.Join(t.TempDir(), "small.yaml")
		b = append(b, []byte("drivers: [overlayfs, native, proxy-overlayfs, fuse-overlayfs, stargz, soci, containerd-overlayfs, {name: node-overlayfs, driver: containerd-overlayfs, socket: "+userSock+"}]\n")...)
		if err := os.WriteFile(scenarioFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(binary, "run", scenarioFile, "--drivers", ds, "--workdir", workdir,
		"--out", filepath.Join(t.TempDir(), "r.json"), "--samples", "50")
	var se syncBuffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	kill := func() {
		cmd.Process.Signal(unix.SIGKILL)
		<-exited
	}
	t.Cleanup(kill) // registered after undoWorkdir: runs before it

	// Mid-replay: the workload has started, containers are mounted (and served by FUSE daemons).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mps, _ := rundir.Mounts(workdir)
		daemons, _ := fuseoverlayfs.Daemons(workdir)
		if strings.Contains(se.String(), "workload") && len(mps) > 0 && (!fuse || len(daemons) > 0) {
			break
		}
		select {
		case <-exited:
			t.Fatalf("the run exited before its workload:\n%s", se.String())
		default:
		}
		if time.Now().After(deadline) {
			kill()
			t.Fatalf("never reached the workload with mounts (and FUSE daemons) under %s:\n%s", workdir, se.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	kill()

	// What a crash leaves: a run directory, mounts, loop devices, daemons.
	mps, _ := rundir.Mounts(workdir)
	loops, _ := rundir.Loops(workdir)
	daemons, _ := fuseoverlayfs.Daemons(workdir)
	t.Logf("left by the crash: %d mounts, loop devices %v, fuse-overlayfs daemons %v", len(mps), loops, daemons)
	if len(mps) == 0 || len(loops) == 0 || (fuse && len(daemons) == 0) {
		t.Fatalf("the crash left nothing to clean up: mounts %v loops %v daemons %v", mps, loops, daemons)
	}
	// SOCI's lazily mounted layers are FUSE mounts served by the killed process: left, dead.
	if fuse && !slices.ContainsFunc(mps, func(mp string) bool { return strings.Contains(mp, "-soci/mnt/soci/snapshotter/snapshots/") }) {
		t.Errorf("the crash left no SOCI FUSE mount of a layer: the soci driver never mounted one lazily: %v", mps)
	}

	o := run(t, "cleanup", "--workdir", workdir)
	t.Logf("seedbench cleanup:\n%s", o.stdout)
	if o.code != 0 {
		t.Fatalf("cleanup: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
	for _, want := range []string{"unmounted ", "detached ", "removed "} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("cleanup output lacks %q:\n%s", want, o.stdout)
		}
	}
	if !strings.Contains(o.stdout, "killed "+proxy.ChildName+" ") {
		t.Errorf("cleanup killed no private snapshots server:\n%s", o.stdout)
	}
	if left, _ := proxy.Servers(workdir); len(left) > 0 {
		t.Errorf("private snapshots servers still running for %s: %v", workdir, left)
	}
	if fuse && !strings.Contains(o.stdout, "killed fuse-overlayfs ") {
		t.Errorf("cleanup killed no fuse-overlayfs daemon:\n%s", o.stdout)
	}
	if strings.Contains(ds, "containerd") {
		for _, want := range []string{"killed containerd ", "removed namespace seedbench-"} {
			if !strings.Contains(o.stdout, want) {
				t.Errorf("cleanup output lacks %q:\n%s", want, o.stdout)
			}
		}
		if left, _ := containerd.Daemons(workdir); len(left) > 0 {
			t.Errorf("containerd daemons still running for %s: %v", workdir, left)
		}
		assertDaemonClean(t, userSock)
	}
	assertNothingOurs(t, workdir)
	if left, _ := fuseoverlayfs.Daemons(workdir); len(left) > 0 {
		t.Errorf("fuse-overlayfs daemons still running for %s: %v", workdir, left)
	}
	if o := run(t, "cleanup", "--workdir", workdir); o.code != 0 || !strings.Contains(o.stdout, "nothing to clean up") {
		t.Errorf("second cleanup: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
}

// TestConcurrentRuns: two runs sharing a --workdir and a results directory, started together, do not
// collide: both exit 0 with a valid result of their own, and leave nothing behind.
func TestConcurrentRuns(t *testing.T) {
	requireRoot(t)
	workdir := t.TempDir()
	undoWorkdir(t, workdir)
	results := t.TempDir()
	outs := make([]outcome, 2)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(binary, "run", "testdata/small.yaml", "--drivers", "overlayfs", "--samples", "1",
				"--workdir", workdir, "--results", results, "-q")
			var so, se strings.Builder
			cmd.Stdout, cmd.Stderr = &so, &se
			err := cmd.Run()
			outs[i] = outcome{cmd.ProcessState.ExitCode(), so.String(), se.String() + errString(err)}
		}()
	}
	wg.Wait()
	resultRE := regexp.MustCompile(`(?m)^result: (.+\.json)$`)
	files := map[string]bool{}
	for i, o := range outs {
		if o.code != 0 {
			t.Errorf("run %d: exit %d\n%s", i, o.code, o.stderr)
			continue
		}
		m := resultRE.FindStringSubmatch(o.stdout)
		if m == nil {
			t.Errorf("run %d printed no result file:\n%s", i, o.stdout)
			continue
		}
		files[m[1]] = true
		r := readResult(t, m[1])
		if r.Partial || len(r.Drivers) != 1 || r.Drivers[0].Status != result.StatusOK || len(r.Metrics) == 0 {
			t.Errorf("run %d: result %s: partial %v, drivers %+v, %d metrics", i, m[1], r.Partial, r.Drivers, len(r.Metrics))
		}
		for _, c := range r.Checks {
			if !c.OK {
				t.Errorf("run %d: check failed: %s: %s", i, c.What, c.Detail)
			}
		}
	}
	t.Logf("result files: %v", files)
	if len(files) != 2 {
		t.Errorf("result files %v: want one per run", files)
	}
	written, _ := filepath.Glob(filepath.Join(results, "small", "*"))
	if len(written) != 2 {
		t.Errorf("results dir holds %v: want the two result files only", written)
	}
	assertNothingOurs(t, workdir)
	if _, err := os.Stat(workdir); err != nil {
		t.Error(err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// userContainerd starts a containerd standing in for the user's own (as --containerd or a spec's
// socket reaches it), stopped when the test ends; "" when containerd cannot run here.
func userContainerd(t *testing.T) string {
	t.Helper()
	if containerd.New("c", containerd.Linked, "overlayfs", "", "").Check(context.Background()) != nil {
		return ""
	}
	dir, err := os.MkdirTemp("", "sb-user-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	socket, stop, err := containerd.StartDaemon(context.Background(), containerd.Linked, filepath.Join(dir, "root"), filepath.Join(dir, "run"))
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

// assertDaemonClean checks that the containerd at socket holds no namespace of seedbench's: every
// snapshot and lease a run made there is gone with it (a namespace is deleted only when empty).
func assertDaemonClean(t *testing.T, socket string) {
	t.Helper()
	c, err := client.New(socket, client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nss, err := c.NamespaceService().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss {
		if strings.HasPrefix(ns, "seedbench-") {
			t.Errorf("namespace %s left in the daemon at %s", ns, socket)
		}
	}
}

// TestDaemonKilledMidRun kills a driver's private containerd in the middle of a run: that driver
// fails with an error naming the daemon, the other is still measured in full, the run exits 4, and
// nothing is left behind.
func TestDaemonKilledMidRun(t *testing.T) {
	requireRoot(t)
	if err := containerd.New("c", containerd.Linked, "overlayfs", "", "").Check(context.Background()); err != nil {
		t.Skip(err)
	}
	workdir := t.TempDir()
	undoWorkdir(t, workdir)
	out := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binary, "run", "testdata/small.yaml", "--drivers", "overlayfs,containerd-overlayfs", "--workdir", workdir,
		"--out", out, "--samples", "20")
	var se syncBuffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(2 * time.Minute)
	var pids []int
	for !strings.Contains(se.String(), "workload") || len(pids) == 0 {
		pids, _ = containerd.Daemons(workdir)
		if time.Now().After(deadline) {
			t.Fatalf("never reached the workload with a daemon:\n%s", se.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	unix.Kill(pids[0], unix.SIGKILL)
	t0 := time.Now()
	err := <-exited
	t.Logf("the run ended %v after the daemon was killed: %v", time.Since(t0).Round(time.Millisecond), err)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitDriversLost {
		t.Fatalf("exit %v, want %d:\n%s", err, exitDriversLost, se.String())
	}
	r, err := result.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Drivers {
		t.Logf("%s: %s %s", d.Name, d.Status, d.Reason)
		switch d.Name {
		case "overlayfs":
			if d.Status != "ok" {
				t.Errorf("overlayfs: %s %s", d.Status, d.Reason)
			}
		case "containerd-overlayfs":
			if d.Status != "failed" || !strings.Contains(d.Reason, "containerd") {
				t.Errorf("containerd-overlayfs: %s %q", d.Status, d.Reason)
			}
		}
	}
	assertNothingOurs(t, workdir)
}
