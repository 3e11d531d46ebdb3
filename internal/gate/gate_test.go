package gate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// synth makes a run of two drivers whose every time is its true cost × the machine's speed that
// run (machine, common to the drivers and the floors: a shift of the whole machine) × per-sample
// noise of 2%; slow multiplies the copy-ups of 1 MiB and more of overlayfs alone (a regression of
// its snapshotter); disk is overlayfs's disk.used.
func synth(id string, seed uint64, machine, slow, disk float64) *result.Result {
	rng := rand.New(rand.NewPCG(seed, 1))
	r := &result.Result{Run: result.Run{ID: id, MeasureCode: "m1"}, Scenario: result.ScenarioRef{Name: "s", SHA256: "abc"},
		Env: result.Env{Fingerprint: "fp", CPUModel: "cpu", CPUs: 2, MemoryBytes: 1 << 34, Kernel: "6.18 x"}}
	samples := func(cost float64) []float64 {
		out := make([]float64, 8)
		for i := range out {
			out[i] = cost * machine * math.Exp(0.02*rng.NormFloat64())
		}
		return out
	}
	add := func(driver string, name metric.ID, params map[string]string, s []float64) {
		d, _ := metric.Lookup(name)
		r.Metrics = append(r.Metrics, result.Metric{Driver: driver, Name: name, Unit: d.Unit, Better: d.Better, Params: params, Samples: s})
	}
	for _, drv := range []string{"overlayfs", "native"} {
		r.Drivers = append(r.Drivers, result.DriverResult{Name: drv, Status: "ok", Version: "v2.4.2"})
		for depth := 1; depth <= 3; depth++ {
			add(drv, metric.OpLookup, map[string]string{"kind": "hit", "cache": "warm", "depth": strconv.Itoa(depth)}, samples(2000))
		}
		for _, size := range []string{"4KiB", "1MiB", "16MiB", "64MiB"} {
			n, _ := metric.Number(size)
			f := 1.0
			if drv == "overlayfs" && n >= 1<<20 {
				f = slow
			}
			add(drv, metric.CopyupLatency, map[string]string{"size": size, "how": "append", "write": "first", "cache": "warm"}, samples((2e6+n)*f))
		}
		used := 1e9
		if drv == "overlayfs" {
			used *= disk
		}
		add(drv, metric.DiskUsed, map[string]string{"images": "1", "containers": "4"}, []float64{used})
	}
	add(metric.FloorDriver, metric.FloorStat, map[string]string{"kind": "hit", "cache": "warm"}, samples(900))
	for _, size := range []string{"4KiB", "1MiB", "16MiB", "64MiB"} {
		n, _ := metric.Number(size)
		add(metric.FloorDriver, metric.FloorCopy, map[string]string{"size": size, "cache": "warm"}, samples(1e6+n))
	}
	stats.AnnotateAll(r)
	return r
}

