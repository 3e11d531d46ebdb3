package gate

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// The tests in this file pin Compare's rules one by one, on runs whose every median is set exactly:
// each point's samples are around(v), five samples ±2% whose median is v.

func around(v float64) []float64 { return []float64{v * 0.98, v * 0.99, v, v * 1.01, v * 1.02} }

// point is a metric of driver with its unit and direction from the catalogue.
func point(driver string, name metric.ID, params map[string]string, samples []float64) result.Metric {
	d, _ := metric.Lookup(name)
	return result.Metric{Driver: driver, Name: name, Unit: d.Unit, Better: d.Better, Params: params, Samples: samples}
}

// runOf is a run of plan "p" on machine "fp" by measuring code "m1", holding ms.
func runOf(id string, ms ...result.Metric) *result.Result {
	r := &result.Result{Run: result.Run{ID: id, MeasureCode: "m1"}, Scenario: result.ScenarioRef{Name: "s", SHA256: "p"},
		Env: result.Env{Fingerprint: "fp", CPUModel: "cpu", CPUs: 2, MemoryBytes: 1 << 34, Kernel: "6.18 x"}, Metrics: ms}
	for _, m := range ms {
		if !slices.ContainsFunc(r.Drivers, func(d result.DriverResult) bool { return d.Name == m.Driver }) && m.Driver != metric.FloorDriver {
			r.Drivers = append(r.Drivers, result.DriverResult{Name: m.Driver, Status: "ok", Version: "v1"})
		}
	}
	return r
}

const warmHits = "op.lookup cache=warm kind=hit"

// lookups are driver's warm lookups of hits at depths 1 to 3, each at a median of 2 µs × f.
func lookups(driver string, f float64) []result.Metric {
	var ms []result.Metric
	for depth := 1; depth <= 3; depth++ {
		ms = append(ms, point(driver, metric.OpLookup, map[string]string{"kind": "hit", "cache": "warm", "depth": strconv.Itoa(depth)}, around(2000*f)))
	}
	return ms
}

// floorStat is the floor of warm lookups of hits, at a median of 900 ns × f.
func floorStat(f float64) result.Metric {
	return point(metric.FloorDriver, metric.FloorStat, map[string]string{"kind": "hit", "cache": "warm"}, around(900*f))
}

// noiseOf is a noise file learnt from runs A/A runs for r's plan and machine, with the classes cs.
func noiseOf(r *result.Result, runs int, cs ...Class) *Noise {
	n := &Noise{Schema: NoiseSchema, Scenario: r.Scenario.Name, Plan: planOf(r), Fingerprint: r.Env.Fingerprint, MeasureCode: r.Run.MeasureCode}
	for i := range runs {
		n.Runs = append(n.Runs, "aa"+strconv.Itoa(i))
	}
	for i := range cs {
		if cs[i].Runs == 0 {
			cs[i].Runs = runs
		}
		if cs[i].Pairs == 0 {
			cs[i].Pairs = runs * (runs - 1) / 2
		}
	}
	slices.SortFunc(cs, func(a, b Class) int { return strings.Compare(a.Driver+"\x00"+a.Class, b.Driver+"\x00"+b.Class) })
	n.Classes = cs
	return n
}

