package gate

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// series makes n runs on a machine wandering ±10% from run to run; from run `from` (1-based; 0 =
// never) overlayfs's large copy-ups are 20% slower and its disk.used 5% larger.
func series(n, from int, seed uint64) []*result.Result {
	rng := rand.New(rand.NewPCG(seed, 3))
	var rs []*result.Result
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		slow, disk := 1.0, 1.0
		if from > 0 && i >= from {
			slow, disk = 1.2, 1.05
		}
		r := synth("h"+strconv.Itoa(i), seed*100+uint64(i), math.Exp(0.1*rng.NormFloat64()), slow, disk)
		r.Run.Started = t0.Add(time.Duration(i) * 24 * time.Hour)
		rs = append(rs, r)
	}
	// Any order in: history orders by run time.
	rs[0], rs[n-1] = rs[n-1], rs[0]
	return rs
}

func TestHistory(t *testing.T) {
	n := learn(t)
	h, err := BuildHistory(series(8, 5, 7), Options{Noise: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Groups) != 1 || len(h.Groups[0].Runs) != 8 || h.Groups[0].Runs[0].ID != "h1" {
		t.Fatalf("groups %+v: want one of 8 runs, oldest first", h.Groups)
	}
	var found, disk bool
	for _, c := range h.Groups[0].Classes {
		for _, cp := range c.Changes {
			if c.Driver == "overlayfs" && strings.Contains(c.Class, "size>=1MiB") && cp.At == 4 && cp.Verdict == Regression && math.Abs(cp.Ratio-1.2) < 0.05 {
				found = true
			} else {
				t.Errorf("spurious change point: %s %s at run %d: %+v", c.Driver, c.Class, cp.At+1, cp)
			}
		}
	}
	for _, q := range h.Groups[0].Quantities {
		switch {
		case q.Driver == "overlayfs" && q.Name == metric.DiskUsed:
			disk = len(q.Steps) == 1 && q.Steps[0] == 4
		case len(q.Steps) > 0:
			t.Errorf("quantity %s %s stepped at %v", q.Driver, q.Name, q.Steps)
		}
	}
	if !found || !disk {
		t.Errorf("the slowdown from run 5: copy-ups found %v, disk.used step %v", found, disk)
	}
	// A/A: no change point.
	for seed := uint64(10); seed < 20; seed++ {
		h, err := BuildHistory(series(8, 0, seed), Options{Noise: n})
		if err != nil {
			t.Fatal(err)
		}
		if _, all := h.Changes(); all > 0 {
			t.Errorf("A/A series %d: %d change points", seed, all)
		}
	}
	if _, err := BuildHistory(series(1, 0, 1), Options{Noise: n}); err == nil {
		t.Error("one run: want an error")
	}
	rs := series(3, 0, 1)
	rs[1].Scenario.Name = "other"
	if _, err := BuildHistory(rs, Options{Noise: n}); err == nil || !strings.Contains(err.Error(), "one scenario") {
		t.Errorf("two scenarios: %v", err)
	}
}

// levels makes a run a day whose overlayfs lookups stand at levels[i] (0: the run lacks them), its
// floor unmoved, and whose disk use is disk[i].
func levels(ls []float64, disk []float64) []*result.Result {
	var rs []*result.Result
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i, l := range ls {
		r := runOf("r"+strconv.Itoa(i+1), floorStat(1), point("overlayfs", metric.DiskUsed, map[string]string{"images": "1"}, []float64{disk[i]}))
		if l > 0 {
			r.Metrics = append(r.Metrics, lookups("overlayfs", l)...)
		}
		r.Run.Started = t0.Add(time.Duration(i) * 24 * time.Hour)
		rs = append(rs, r)
	}
	return rs
}

// TestHistoryRules: where a series has a change point, and where it has none.
func TestHistoryRules(t *testing.T) {
	flat := []float64{1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9}
	noise := noiseOf(runOf("x"), 9, Class{Driver: "overlayfs", Class: warmHits, Sigma: 0.04, RelSigma: 0.02})
	for _, c := range []struct {
		name   string
		levels []float64
		noise  *Noise
		opt    Options
		want   []ChangePoint // At and Verdict
	}{
		{"a step up at run 5", []float64{1, 1.01, 0.99, 1, 1.2, 1.21, 1.19, 1.2}, noise, Options{}, []ChangePoint{{At: 4, Verdict: Regression}}},
		{"a step down at run 5", []float64{1, 1.01, 0.99, 1, 0.8, 0.81, 0.79, 0.8}, noise, Options{}, []ChangePoint{{At: 4, Verdict: Improvement}}},
		{"two runs after the step", []float64{1, 1.01, 0.99, 1, 1, 1.01, 1.2, 1.2}, noise, Options{}, []ChangePoint{{At: 6, Verdict: Regression}}},
		{"one run after a step of 9%: too few", []float64{1, 1.01, 0.99, 1, 1, 1.01, 0.99, 1.09}, noise, Options{}, nil},
		{"up and back down", []float64{1, 1, 1, 1.3, 1.3, 1.3, 1, 1}, noise, Options{}, []ChangePoint{{At: 3, Verdict: Regression}, {At: 6, Verdict: Improvement}}},
		{"a 4% step: within the minimum effect", []float64{1, 1, 1, 1, 1.04, 1.04, 1.04, 1.04}, noise, Options{}, nil},
		{"a 4% step, a minimum effect of 3%", []float64{1, 1, 1, 1, 1.04, 1.04, 1.04, 1.04}, noise, Options{MinEffect: 0.03}, []ChangePoint{{At: 4, Verdict: Regression}}},
		{"a 20% step at the default floor (15%)", []float64{1, 1.01, 0.99, 1, 1.2, 1.21, 1.19, 1.2}, nil, Options{}, nil},
		{"a 60% step at the default floor", []float64{1, 1.01, 0.99, 1, 1.6, 1.61, 1.59, 1.6}, nil, Options{}, []ChangePoint{{At: 4, Verdict: Regression}}},
		{"a run without the class", []float64{1, 1.01, 0.99, 0, 1.2, 1.21, 1.19, 1.2}, noise, Options{}, nil},
	} {
		opt := c.opt
		opt.Noise = c.noise
		h, err := BuildHistory(levels(c.levels, flat), opt)
		if err != nil {
			t.Fatal(err)
		}
		g := h.Groups[0]
		var cs *ClassSeries
		for i := range g.Classes {
			if g.Classes[i].Driver == "overlayfs" && g.Classes[i].Class == warmHits {
				cs = &g.Classes[i]
			}
		}
		if cs == nil {
			t.Fatalf("%s: no series of %s", c.name, warmHits)
		}
		var got []ChangePoint
		for _, cp := range cs.Changes {
			got = append(got, ChangePoint{At: cp.At, Verdict: cp.Verdict})
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: changes %+v, want %+v (levels %v)", c.name, cs.Changes, c.want, cs.Levels)
		}
		if cs.Basis != "floor-relative" && !slices.Contains(c.levels, 0) {
			t.Errorf("%s: basis %s, want floor-relative (every run has the floor)", c.name, cs.Basis)
		}
		if slices.Contains(c.levels, 0) && !slices.Equal(cs.Missing, []int{3}) {
			t.Errorf("%s: missing %v, want [3]", c.name, cs.Missing)
		}
		if _, all := h.Changes(); all != len(c.want) {
			t.Errorf("%s: Changes() counts %d", c.name, all)
		}
	}
}

// TestHistoryQuantities: a quantity steps where it moved beyond the gate's tolerance between two
// consecutive runs; a device's reads never do.
func TestHistoryQuantities(t *testing.T) {
	ls := []float64{1, 1, 1, 1, 1}
	for _, c := range []struct {
		name string
		disk []float64
		want []int
	}{
		{"unchanged", []float64{1e9, 1e9, 1e9, 1e9, 1e9}, nil},
		{"within 0.5% each night", []float64{1e9, 1.004e9, 1.008e9, 1.012e9, 1.016e9}, nil},
		{"steps at runs 2 and 4", []float64{1e9, 1.1e9, 1.1e9, 1e9, 1e9}, []int{1, 3}},
	} {
		h, err := BuildHistory(levels(ls, c.disk), Options{})
		if err != nil {
			t.Fatal(err)
		}
		q := h.Groups[0].Quantities[0]
		if q.Name != metric.DiskUsed || !slices.Equal(q.Steps, c.want) || q.Values[1] != c.disk[1] {
			t.Errorf("%s: %+v, want steps %v", c.name, q, c.want)
		}
	}
	rs := levels(ls, []float64{1e9, 1e9, 1e9, 1e9, 1e9})
	for i, r := range rs {
		r.Metrics = append(r.Metrics, point("overlayfs", metric.IOReadBytes, map[string]string{"step": "build"}, []float64{float64(1+i%2) * 1e8}))
	}
	rs[2].Metrics = rs[2].Metrics[:len(rs[2].Metrics)-1]
	h, err := BuildHistory(rs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range h.Groups[0].Quantities {
		if q.Name == metric.IOReadBytes && (len(q.Steps) != 0 || !slices.Equal(q.Missing, []int{2})) {
			t.Errorf("device reads: %+v, want no steps, run 3 missing", q)
		}
	}
}

// TestHistoryGroups: runs of two machines are two series, each judged by its own machine's noise.
func TestHistoryGroups(t *testing.T) {
	rs := levels([]float64{1, 1.01, 0.99, 1, 1.2, 1.21, 1.19, 1.2}, []float64{1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9})
	other := levels([]float64{1, 1.01, 0.99, 1, 1.2, 1.21, 1.19, 1.2}, []float64{1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9})
	for _, r := range other {
		r.Env.Fingerprint = "fp2"
		r.Run.ID += "b"
		r.Run.Started = r.Run.Started.Add(time.Hour)
	}
	noise := noiseOf(runOf("x"), 9, Class{Driver: "overlayfs", Class: warmHits, Sigma: 0.04, RelSigma: 0.02})
	h, err := BuildHistory(append(rs, other...), Options{Noise: noise})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Groups) != 2 || h.Groups[0].Fingerprint != "fp" || h.Groups[1].Fingerprint != "fp2" || len(h.Groups[1].Runs) != 8 {
		t.Fatalf("groups %+v", h.Groups)
	}
	for i, want := range []int{1, 0} { // fp2 has no noise of its own: the default floor, which ×1.2 does not pass
		for _, c := range h.Groups[i].Classes {
			if c.Class == warmHits && len(c.Changes) != want {
				t.Errorf("group %s: %d changes (sigma %v), want %d", h.Groups[i].Fingerprint, len(c.Changes), c.Sigma, want)
			}
		}
	}
}

// TestHistoryMultipleTesting: a change point at p ≈ 0.01 (after Bonferroni over the splits) is found
// in a class alone, and not among ten classes (Benjamini–Hochberg over the classes: q ≈ 0.1).
func TestHistoryMultipleTesting(t *testing.T) {
	step := []float64{1, 1.01, 0.99, 1, 1.2, 1.21, 1.19, 1.2}
	mk := func(drivers int) []*result.Result {
		rs := levels(step, []float64{1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9, 1e9})
		for _, r := range rs {
			for d := 1; d < drivers; d++ {
				r.Metrics = append(r.Metrics, lookups("d"+strconv.Itoa(d), 1)...)
			}
		}
		return rs
	}
	var cs []Class
	for d := range 10 {
		cs = append(cs, Class{Driver: "d" + strconv.Itoa(d), Class: warmHits, Sigma: 0.3, RelSigma: 0.079})
	}
	cs[0].Driver = "overlayfs"
	noise := noiseOf(runOf("x"), 9, cs...)
	for _, c := range []struct {
		drivers int
		want    int
	}{{1, 1}, {10, 0}} {
		h, err := BuildHistory(mk(c.drivers), Options{Noise: noise})
		if err != nil {
			t.Fatal(err)
		}
		if _, all := h.Changes(); all != c.want {
			t.Errorf("%d classes: %d change points, want %d", c.drivers, all, c.want)
		}
		if c.want == 1 {
			if cp := h.Groups[0].Classes[0].Changes[0]; cp.At != 4 || cp.P < 0.005 || cp.P > 0.02 {
				t.Errorf("change point %+v, want at run 5 with p ≈ 0.01", cp)
			}
		}
	}
}

// Each run's level lies within its interval, and a class that moved has a segment on each side of
// its change point, each band around its own level, the band after the change clear of the level
// before it.
func TestHistoryIntervalsAndBands(t *testing.T) {
	n := learn(t)
	h, err := BuildHistory(series(8, 5, 7), Options{Noise: n})
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, c := range h.Groups[0].Classes {
		if len(c.Intervals) != len(c.Levels) {
			t.Fatalf("%s %s: %d intervals for %d levels", c.Driver, c.Class, len(c.Intervals), len(c.Levels))
		}
		for i, iv := range c.Intervals {
			if iv.Confidence > 0 && !(iv.Lo <= c.Levels[i]*(1+1e-9) && c.Levels[i] <= iv.Hi*(1+1e-9)) {
				t.Errorf("%s %s run %d: level %.3f outside its interval [%.3f, %.3f]", c.Driver, c.Class, i+1, c.Levels[i], iv.Lo, iv.Hi)
			}
		}
		if want := len(c.Changes) + 1; len(c.Segments) != want {
			t.Errorf("%s %s: %d segments for %d change points", c.Driver, c.Class, len(c.Segments), len(c.Changes))
			continue
		}
		for _, sg := range c.Segments {
			if !(sg.BandLo < sg.Level && sg.Level < sg.BandHi) {
				t.Errorf("%s %s: band [%.3f, %.3f] not around level %.3f", c.Driver, c.Class, sg.BandLo, sg.BandHi, sg.Level)
			}
		}
		if len(c.Changes) == 1 {
			moved++
			before, after := c.Segments[0], c.Segments[1]
			if before.To != 5-1 || after.From != 5-1 || after.To != 8 || !(after.BandLo > before.Level) {
				t.Errorf("%s %s: segments %+v around a change at run 5", c.Driver, c.Class, c.Segments)
			}
		}
	}
	if moved == 0 {
		t.Error("no class moved: the series' regression was not found")
	}
}