// learn returns noise floors from 8 A/A runs on a machine whose speed wanders ±10% from run to run.
func learn(t *testing.T) *Noise {
	t.Helper()
	var rs []*result.Result
	rng := rand.New(rand.NewPCG(99, 2))
	for i := range 8 {
		rs = append(rs, synth("aa"+strconv.Itoa(i), uint64(i), math.Exp(0.1*rng.NormFloat64()), 1, 1))
	}
	n, err := Learn(rs)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCompareAA(t *testing.T) {
	n := learn(t)
	if c := n.class("overlayfs", "copyup.latency cache=warm how=append write=first size>=1MiB"); c == nil || c.RelSigma > 0.05 || c.Sigma < 0.05 {
		t.Fatalf("noise %+v: want the floor-relative spread small, the absolute one the machine's", c)
	}
	// A/A: the machine 30% slower in the new run, nothing else: no regression, since the floors
	// moved as much.
	rep, err := Compare(synth("a", 100, 1, 1, 1), synth("b", 101, 1.3, 1, 1), Options{Noise: n})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Regressions() != 0 || rep.Basis != "floor-relative" {
		t.Errorf("a slower machine: %d regressions (basis %s): %+v", rep.Regressions(), rep.Basis, rep.Classes)
	}
	// Without the floors' help (absolute), 30% is within what a machine wandering ±10% does? No:
	// it is 3σ, and that is what the absolute basis judges; so the same shift on a tested change
	// (a new kernel) is a regression, the floors moving along.
	next := synth("b", 101, 1.3, 1, 1)
	next.Env.Kernel = "6.19 y"
	rep, err = Compare(synth("a", 100, 1, 1, 1), next, Options{Noise: n})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Basis != "absolute" || len(rep.Tested) != 1 || rep.Tested[0].Field != "kernel" {
		t.Errorf("a new kernel: basis %s, tested %+v", rep.Basis, rep.Tested)
	}
}

func TestCompareRegression(t *testing.T) {
	n := learn(t)
	rep, err := Compare(synth("a", 200, 1, 1, 1), synth("b", 201, 1.1, 1.2, 1.05), Options{Noise: n})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range rep.Classes {
		isCopy := c.Driver == "overlayfs" && strings.Contains(c.Class, "size>=1MiB")
		if isCopy && c.Verdict == Regression && math.Abs(c.Ratio-1.2) < 0.05 {
			found = true
		} else if c.Verdict == Regression {
			t.Errorf("false alarm: %+v", c)
		}
	}
	if !found {
		t.Errorf("overlayfs's copy-ups 20%% slower not found: %+v", rep.Classes)
	}
	var disk bool
	for _, q := range rep.Quantities {
		if q.Driver == "overlayfs" && q.Name == metric.DiskUsed {
			disk = q.Verdict == Regression && math.Abs(q.Change-0.05) < 1e-9
		} else if q.Verdict != Unchanged {
			t.Errorf("quantity %+v", q)
		}
	}
	if !disk || rep.Regressions() != 2 {
		t.Errorf("disk.used 5%% more: %+v (regressions %d)", rep.Quantities, rep.Regressions())
	}
}

func TestCompareEnv(t *testing.T) {
	a, b := synth("a", 1, 1, 1, 1), synth("b", 2, 1, 1, 1)
	b.Env.CPUModel = "other"
	b.Run.MeasureCode = "m2"
	if _, err := Compare(a, b, Options{}); err == nil || !strings.Contains(err.Error(), "cpu model (cpu against other)") || !strings.Contains(err.Error(), "measuring code") {
		t.Errorf("incomparable runs: %v", err)
	}
	rep, err := Compare(a, b, Options{Force: true})
	if err != nil || len(rep.Incomparable) != 2 || !strings.Contains(rep.NoiseFrom, "default floor") {
		t.Errorf("forced: %v %+v", err, rep)
	}
	b = synth("b", 2, 1, 1, 1)
	b.Run.Faults = []string{"slow:op.lookup:+10%"}
	if rep, _ := Compare(a, b, Options{}); len(rep.Faults) != 1 {
		t.Errorf("faults not flagged: %+v", rep.Faults)
	}
}

func TestLearnRefuses(t *testing.T) {
	a, b, c := synth("a", 1, 1, 1, 1), synth("b", 2, 1, 1, 1), synth("c", 3, 1, 1, 1)
	if _, err := Learn([]*result.Result{a, b}); err == nil {
		t.Error("2 runs")
	}
	c.Run.Faults = []string{"write:modify:+1MiB"}
	b.Scenario.SHA256 = "other"
	_, err := Learn([]*result.Result{a, b, c})
	if err == nil || !strings.Contains(err.Error(), "another plan") || !strings.Contains(err.Error(), "faults injected") {
		t.Errorf("mixed runs: %v", err)
	}
}

func TestBenjaminiHochberg(t *testing.T) {
	cs := []ClassVerdict{{P: 0.01}, {P: 0.04}, {P: 0.03}, {P: 0.5}}
	benjaminiHochberg(cs)
	want := []float64{0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5} // p·m/rank, made monotone from the top
	for i, c := range cs {
		if math.Abs(c.Q-want[i]) > 1e-12 {
			t.Errorf("q[%d] = %v, want %v", i, c.Q, want[i])
		}
	}
}

// A quantity that is nothing in one A/A run and something in another (a device's writes during a
// step the journal happened to flush in) is learnt as varying by 100%: not gated, and the noise file
// still writes (JSON holds no infinity).
func TestLearnFromNothing(t *testing.T) {
	var rs []*result.Result
	for i := range 3 {
		r := synth("z"+strconv.Itoa(i), uint64(i), 1, 1, 1)
		for j := range r.Metrics {
			if r.Metrics[j].Name == metric.DiskUsed && r.Metrics[j].Driver == "native" && i == 0 {
				r.Metrics[j].Samples = []float64{0}
			}
		}
		rs = append(rs, r)
	}
	n, err := Learn(rs)
	if err != nil {
		t.Fatal(err)
	}
	var c *Class
	for i := range n.Classes {
		if n.Classes[i].Driver == "native" && strings.HasPrefix(n.Classes[i].Class, string(metric.DiskUsed)) {
			c = &n.Classes[i]
		}
	}
	if c == nil || c.Tol != 1 {
		t.Fatalf("disk.used of native: %+v, want a tolerance of 1", c)
	}
	if err := WriteNoise(t.TempDir()+"/noise.json", n); err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(rs[0], rs[1], Options{Noise: n})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range rep.Quantities {
		if q.Driver == "native" && q.Name == metric.DiskUsed && q.Verdict != Inconclusive {
			t.Errorf("disk.used of native: %s, want inconclusive (not gated)", q.Verdict)
		}
	}
}

// TestMachineWide: a kind of measurement regressing on most drivers at once is the machine's
// (noisy); one driver's regression, or a kind that regressed on too few drivers, stands.
func TestMachineWide(t *testing.T) {
	cv := func(driver, class string, v Verdict) ClassVerdict {
		f := strings.Fields(class) // the kind: the metric, and its cache mode when it has one
		kind := f[0]
		if len(f) > 1 && strings.HasPrefix(f[1], "cache=") {
			kind += " " + f[1]
		}
		return ClassVerdict{Driver: driver, Class: class, Verdict: v, kind: kind}
	}
	cs := []ClassVerdict{
		cv("a", "op.lookup cache=cold kind=hit", Regression),
		cv("b", "op.lookup cache=cold kind=miss", Regression), // another kind of the same metric and cache mode
		cv("c", "op.lookup cache=cold kind=hit", Regression),
		cv("d", "op.lookup cache=cold kind=hit", Unchanged),
		cv("e", "op.lookup cache=cold kind=hit", Unchanged),
		cv("a", "op.lookup cache=warm kind=hit", Regression), // warm: 2 of 5 drivers
		cv("b", "op.lookup cache=warm kind=hit", Regression),
		cv("c", "op.lookup cache=warm kind=hit", Unchanged),
		cv("d", "op.lookup cache=warm kind=hit", Unchanged),
		cv("e", "op.lookup cache=warm kind=hit", Unchanged),
		cv("a", "snapshot.prepare layer", Regression), // 1 of 1: too few drivers
	}
	for _, d := range "abcdefg" { // reads: 3 of 7 drivers, fewer than half
		v := Unchanged
		if d <= 'c' {
			v = Regression
		}
		cs = append(cs, cv(string(d), "op.read cache=warm", v))
	}
	machineWide(cs)
	want := []Verdict{Noisy, Noisy, Noisy, Unchanged, Unchanged, Regression, Regression, Unchanged, Unchanged, Unchanged, Regression,
		Regression, Regression, Regression, Unchanged, Unchanged, Unchanged, Unchanged}
	for i, c := range cs {
		if c.Verdict != want[i] {
			t.Errorf("%s %s: %s, want %s (%s)", c.Driver, c.Class, c.Verdict, want[i], c.Note)
		}
	}
	if !strings.Contains(cs[0].Note, "regressed on 3 of 5 drivers") {
		t.Errorf("note %q does not say how many drivers moved", cs[0].Note)
	}
}