func compare(t *testing.T, base, next *result.Result, opt Options) *Report {
	t.Helper()
	rep, err := Compare(base, next, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// classOfReport returns driver's class in rep, or fails.
func classOfReport(t *testing.T, rep *Report, driver, class string) ClassVerdict {
	t.Helper()
	for _, c := range rep.Classes {
		if c.Driver == driver && c.Class == class {
			return c
		}
	}
	t.Fatalf("no class %s %s in %+v", driver, class, rep.Classes)
	return ClassVerdict{}
}

func busyNow(ms []result.Metric) []result.Metric {
	for i := range ms {
		ms[i].Warnings = append(ms[i].Warnings, result.Warnf(result.WarnBusy, "busy machine: CPU pressure 30%% (PSI some avg10) during lookup warm"))
	}
	return ms
}

// TestVerdictRules: one class, overlayfs's warm lookups moved by f, judged under a learnt noise floor.
// The p values quoted are Student's t's at the A/A runs' degrees of freedom.
func TestVerdictRules(t *testing.T) {
	for _, c := range []struct {
		name  string
		f     float64 // new ÷ base
		sigma float64 // the class's noise floor
		runs  int     // A/A runs it was learnt from
		top   []float64
		busy  bool
		opt   Options
		want  Verdict
		note  string
	}{
		{name: "slower beyond the floor (t 6.1, p 0.0003)", f: 1.2, sigma: 0.03, runs: 9, want: Regression},
		{name: "faster beyond the floor", f: 1 / 1.2, sigma: 0.03, runs: 9, want: Improvement},
		{name: "significant but within the minimum effect", f: 1.04, sigma: 0.005, runs: 9, want: Unchanged},
		{name: "a smaller minimum effect", f: 1.04, sigma: 0.005, runs: 9, opt: Options{MinEffect: 0.03}, want: Regression},
		{name: "a speed-up's effect is 1/ratio − 1 (×0.952: 5.04%)", f: 0.952, sigma: 0.005, runs: 9, want: Improvement},
		{name: "within the noise floor (t 1.2, p 0.26)", f: 1.2, sigma: 0.15, runs: 9, want: Inconclusive},
		{name: "few A/A runs: df 2 (t 3.0, p 0.093)", f: 1.2, sigma: 0.06, runs: 3, want: Inconclusive},
		{name: "many A/A runs: df 29 (t 3.0, p 0.005)", f: 1.2, sigma: 0.06, runs: 30, want: Regression},
		{name: "p 0.031 at alpha 0.05", f: 1.2, sigma: 0.07, runs: 9, want: Regression},
		{name: "p 0.031 at alpha 0.01", f: 1.2, sigma: 0.07, runs: 9, opt: Options{Alpha: 0.01}, want: Inconclusive},
		{name: "slower on a busy machine", f: 1.2, sigma: 0.03, runs: 9, busy: true, want: Noisy, note: "a busy machine measured it"},
		{name: "faster on a busy machine", f: 1 / 1.2, sigma: 0.03, runs: 9, busy: true, want: Improvement},
		{name: "unchanged on a busy machine", f: 1.01, sigma: 0.03, runs: 9, busy: true, want: Unchanged},
		{name: "A/A pairs moved as far: 3 of 36, p 4/37", f: 1.2, sigma: 0.03, runs: 9, top: []float64{0.25, 0.2, 0.19, 0.1}, want: Inconclusive,
			note: "A/A runs moved it as far in 10.8% of pairs"},
		{name: "no A/A pair moved as far", f: 1.2, sigma: 0.03, runs: 9, top: []float64{0.18, 0.1}, want: Regression},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, next := runOf("a", lookups("overlayfs", 1)...), runOf("b", lookups("overlayfs", c.f)...)
			if c.busy {
				next.Metrics = busyNow(next.Metrics)
			}
			c.opt.Noise = noiseOf(next, c.runs, Class{Driver: "overlayfs", Class: warmHits, Sigma: c.sigma, Largest: c.top})
			rep := compare(t, base, next, c.opt)
			v := classOfReport(t, rep, "overlayfs", warmHits)
			if v.Verdict != c.want || !strings.Contains(v.Note, c.note) {
				t.Errorf("%s (ratio %.4f, p %.3g, q %.3g, note %q), want %s (%q)", v.Verdict, v.Ratio, v.P, v.Q, v.Note, c.want, c.note)
			}
			if math.Abs(v.Ratio-c.f) > 1e-9 || v.Sigma != c.sigma || v.Df != c.runs-1 || v.Points != 3 {
				t.Errorf("ratio %v sigma %v df %d points %d, want %v %v %d 3", v.Ratio, v.Sigma, v.Df, v.Points, c.f, c.sigma, c.runs-1)
			}
			if len(c.top) > 0 && c.want == Inconclusive && math.Abs(v.P-4.0/37) > 1e-12 {
				t.Errorf("p %v, want the A/A pairs' 4/37", v.P)
			}
			if rep.Regressions() != rep.Counts[Regression] || (rep.Regressions() > 0) != (c.want == Regression) {
				t.Errorf("Regressions() %d with counts %v", rep.Regressions(), rep.Counts)
			}
		})
	}
}

