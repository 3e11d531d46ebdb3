package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/rundir"
	"github.com/seedbench/seedbench/internal/stats"
)

// The end-to-end tests run the real binary as a user would: real snapshotters, real kernel, root.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "seedbench-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "seedbench")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts filesystems")
	}
}

type outcome struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) outcome {
	t.Helper()
	return runIn(t, "", args...)
}

// runIn runs the binary in dir ("" = the test's directory).
func runIn(t *testing.T, dir string, args ...string) outcome {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return outcome{code, so.String(), se.String()}
}

// assertNothingOurs fails if anything under workdir is still mounted or attached.
func assertNothingOurs(t *testing.T, workdir string) {
	t.Helper()
	mps, err := rundir.Mounts(workdir)
	if err != nil {
		t.Fatal(err)
	}
	if len(mps) > 0 {
		t.Errorf("still mounted under %s: %v", workdir, mps)
	}
	loops, err := rundir.Loops(workdir)
	if err != nil {
		t.Fatal(err)
	}
	if len(loops) > 0 {
		t.Errorf("loop devices still attached: %v", loops)
	}
	entries, _ := os.ReadDir(workdir)
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", workdir, e.Name())
	}
}

func readResult(t *testing.T, path string) *result.Result {
	t.Helper()
	r, err := result.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRunSmall replays a small scenario that exercises every op through overlayfs and native, and
// checks that the result carries every metric for both drivers and that every check passed.
func TestRunSmall(t *testing.T) {
	requireRoot(t)
	workdir := t.TempDir()
	out := filepath.Join(t.TempDir(), "r.json")
	o := run(t, "run", "testdata/small.yaml", "--drivers", "overlayfs,native", "--workdir", workdir, "--out", out, "-q")
	if o.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", o.code, o.stdout, o.stderr)
	}
	assertNothingOurs(t, workdir)
	r := readResult(t, out)
	if r.Schema != result.Schema || r.Partial {
		t.Errorf("schema %q partial %v", r.Schema, r.Partial)
	}
	want := []metric.ID{"layer.apply", "layer.diff", "snapshot.prepare", "snapshot.commit", "snapshot.remove",
		"snapshot.mount", "op.create", "op.lookup", "op.read", "copyup.latency", "op.delete", "op.rename",
		"disk.used", "disk.shared_savings", "pagecache.resident", "pagecache.shared_savings"}
	for _, drv := range []string{"overlayfs", "native"} {
		for _, name := range want {
			if len(r.Find(drv, name, nil)) == 0 {
				t.Errorf("%s: no %s metric", drv, name)
			}
		}
		for _, cache := range []string{"warm", "mount", "cold"} {
			if len(r.Find(drv, "op.lookup", map[string]string{"cache": cache})) == 0 {
				t.Errorf("%s: no op.lookup cache=%s", drv, cache)
			}
		}
	}
	if len(r.Checks) == 0 {
		t.Error("no checks recorded")
	}
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("check failed: %s: %s: %s", c.Driver, c.What, c.Detail)
		}
	}
	for _, m := range r.Metrics {
		if len(m.Samples) == 0 || m.Summary.N != len(m.Samples) {
			t.Errorf("%s %s %v: %d samples, summary n=%d", m.Driver, m.Name, m.Params, len(m.Samples), m.Summary.N)
		}
	}
	// The seed rules, as the kernel makes them: a whiteout hides a deleted file on overlay, and
	// overlay shares the working set's page cache across containers while native does not.
	res := func(drv string) float64 {
		ms := r.Find(drv, "pagecache.resident", map[string]string{"containers": "2"})
		if len(ms) != 1 {
			t.Fatalf("%s: %d pagecache.resident containers=2 metrics", drv, len(ms))
		}
		return ms[0].Summary.Median
	}
	if ov, na := res("overlayfs"), res("native"); !(na > 1.8*ov) {
		t.Errorf("page cache for 2 containers: native %.0f, overlay %.0f: want native ≈ 2× overlay", na, ov)
	}
	// The image sweep: side's own layer costs overlay its 512KiB; native copies the base into it.
	disk := func(drv, images string) float64 {
		ms := r.Find(drv, "disk.used", map[string]string{"images": images, "containers": "0"})
		if len(ms) != 1 {
			t.Fatalf("%s: %d disk.used images=%s containers=0 metrics", drv, len(ms), images)
		}
		return ms[0].Summary.Median
	}
	ov, na := disk("overlayfs", "2")-disk("overlayfs", "1"), disk("native", "2")-disk("native", "1")
	if !(ov > 0 && na > 2*ov) {
		t.Errorf("disk added by the second image: overlay %.0f, native %.0f: want native (a copy of the base) > 2× overlay (one layer)", ov, na)
	}
	// The drift is a header figure, measured from the calibration readings; every interval is the
	// samples' own (order statistics), holds the median and states its level.
	if r.Drift == nil || r.Drift.Probes < 5 {
		t.Fatalf("drift %+v: want one from the calibration readings", r.Drift)
	}
	for _, m := range r.Find("overlayfs", "op.lookup", nil) {
		s := m.Summary
		if s.SampleCILo != 0 || s.SampleCIHi != 0 {
			t.Errorf("%v: samples' interval [%g, %g] kept apart: want the drift not folded in", m.Params, s.SampleCILo, s.SampleCIHi)
		}
		if !(s.CILo <= s.Median && s.Median <= s.CIHi && s.CILo >= s.Min && s.CIHi <= s.Max) {
			t.Errorf("%v: interval [%g, %g] around median %g (min %g, max %g): want order statistics holding the median", m.Params, s.CILo, s.CIHi, s.Median, s.Min, s.Max)
		}
		if !(s.Confidence > 0.5 && s.Confidence < 1) {
			t.Errorf("%v: confidence %g: want the interval's level stated", m.Params, s.Confidence)
		}
	}
}

