package gate

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// TestLearnFigures: three A/A runs whose lookups stand at 1, 1.1 and 1.21 (the floor at 1, 1, 1.1),
// and whose disk use is 1000, 1010 and 1000: the noise of every figure, by hand.
func TestLearnFigures(t *testing.T) {
	mk := func(id string, f, floor, disk float64) *result.Result {
		ms := append(lookups("overlayfs", f), floorStat(floor), point("overlayfs", metric.DiskUsed, map[string]string{"images": "1"}, []float64{disk}))
		return runOf(id, ms...)
	}
	n, err := Learn([]*result.Result{mk("a", 1, 1, 1000), mk("b", 1.1, 1, 1010), mk("c", 1.21, 1.1, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	if n.Schema != NoiseSchema || n.Plan != "p" || n.Fingerprint != "fp" || n.MeasureCode != "m1" || !slices.Equal(n.Runs, []string{"a", "b", "c"}) {
		t.Errorf("noise %+v", n)
	}
	c := n.class("overlayfs", warmHits)
	if c == nil {
		t.Fatalf("no class %s in %+v", warmHits, n.Classes)
	}
	// The pairs a–b, a–c, b–c moved the class by ln 1.1, 2·ln 1.1, ln 1.1; against the floor by
	// ln 1.1, ln 1.1, 0.
	a := math.Log(1.1)
	if c.Pairs != 3 || c.Runs != 3 {
		t.Errorf("pairs %d runs %d, want 3 3", c.Pairs, c.Runs)
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"sigma", c.Sigma, a * math.Sqrt2},              // √((a² + 4a² + a²) / 3)
		{"rel sigma", c.RelSigma, a * math.Sqrt(2.0/3)}, // √((a² + a² + 0) / 3)
		{"point sigma", c.PointSigma, a * math.Sqrt2},   // every point moved as the class
	} {
		if math.Abs(f.got-f.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if len(c.Largest) != 3 || math.Abs(c.Largest[0]-2*a) > 1e-12 || math.Abs(c.Largest[2]-a) > 1e-12 || math.Abs(c.LargestRel[0]-a) > 1e-12 || c.LargestRel[2] != 0 {
		t.Errorf("largest %v, largest against the floor %v", c.Largest, c.LargestRel)
	}
	d := n.class("overlayfs", result.PointKey(metric.DiskUsed, map[string]string{"images": "1"}))
	if d == nil || math.Abs(d.Tol-0.01) > 1e-12 || d.Sigma != 0 {
		t.Errorf("disk.used noise %+v, want a tolerance of 1%% (1000 to 1010, the largest of the pairs)", d)
	}
	if n.class("native", warmHits) != nil || (*Noise)(nil).class("overlayfs", warmHits) != nil {
		t.Error("a class nobody measured")
	}
	if got := largest([]float64{-3, 1, 2, -0.5}, 2); !slices.Equal(got, []float64{3, 2}) {
		t.Errorf("largest = %v", got)
	}
}

// TestLearnRefusesRuns: every run must be an A/A run of the one plan, machine and measuring code.
func TestLearnRefusesRuns(t *testing.T) {
	for _, c := range []struct {
		change func(*result.Result)
		want   string
	}{
		{func(r *result.Result) { r.Run.Quick = true }, "run c is of another plan (p quick, not p)"},
		{func(r *result.Result) { r.Run.Samples = 20 }, "run c is of another plan (p samples=20, not p)"},
		{func(r *result.Result) { r.Env.Fingerprint = "fp2" }, "run c is of another kind of machine (fingerprint fp2, not fp)"},
		{func(r *result.Result) { r.Run.MeasureCode = "m2" }, "run c was measured by other code (m2, not m1)"},
		{func(r *result.Result) { r.Run.Faults = []string{"write:build:+1MiB"} }, "run c had faults injected (write:build:+1MiB): it is no A/A run"},
	} {
		rs := []*result.Result{runOf("a", lookups("x", 1)...), runOf("b", lookups("x", 1)...), runOf("c", lookups("x", 1)...)}
		c.change(rs[2])
		if _, err := Learn(rs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
	}
	// Leaving runs out: the floors of the rest, never fewer than 3.
	var rs []*result.Result
	for _, id := range []string{"a", "b", "c", "d"} {
		rs = append(rs, runOf(id, lookups("x", 1)...))
	}
	l, err := newLearner(rs)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := l.noise(map[string]bool{"b": true}); err != nil || !slices.Equal(n.Runs, []string{"a", "c", "d"}) || n.Classes[0].Pairs != 3 {
		t.Errorf("leaving b out: %v %+v", err, n)
	}
	if _, err := l.noise(map[string]bool{"a": true, "b": true}); err == nil || !strings.Contains(err.Error(), "3 runs of the same plan at least, got 2") {
		t.Errorf("leaving two of four out: %v", err)
	}
}