// TestVerdictDefaultFloor: without a noise file, with one of another plan or machine, or for a class
// no A/A run measured, a class is judged at the default floor (15%, normal), and the report says so.
func TestVerdictDefaultFloor(t *testing.T) {
	base := runOf("a", lookups("overlayfs", 1)...)
	next := func(f float64) *result.Result { return runOf("b", lookups("overlayfs", f)...) }
	learnt := Class{Driver: "overlayfs", Class: warmHits, Sigma: 0.03} // would flag ×1.2
	otherPlan := noiseOf(next(1), 9, learnt)
	otherPlan.Plan = "p quick"
	otherMachine := noiseOf(next(1), 9, learnt)
	otherMachine.Fingerprint = "fp2"
	for _, c := range []struct {
		name      string
		noise     *Noise
		f         float64
		want      Verdict
		noiseFrom string
	}{
		{"none: ×1.2 (z 1.2, p 0.22)", nil, 1.2, Inconclusive, "no A/A runs"},
		{"none: ×1.5 (z 2.7, p 0.007)", nil, 1.5, Regression, "no A/A runs"},
		{"another plan", otherPlan, 1.2, Inconclusive, "another plan or machine: ignored"},
		{"another machine", otherMachine, 1.2, Inconclusive, "another plan or machine: ignored"},
		{"learnt for another driver", noiseOf(next(1), 9, Class{Driver: "native", Class: warmHits, Sigma: 0.03}), 1.2, Inconclusive, "9 A/A runs (fp)"},
		{"learnt", noiseOf(next(1), 9, learnt), 1.2, Regression, "9 A/A runs (fp)"},
	} {
		rep := compare(t, base, next(c.f), Options{Noise: c.noise})
		v := classOfReport(t, rep, "overlayfs", warmHits)
		if v.Verdict != c.want || !strings.Contains(rep.NoiseFrom, c.noiseFrom) {
			t.Errorf("%s: %s (p %.3g), noise from %q; want %s, %q", c.name, v.Verdict, v.P, rep.NoiseFrom, c.want, c.noiseFrom)
		}
		if c.want == Regression && c.noise != nil {
			continue
		}
		if v.Sigma != defaultSigma || v.Df != 0 || !strings.Contains(v.Note, "judged at the default floor") {
			t.Errorf("%s: sigma %v df %d note %q, want the default floor", c.name, v.Sigma, v.Df, v.Note)
		}
	}
}

