package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/rundir"
)

// smallTmpfs mounts a tmpfs of size at a fresh directory, unmounted when the test ends.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

func writeScenario(t *testing.T, yaml string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestPreflightRefuses: a run whose drivers' backings cannot fit on the --workdir filesystem (a
// 64MiB tmpfs, a 900GiB image) is refused before anything is made — exit 1, naming the numbers, the
// drivers and the fix — and nothing is mounted, attached or created.
func TestPreflightRefuses(t *testing.T) {
	requireRoot(t)
	fs := smallTmpfs(t, "64m")
	workdir := filepath.Join(fs, "w")
	huge := writeScenario(t, `name: huge
seed: 1
layers:
  - name: base
    generate: {files: 1000, total: 900GiB, size: {max: 1GiB}}
images: {app: base}
`)
	for _, c := range []struct {
		file, drivers string
		want          []string
	}{
		{huge, "overlayfs,native", []string{"not enough disk space on " + fs, "64.0MiB is free", "overlayfs: ~", "native: ~", "TiB", "fix: "}},
		{"testdata/small.yaml", "overlayfs", []string{"not enough disk space on " + fs, "overlayfs: ~", "MiB (a sparse ext4 image of", "fix: "}},
	} {
		o := run(t, "run", c.file, "--drivers", c.drivers, "--workdir", workdir, "--out", filepath.Join(t.TempDir(), "r.json"))
		if o.code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", c.file, o.code, o.stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(o.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", c.file, w, o.stderr)
			}
		}
		if _, err := os.Stat(workdir); !os.IsNotExist(err) {
			t.Errorf("%s: the refused run made %s (%v)", c.file, workdir, err)
		}
		assertNothingOurs(t, workdir)
		if mps, _ := rundir.Mounts(fs); len(mps) != 1 {
			t.Errorf("mounted in %s: %v", fs, mps)
		}
		if loops, _ := rundir.Loops(fs); len(loops) > 0 {
			t.Errorf("loop devices attached: %v", loops)
		}
		if ents, _ := os.ReadDir(fs); len(ents) > 0 {
			t.Errorf("the refused run wrote in %s: %v", fs, ents)
		}
	}
}

// TestDiskFull: a driver whose backing fills up (backing_size 32MiB, layers of ~100MiB) fails with
// ENOSPC named in its reason; the other driver runs to the end with every check passing; the run
// exits 4 and leaves nothing mounted or attached.
func TestDiskFull(t *testing.T) {
	requireRoot(t)
	sc := writeScenario(t, `name: disk-full
seed: 3
samples: 1
layers:
  - name: base
    generate: {files: 100, total: 100MiB}
images: {app: base}
containers: {app: 2}
drivers: [overlayfs, {name: tiny, driver: overlayfs, backing_size: 32MiB}]
workload:
  - {op: create, count: 5, size: 4KiB}
  - {op: modify, size: 1MiB, how: [append, chmod]}
  - {op: lookup, kind: [hit, miss], cache: [warm, mount]}
`)
	workdir := t.TempDir()
	undoWorkdir(t, workdir)
	out := filepath.Join(t.TempDir(), "r.json")
	o := run(t, "run", sc, "--workdir", workdir, "--out", out)
	if o.code != 4 {
		t.Fatalf("exit %d, want 4\n%s", o.code, o.stderr)
	}
	assertNothingOurs(t, workdir)
	if !strings.Contains(o.stderr, "driver tiny: its backing") || !strings.Contains(o.stderr, "expect it to fail with ENOSPC") {
		t.Errorf("no pre-flight warning about tiny's backing:\n%s", o.stderr)
	}
	r := readResult(t, out)
	status := map[string]result.DriverResult{}
	for _, d := range r.Drivers {
		status[d.Name] = d
	}
	if d := status["tiny"]; d.Status != result.StatusFailed || !strings.Contains(d.Reason, "no space left on device") || d.Options["backing_size"] != "32MiB" {
		t.Errorf("tiny: %+v: want failed with ENOSPC (no space left on device), backing_size 32MiB", d)
	}
	if d := status["overlayfs"]; d.Status != result.StatusOK {
		t.Errorf("overlayfs: %+v", d)
	}
	n := 0
	for _, c := range r.Checks {
		if c.Driver == "overlayfs" {
			n++
			if !c.OK {
				t.Errorf("overlayfs check failed: %s: %s", c.What, c.Detail)
			}
		}
	}
	if n == 0 {
		t.Error("no checks for overlayfs")
	}
	for _, name := range []metric.ID{metric.LayerApply, metric.OpCreate, metric.CopyupLatency, metric.OpLookup, metric.DiskUsed} {
		if len(r.Find("overlayfs", name, nil)) == 0 {
			t.Errorf("overlayfs: no %s", name)
		}
	}
}