// TestRunInterrupted interrupts a run mid-replay: it must clean up everything, keep a partial result
// and exit 130.
func TestRunInterrupted(t *testing.T) {
	requireRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			workdir := t.TempDir()
			out := filepath.Join(t.TempDir(), "r.json")
			cmd := exec.Command(binary, "run", "testdata/small.yaml", "--drivers", "overlayfs,native,stargz",
				"--workdir", workdir, "--out", out, "--samples", "50")
			var se syncBuffer
			cmd.Stderr = &se
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for !strings.Contains(se.String(), "workload") {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("never reached the workload:\n%s", se.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Mid-replay: containers are mounted now.
			if mps, _ := rundir.Mounts(workdir); len(mps) == 0 {
				t.Error("expected mounts mid-replay")
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("exit: %v, want 130\n%s", err, se.String())
			}
			assertNothingOurs(t, workdir)
			r := readResult(t, out)
			if !r.Partial {
				t.Error("interrupted result not marked partial")
			}
		})
	}
}

// TestRunSkippedDriver: a driver that cannot run here is skipped with its reason, the others run,
// and the exit code is 4.
func TestRunSkippedDriver(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.yaml")
	data, err := os.ReadFile("testdata/small.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("samples: 2\n"), []byte("samples: 1\ndrivers: [overlayfs, {name: overlay-bogus, driver: overlayfs, mount_options: [no_such_option]}]\n"), 1)
	if err := os.WriteFile(sc, data, 0o644); err != nil {
		t.Fatal(err)
	}
	workdir := t.TempDir()
	out := filepath.Join(dir, "r.json")
	o := run(t, "run", sc, "--workdir", workdir, "--out", out, "-q")
	if o.code != 4 {
		t.Fatalf("exit %d, want 4\n%s", o.code, o.stderr)
	}
	if !strings.Contains(o.stderr, "overlay-bogus skipped") {
		t.Errorf("stderr does not name the skipped driver:\n%s", o.stderr)
	}
	r := readResult(t, out)
	var st = map[string]string{}
	for _, d := range r.Drivers {
		st[d.Name] = d.Status
		if d.Status == result.StatusSkipped && d.Reason == "" {
			t.Errorf("%s skipped without a reason", d.Name)
		}
	}
	if st["overlayfs"] != "ok" || st["overlay-bogus"] != "skipped" {
		t.Errorf("statuses %v", st)
	}
	assertNothingOurs(t, workdir)
}

// TestBadInput: bad scenarios exit 1 naming FILE:LINE and the fix, and nothing gets mounted.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, yaml, want string }{
		{"unknown-key", "name: x\nseed: 1\nlayers:\n  - name: a\n    colour: red\n    files: [{path: f, size: 1KiB}]\nimages: {i: a}\n", ":5: "},
		{"bad-unit", "name: x\nseed: 1\nlayers:\n  - name: a\n    files: [{path: f, size: 4k}]\nimages: {i: a}\n", "4KiB"},
		{"negative-count", "name: x\nseed: 1\nlayers:\n  - name: a\n    files: [{path: f, size: 1KiB}]\nimages: {i: a}\nworkload:\n  - {op: create, count: -3}\n", ":8: "},
		{"absolute-path", "name: x\nseed: 1\nlayers:\n  - name: a\n    files: [{path: /etc/passwd, size: 1KiB}]\nimages: {i: a}\n", ":5: "},
		{"dotdot-path", "name: x\nseed: 1\nlayers:\n  - name: a\n    files: [{path: a/../../x, size: 1KiB}]\nimages: {i: a}\n", ":5: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(f, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			workdir := t.TempDir()
			for _, verb := range []string{"validate", "run"} {
				args := []string{verb, f}
				if verb == "run" {
					args = append(args, "--workdir", workdir)
				}
				o := run(t, args...)
				if o.code != 1 {
					t.Errorf("%s: exit %d, want 1\n%s", verb, o.code, o.stderr)
				}
				if !strings.Contains(o.stderr, f+":") || !strings.Contains(o.stderr, c.want) {
					t.Errorf("%s: stderr lacks %q / the file name:\n%s", verb, c.want, o.stderr)
				}
			}
			assertNothingOurs(t, workdir)
		})
	}
	o := run(t, "run", filepath.Join(dir, "missing.yaml"))
	if o.code != 1 || !strings.Contains(o.stderr, "missing.yaml") {
		t.Errorf("missing file: exit %d\n%s", o.code, o.stderr)
	}
	if o := run(t, "run"); o.code != 2 {
		t.Errorf("run without a scenario: exit %d, want 2", o.code)
	}
	if o := run(t, "frobnicate"); o.code != 2 {
		t.Errorf("unknown command: exit %d, want 2", o.code)
	}
}