// TestVerdictFloorRelative: with nothing tested changed, a class is judged against its floor (a
// machine that slowed down as a whole cancels) at its floor-relative noise; when a tested field
// differs, or a point has no floor, it is judged absolutely.
func TestVerdictFloorRelative(t *testing.T) {
	both := func(id string, f, floor float64) *result.Result {
		return runOf(id, append(lookups("overlayfs", f), floorStat(floor))...)
	}
	nc := Class{Driver: "overlayfs", Class: warmHits, Sigma: 0.3, RelSigma: 0.02}
	base := both("a", 1, 1)

	// The machine 30% slower, the floor with it: unchanged.
	next := both("b", 1.3, 1.3)
	rep := compare(t, base, next, Options{Noise: noiseOf(next, 9, nc)})
	v := classOfReport(t, rep, "overlayfs", warmHits)
	if rep.Basis != "floor-relative" || v.Verdict != Unchanged || math.Abs(v.Ratio-1) > 1e-9 || math.Abs(v.Absolute-1.3) > 1e-9 || math.Abs(v.Floor-1.3) > 1e-9 {
		t.Errorf("a slower machine: basis %s, %s ratio %v absolute %v floor %v", rep.Basis, v.Verdict, v.Ratio, v.Absolute, v.Floor)
	}
	// The driver 10% slower, the floor not: t 4.8 at the floor-relative noise, 0.3 at the absolute.
	next = both("b", 1.1, 1)
	v = classOfReport(t, compare(t, base, next, Options{Noise: noiseOf(next, 9, nc)}), "overlayfs", warmHits)
	if v.Verdict != Regression || v.Sigma != 0.02 {
		t.Errorf("the driver slower: %s at sigma %v, want a regression at the floor-relative 0.02", v.Verdict, v.Sigma)
	}
	// No floor-relative noise learnt: the absolute one.
	v = classOfReport(t, compare(t, base, next, Options{Noise: noiseOf(next, 9, Class{Driver: "overlayfs", Class: warmHits, Sigma: 0.3})}), "overlayfs", warmHits)
	if v.Verdict != Inconclusive || v.Sigma != 0.3 {
		t.Errorf("no floor-relative noise: %s at sigma %v, want inconclusive at 0.3", v.Verdict, v.Sigma)
	}
	// A new kernel: what moved with it is the point, the floor too.
	next = both("b", 1.3, 1.3)
	next.Env.Kernel = "6.19 y"
	rep = compare(t, base, next, Options{Noise: noiseOf(next, 9, Class{Driver: "overlayfs", Class: warmHits, Sigma: 0.05, RelSigma: 0.02})})
	v = classOfReport(t, rep, "overlayfs", warmHits)
	if rep.Basis != "absolute" || v.Verdict != Regression || math.Abs(v.Ratio-1.3) > 1e-9 || v.Sigma != 0.05 {
		t.Errorf("a new kernel: basis %s, %s ratio %v sigma %v, want absolute, a regression ×1.3 at 0.05", rep.Basis, v.Verdict, v.Ratio, v.Sigma)
	}
	// A run without the floor: that class is judged absolutely.
	next = runOf("b", lookups("overlayfs", 1.3)...)
	rep = compare(t, base, next, Options{Noise: noiseOf(next, 9, Class{Driver: "overlayfs", Class: warmHits, Sigma: 0.05, RelSigma: 0.02})})
	v = classOfReport(t, rep, "overlayfs", warmHits)
	if rep.Basis != "floor-relative" || v.Floor != 0 || math.Abs(v.Ratio-1.3) > 1e-9 || v.Sigma != 0.05 {
		t.Errorf("no floor in the new run: floor %v ratio %v sigma %v, want the absolute ×1.3 at 0.05", v.Floor, v.Ratio, v.Sigma)
	}
}

// TestVerdictMultipleTesting: a class at p 0.01 is a regression alone, and inconclusive among ten
// classes that did not move (Benjamini–Hochberg: q = 0.01 × 10 / 1).
func TestVerdictMultipleTesting(t *testing.T) {
	var bm, nm []result.Metric
	var cs []Class
	for i := range 10 {
		drv := "d" + strconv.Itoa(i)
		f := 1.0
		if i == 0 {
			f = 1.2
		}
		bm, nm = append(bm, lookups(drv, 1)...), append(nm, lookups(drv, f)...)
		cs = append(cs, Class{Driver: drv, Class: warmHits, Sigma: 0.0543})
	}
	alone := compare(t, runOf("a", bm[:3]...), runOf("b", nm[:3]...), Options{Noise: noiseOf(runOf("b"), 9, cs[0])})
	v := classOfReport(t, alone, "d0", warmHits)
	if v.Verdict != Regression || math.Abs(v.P-0.00997) > 0.0001 || v.Q != v.P {
		t.Errorf("alone: %s p %v q %v, want a regression at p = q ≈ 0.00997", v.Verdict, v.P, v.Q)
	}
	among := compare(t, runOf("a", bm...), runOf("b", nm...), Options{Noise: noiseOf(runOf("b"), 9, cs...)})
	v = classOfReport(t, among, "d0", warmHits)
	if v.Verdict != Inconclusive || math.Abs(v.Q-10*v.P) > 1e-12 {
		t.Errorf("among 10: %s p %v q %v, want inconclusive at q = 10p", v.Verdict, v.P, v.Q)
	}
	if among.Counts[Unchanged] != 9 || among.Counts[Inconclusive] != 1 {
		t.Errorf("counts %v", among.Counts)
	}
}

// TestVerdictMachineWide: with nothing tested changed, warm lookups slower on 4 of 4 drivers are the
// machine's (noisy); with a tested field changed, or a fault injected into one run only, they stand.
func TestVerdictMachineWide(t *testing.T) {
	mk := func(id string, f float64) *result.Result {
		var ms []result.Metric
		for _, d := range []string{"a", "b", "c", "d"} {
			ms = append(ms, lookups(d, f)...)
		}
		return runOf(id, ms...)
	}
	var cs []Class
	for _, d := range []string{"a", "b", "c", "d"} {
		cs = append(cs, Class{Driver: d, Class: warmHits, Sigma: 0.03})
	}
	for _, c := range []struct {
		name   string
		change func(*result.Result)
		want   Verdict
	}{
		{"nothing tested changed", func(*result.Result) {}, Noisy},
		{"a new containerd", func(r *result.Result) { r.Env.Containerd = "2.1" }, Regression},
		{"a fault in the new run", func(r *result.Result) { r.Run.Faults = []string{"slow:op.lookup:+30%"} }, Regression},
	} {
		base, next := mk("x", 1), mk("y", 1.3)
		base.Env.Containerd = "2.0"
		next.Env.Containerd = "2.0"
		c.change(next)
		rep := compare(t, base, next, Options{Noise: noiseOf(next, 9, cs...)})
		for _, v := range rep.Classes {
			if v.Verdict != c.want {
				t.Errorf("%s: %s %s, want %s (%s)", c.name, v.Driver, v.Verdict, c.want, v.Note)
			}
		}
		if c.want == Noisy && !strings.Contains(rep.Classes[0].Note, "op.lookup cache=warm regressed on 4 of 4 drivers with nothing tested changed") {
			t.Errorf("note %q", rep.Classes[0].Note)
		}
	}
}