// TestNotRoot: run as an unprivileged user says it needs root, before touching anything.
func TestNotRoot(t *testing.T) {
	requireRoot(t)
	if runtime.GOOS != "linux" {
		t.Skip()
	}
	// A directory the unprivileged user can traverse (t.TempDir's parent is 0700).
	dir, err := os.MkdirTemp("", "seedbench-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "seedbench")
	if err := os.WriteFile(bin, mustRead(t, binary), 0o755); err != nil {
		t.Fatal(err)
	}
	sc := filepath.Join(dir, "small.yaml")
	if err := os.WriteFile(sc, mustRead(t, "testdata/small.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	cmd := exec.Command(bin, "run", sc, "--workdir", filepath.Join(dir, "w"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var se bytes.Buffer
	cmd.Stderr = &se
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, se.String())
	}
	if !strings.Contains(se.String(), "needs root") {
		t.Errorf("stderr does not say it needs root:\n%s", se.String())
	}
}

// TestDrivers lists the drivers as a table and as JSON.
func TestDrivers(t *testing.T) {
	o := run(t, "drivers", "--json")
	if o.code != 0 {
		t.Fatalf("exit %d: %s", o.code, o.stderr)
	}
	var rows []struct {
		Name      string `json:"name"`
		Available bool   `json:"available"`
		Reason    string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range rows {
		names[r.Name] = true
		if !r.Available && r.Reason == "" {
			t.Errorf("%s unavailable without a reason", r.Name)
		}
	}
	for _, n := range []string{"overlayfs", "overlayfs-metacopy", "overlayfs-volatile", "overlayfs-index", "native"} {
		if !names[n] {
			t.Errorf("drivers lacks %s", n)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCompareExit: compare exits 3 when a metric got significantly worse, 0 otherwise, 2 on misuse.
func TestCompareExit(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, scale float64) string {
		r := &result.Result{Schema: result.Schema, Scenario: result.ScenarioRef{Name: "s"}}
		m := result.Metric{Driver: "overlayfs", Name: "op.create", Unit: "ns", Better: "lower", Params: map[string]string{"size": "4KiB"}}
		for i := range 10 {
			m.Samples = append(m.Samples, scale*float64(1000+i))
		}
		r.Metrics = append(r.Metrics, m)
		stats.AnnotateAll(r)
		p := filepath.Join(dir, name)
		if err := result.WriteFile(p, r); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, slow := write("a.json", 1), write("b.json", 1), write("slow.json", 3)
	if o := run(t, "compare", a, b); o.code != 0 || !strings.Contains(o.stdout, "every class unchanged") {
		t.Errorf("same runs: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
	if o := run(t, "compare", a, slow); o.code != 3 || !strings.Contains(o.stdout, "regression") {
		t.Errorf("3× slower: exit %d, want 3\n%s%s", o.code, o.stdout, o.stderr)
	}
	if o := run(t, "compare", a, slow, "--format", "json"); o.code != 3 || !strings.Contains(o.stdout, `"verdict": "regression"`) {
		t.Errorf("json: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
	if o := run(t, "compare", a); o.code != 2 {
		t.Errorf("one file: exit %d, want 2", o.code)
	}
}

// TestComparePairedExit: compare RUN.json judges the run's declared pairs (or --base/--new) and
// exits 3 when the new side is significantly slower; misuse is exit 2.
func TestComparePairedExit(t *testing.T) {
	r := &result.Result{Schema: result.Schema, Run: result.Run{ID: "r1"}, Scenario: result.ScenarioRef{Name: "s"},
		Pairs: []result.Pair{{Base: "a", New: "slow"}}}
	for _, d := range []struct {
		name  string
		scale float64
	}{{"a", 1}, {"same", 1}, {"slow", 1.5}} {
		r.Drivers = append(r.Drivers, result.DriverResult{Name: d.name, Status: result.StatusOK})
		m := result.Metric{Driver: d.name, Name: "op.create", Unit: "ns", Better: "lower", Params: map[string]string{"size": "4KiB"}}
		for i := range 20 {
			m.Samples = append(m.Samples, d.scale*float64(1000+(i*37)%50))
		}
		r.Metrics = append(r.Metrics, m)
	}
	stats.AnnotateAll(r)
	p := filepath.Join(t.TempDir(), "r.json")
	if err := result.WriteFile(p, r); err != nil {
		t.Fatal(err)
	}
	if o := run(t, "compare", p); o.code != 3 || !strings.Contains(o.stdout, "slow (new) with a (base), paired") || !strings.Contains(o.stdout, "regression") {
		t.Errorf("declared pair 1.5× slower: exit %d, want 3\n%s%s", o.code, o.stdout, o.stderr)
	}
	if o := run(t, "compare", p, "--base", "a", "--new", "same"); o.code != 0 || !strings.Contains(o.stdout, "not a pair the scenario declared") {
		t.Errorf("a against same: exit %d, want 0\n%s%s", o.code, o.stdout, o.stderr)
	}
	for _, args := range [][]string{{p, "--base", "a"}, {p, p, "--base", "a", "--new", "same"}} {
		if o := run(t, append([]string{"compare"}, args...)...); o.code != 2 {
			t.Errorf("compare %v: exit %d, want 2", args, o.code)
		}
	}
	if o := run(t, "compare", p, "--base", "a", "--new", "nosuch"); o.code != 1 || !strings.Contains(o.stderr, `no driver "nosuch" (it has a, same, slow)`) {
		t.Errorf("unknown driver: exit %d\n%s", o.code, o.stderr)
	}
	// --spread learns how far each class's A/A ratio spreads over other runs of the plan: three runs
	// whose A/A pair (a, same) spread by ±40% make the 1.5× of this one no regression.
	dir := t.TempDir()
	for i, f := range []float64{0.6, 1.1, 1.6} {
		o := *r
		o.Run.ID = fmt.Sprintf("aa%d", i)
		o.Pairs = []result.Pair{{Base: "a", New: "same"}}
		o.Metrics = nil
		for _, m := range r.Metrics {
			if m.Driver == "same" {
				m.Samples = slices.Clone(m.Samples)
				for j := range m.Samples {
					m.Samples[j] *= f
				}
			}
			o.Metrics = append(o.Metrics, m)
		}
		if err := result.WriteFile(filepath.Join(dir, o.Run.ID+".json"), &o); err != nil {
			t.Fatal(err)
		}
	}
	if o := run(t, "compare", p, "--spread", dir); o.code != 0 || !strings.Contains(o.stdout, "judged also against how far its ratio spread between A/A pairs of other runs (up to 3 pairs") {
		t.Errorf("--spread: exit %d, want 0\n%s%s", o.code, o.stdout, o.stderr)
	}
	if o := run(t, "compare", p, "--spread", t.TempDir()); o.code != 1 || !strings.Contains(o.stderr, "learning a spread needs at least 3") {
		t.Errorf("--spread of an empty directory: exit %d\n%s", o.code, o.stderr)
	}
	if o := run(t, "compare", p, p, "--spread", dir); o.code != 2 {
		t.Errorf("--spread with two files: exit %d, want 2", o.code)
	}
}