// TestQuantityRules: deterministic quantities are judged point by point within their tolerance.
func TestQuantityRules(t *testing.T) {
	const MiB = 1 << 20
	used := map[string]string{"images": "1", "containers": "4"}
	build := map[string]string{"step": "build"}
	for _, c := range []struct {
		name     string
		metric   metric.ID
		params   map[string]string
		base, nw float64
		learnt   float64 // the A/A tolerance (0: none learnt)
		want     Verdict
		change   float64
	}{
		{"0.4% more: within 0.5%", metric.DiskUsed, used, 1e9, 1.004e9, 0, Unchanged, 0.004},
		{"0.6% more", metric.DiskUsed, used, 1e9, 1.006e9, 0, Regression, 0.006},
		{"1% less", metric.DiskUsed, used, 1e9, 0.99e9, 0, Improvement, -0.01},
		{"3% more within twice A/A's 2%", metric.DiskUsed, used, 1e9, 1.03e9, 0.02, Unchanged, 0.03},
		{"5% more beyond twice A/A's 2%", metric.DiskUsed, used, 1e9, 1.05e9, 0.02, Regression, 0.05},
		{"A/A moved it 12%: not gated", metric.DiskUsed, used, 1e9, 1.5e9, 0.12, Inconclusive, 0.5},
		{"from nothing", metric.DiskUsed, used, 0, 4096, 0, Regression, 1e9},
		{"to nothing", metric.DiskUsed, used, 4096, 0, 0, Improvement, -1},
		{"a ratio in points: +0.008 of 0.10", metric.DiskSharedSavings, used, 0.10, 0.108, 0, Unchanged, 0.008},
		{"a ratio higher is better: less saved", metric.DiskSharedSavings, used, 0.50, 0.48, 0, Regression, -0.02},
		{"a ratio higher is better: more saved", metric.DiskSharedSavings, used, 0.50, 0.52, 0, Improvement, 0.02},
		{"device writes 25% more: within 30%", metric.IOWriteBytes, build, 100 * MiB, 125 * MiB, 0, Unchanged, 0.25},
		{"device writes 45% more but 0.9 MiB", metric.IOWriteBytes, build, 2 * MiB, 2.9 * MiB, 0, Unchanged, 0.45},
		{"device writes 40% and 4 MiB more", metric.IOWriteBytes, build, 10 * MiB, 14 * MiB, 0, Regression, 0.4},
		{"device writes within twice A/A's 45%", metric.IOWriteBytes, build, 10 * MiB, 14 * MiB, 0.45, Unchanged, 0.4},
		{"device writes A/A moved 60%: not gated", metric.IOWriteBytes, build, 10 * MiB, 30 * MiB, 0.6, Inconclusive, 2},
		{"4 flushes more of 10", metric.IOFlushes, build, 10, 14, 0, Unchanged, 0.4},
		{"10 flushes more of 20", metric.IOFlushes, build, 20, 30, 0, Regression, 0.5},
		{"device reads: never gated", metric.IOReadBytes, build, 100 * MiB, 300 * MiB, 0, Inconclusive, 2},
		{"device reads unchanged", metric.IOReadBytes, build, 100 * MiB, 100 * MiB, 0, Unchanged, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := runOf("a", point("overlayfs", c.metric, c.params, []float64{c.base}))
			next := runOf("b", point("overlayfs", c.metric, c.params, []float64{c.nw}))
			var opt Options
			if c.learnt > 0 {
				opt.Noise = noiseOf(next, 9, Class{Driver: "overlayfs", Class: result.PointKey(c.metric, c.params), Tol: c.learnt})
			}
			rep := compare(t, base, next, opt)
			if len(rep.Quantities) != 1 || len(rep.Classes) != 0 {
				t.Fatalf("%d quantities, %d classes", len(rep.Quantities), len(rep.Classes))
			}
			q := rep.Quantities[0]
			if q.Verdict != c.want || math.Abs(q.Change-c.change) > 1e-9 || q.Base != c.base || q.New != c.nw {
				t.Errorf("%s change %v (tol %v, %q), want %s change %v", q.Verdict, q.Change, q.Tol, q.Note, c.want, c.change)
			}
			if c.want == Inconclusive && !strings.Contains(q.Note, "not gated") {
				t.Errorf("note %q does not say it is not gated", q.Note)
			}
		})
	}
}

// TestCompareBookkeeping: what Compare leaves out (metrics in one run only, the floors themselves,
// derived fits, times without a positive median), its defaults, and its order (regressions first).
func TestCompareBookkeeping(t *testing.T) {
	fit := point("overlayfs", metric.FitLookup, map[string]string{"kind": "hit", "cache": "warm"}, []float64{10})
	zero := point("native", metric.OpCreate, map[string]string{"size": "4KiB"}, []float64{0, 0, 0})
	bm := append(lookups("native", 1), lookups("overlayfs", 1)...)
	bm = append(bm, floorStat(1), fit, zero, point("overlayfs", metric.OpRead, map[string]string{"size": "4KiB", "cache": "warm"}, around(5000)))
	nm := append(lookups("native", 1), lookups("overlayfs", 1.5)...)
	nm = append(nm, floorStat(1), fit, zero, point("overlayfs", metric.DiskUsed, map[string]string{"images": "1"}, []float64{1e9}))
	rep := compare(t, runOf("a", bm...), runOf("b", nm...), Options{})
	if rep.OnlyOne != 2 {
		t.Errorf("only in one run: %d, want 2 (a read in the base, a disk figure in the new)", rep.OnlyOne)
	}
	if len(rep.Classes) != 2 || len(rep.Quantities) != 0 {
		t.Errorf("classes %+v quantities %+v: want the two drivers' lookups alone", rep.Classes, rep.Quantities)
	}
	if rep.Classes[0].Verdict != Regression || rep.Classes[1].Verdict != Unchanged {
		t.Errorf("order %s, %s: want the regression first (native's lookups come first in the runs)", rep.Classes[0].Verdict, rep.Classes[1].Verdict)
	}
	if v := rep.Classes[0]; v.Driver != "overlayfs" || math.Abs(v.Ratio-1.5) > 1e-9 || math.Abs(v.Floor-1) > 1e-9 {
		t.Errorf("%+v: want overlayfs ×1.5 against a floor that did not move", v)
	}
	if rep.Alpha != DefaultAlpha || rep.MinEffect != DefaultMinEffect || rep.Counts[Regression]+rep.Counts[Unchanged] != 2 {
		t.Errorf("alpha %v min effect %v counts %v", rep.Alpha, rep.MinEffect, rep.Counts)
	}
	for _, v := range []Verdict{Regression, Noisy, Improvement, Inconclusive, Unchanged} {
		if r := verdictRank(v); r < 0 || v != Regression && r <= verdictRank(Regression) {
			t.Errorf("rank of %s: %d", v, r)
		}
	}
}

// TestClassOf: which points make one class.
func TestClassOf(t *testing.T) {
	m := func(name metric.ID, kv ...string) *result.Metric {
		p := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		x := point("d", name, p, nil)
		return &x
	}
	for _, c := range []struct {
		m    *result.Metric
		want string
	}{
		{m(metric.OpLookup, "depth", "3", "layers", "4", "kind", "hit", "cache", "mount", "image", "web"), "op.lookup cache=mount kind=hit"},
		{m(metric.CopyupLatency, "size", "1MiB", "how", "append", "write", "first", "cache", "warm"), "copyup.latency cache=warm how=append write=first size>=1MiB"},
		{m(metric.CopyupLatency, "size", "1023KiB", "how", "chmod", "write", "second", "cache", "warm"), "copyup.latency cache=warm how=chmod write=second size<1MiB"},
		{m(metric.SnapshotPrepare, "container", "web-1"), "snapshot.prepare container"},
		{m(metric.SnapshotPrepare, "layer", "debian"), "snapshot.prepare layer"},
		{m(metric.OpRename, "result", "exdev"), "op.rename result=exdev"},
		{m(metric.DiskUsed, "images", "1"), result.PointKey(metric.DiskUsed, map[string]string{"images": "1"})},
	} {
		if got := classOf(c.m); got != c.want {
			t.Errorf("classOf(%s %v) = %q, want %q", c.m.Name, c.m.Params, got, c.want)
		}
	}
	if got := kindOf(m(metric.OpLookup, "cache", "cold", "kind", "miss")); got != "op.lookup cache=cold" {
		t.Errorf("kindOf = %q", got)
	}
	// One point of five ×3, the others as they were: the class's median does not move.
	base, next := runOf("a"), runOf("b")
	for i, f := range []float64{1, 1, 3, 1, 1} {
		p := map[string]string{"kind": "hit", "cache": "warm", "depth": strconv.Itoa(i + 1)}
		base.Metrics = append(base.Metrics, point("d", metric.OpLookup, p, around(2000)))
		next.Metrics = append(next.Metrics, point("d", metric.OpLookup, p, around(2000*f)))
	}
	if v := classOfReport(t, compare(t, base, next, Options{}), "d", warmHits); v.Ratio != 1 || v.Verdict != Unchanged {
		t.Errorf("one point of five ×3: ratio %v %s, want 1, unchanged", v.Ratio, v.Verdict)
	}
}
