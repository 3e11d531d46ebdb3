package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/result"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestSummarize(t *testing.T) {
	xs := []float64{9, 1, 8, 2, 7, 3, 6, 4, 5, 10}
	orig := slices.Clone(xs)
	s := Summarize(xs)
	if !slices.Equal(xs, orig) {
		t.Error("Summarize modified its input")
	}
	if s.N != 10 || s.Median != 5.5 || s.Min != 1 || s.Max != 10 || s.Mean != 5.5 || s.P95 != 10 {
		t.Errorf("Summarize = %+v", s)
	}
	// Order statistics for n = 10 at 95%: the 2nd and 9th values (98.9%).
	if s.CILo != 2 || s.CIHi != 9 || s.Confidence < 0.95 || s.Confidence > 1 {
		t.Errorf("CI = [%v, %v] at %v, want [2, 9] at ≥ 0.95", s.CILo, s.CIHi, s.Confidence)
	}
	if ws := Warnings(xs, s); len(ws) != 1 || ws[0].Kind != result.WarnHighVariance || !strings.HasPrefix(ws[0].Text, "high variance: CV 55%") {
		t.Errorf("Warnings = %q, want only high variance", ws)
	}
}

func TestSummarizeMedianCI(t *testing.T) {
	// The interval brackets the sample median, and in ~95% of repetitions the population median.
	rng := rand.New(rand.NewPCG(1, 2))
	const trials, n, popMedian = 400, 20, 100.0
	covered := 0
	for range trials {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = popMedian * math.Exp(0.3*rng.NormFloat64()) // lognormal, median 100
		}
		s := Summarize(xs)
		if s.CILo > s.Median || s.Median > s.CIHi {
			t.Fatalf("median %v outside its CI [%v, %v]", s.Median, s.CILo, s.CIHi)
		}
		if s.CILo <= popMedian && popMedian <= s.CIHi {
			covered++
		}
	}
	if rate := float64(covered) / trials; rate < 0.92 {
		t.Errorf("CI covered the population median in %.1f%% of trials, want ≈ ≥ 95%%", 100*rate)
	}
}

func TestSummarizeSmall(t *testing.T) {
	for _, tc := range []struct {
		xs       []float64
		conf     float64
		lo, hi   float64
		warnings []result.Warning
	}{
		{[]float64{3, 1, 2}, 0.75, 1, 3, []result.Warning{
			{Kind: result.WarnNoInterval, Text: "need >= 6 samples for confidence interval at level 0.95 (interval shown is min..max, 75% confidence)"},
			{Kind: result.WarnFewSamples, Text: "only 3 samples"},
			{Kind: result.WarnHighVariance, Text: "high variance: CV 50%"}}},
		{[]float64{10, 10, 10, 10, 10}, 0.9375, 10, 10, []result.Warning{
			{Kind: result.WarnNoInterval, Text: "need >= 6 samples for confidence interval at level 0.95 (interval shown is min..max, 94% confidence)"}}},
		{[]float64{7}, 0, 7, 7, []result.Warning{}},
	} {
		s := Summarize(tc.xs)
		if s.N != len(tc.xs) || s.CILo != tc.lo || s.CIHi != tc.hi || !near(s.Confidence, tc.conf, 1e-12) {
			t.Errorf("Summarize(%v) = %+v, want CI [%v, %v] at %v", tc.xs, s, tc.lo, tc.hi, tc.conf)
		}
		if ws := Warnings(tc.xs, s); !slices.Equal(ws, tc.warnings) {
			t.Errorf("Warnings(%v) = %q, want %q", tc.xs, ws, tc.warnings)
		}
	}
	// Six samples reach 95% with the extreme order statistics.
	s := Summarize([]float64{1, 2, 3, 4, 5, 6})
	if s.CILo != 1 || s.CIHi != 6 || s.Confidence < 0.95 {
		t.Errorf("n=6: %+v", s)
	}
	if (Summarize(nil) != result.Summary{}) {
		t.Error("Summarize(nil) not zero")
	}
	if ws := Warnings(nil, result.Summary{}); !slices.Equal(ws, []result.Warning{{Kind: result.WarnNoSamples, Text: "no samples"}}) {
		t.Errorf("Warnings(nil) = %q", ws)
	}
	xs := []float64{1, math.NaN(), 2, math.Inf(1), 3, 4, 5, 6}
	s = Summarize(xs)
	if s.N != 6 || s.Max != 6 {
		t.Errorf("non-finite samples not ignored: %+v", s)
	}
	if ws := Warnings(xs, s); len(ws) == 0 || ws[0] != (result.Warning{Kind: result.WarnNonFinite, Text: "2 non-finite samples ignored"}) {
		t.Errorf("Warnings = %q", ws)
	}
}

func TestAnnotate(t *testing.T) {
	m := result.Metric{Samples: []float64{1, 2, 3}, Warnings: []result.Warning{{Kind: result.WarnEviction, Text: "eviction incomplete: 4096 bytes resident"}}}
	Annotate(&m)
	Annotate(&m) // idempotent
	if m.Summary.N != 3 || len(m.Warnings) != 4 || m.Warnings[0].Text != "eviction incomplete: 4096 bytes resident" {
		t.Errorf("Annotate: %+v", m)
	}
	r := &result.Result{Metrics: []result.Metric{{Samples: []float64{4, 5}}}}
	AnnotateAll(r)
	if r.Metrics[0].Summary.Median != 4.5 {
		t.Errorf("AnnotateAll: %+v", r.Metrics[0])
	}
	// Resummarize with Summarize gives the same summaries.
	r.Metrics[0].Summary = result.Summary{}
	r.Resummarize(Summarize)
	if r.Metrics[0].Summary.Median != 4.5 {
		t.Errorf("Resummarize(Summarize): %+v", r.Metrics[0])
	}
}

func TestFitExact(t *testing.T) {
	// copy-up = 1.4 ms + 0.73 ns/B × size, three samples a size.
	x := []float64{4096, 1 << 20, 64 << 20, 256 << 20, 1 << 30}
	y := make([][]float64, len(x))
	for i, v := range x {
		c := 1.4e6 + 0.73*v
		y[i] = []float64{c, c, c}
	}
	f := Fit(x, y, 1)
	if f.N != 5 || f.Samples != 15 || !near(f.Alpha, 1.4e6, 1e-3) || !near(f.Beta, 0.73, 1e-12) || !near(f.R2, 1, 1e-12) || f.MinX != 4096 {
		t.Errorf("Fit = %+v", f)
	}
	if !(f.BetaCILo <= 0.73 && 0.73 <= f.BetaCIHi) || f.BetaCIHi-f.BetaCILo > 1e-9 {
		t.Errorf("noise-free slope CI [%v, %v], want ≈ 0.73 exactly", f.BetaCILo, f.BetaCIHi)
	}
}

func TestFitRobust(t *testing.T) {
	// lookup = 13 µs + 0.37 µs × depth, with noise and one stalled point: Theil–Sen through the
	// medians keeps the slope; the bootstrap interval contains it and means something.
	rng := rand.New(rand.NewPCG(3, 4))
	var x []float64
	var y [][]float64
	for depth := 1; depth <= 128; depth *= 2 {
		var s []float64
		for range 10 {
			s = append(s, 13000+370*float64(depth)+500*rng.NormFloat64())
		}
		if depth == 4 {
			s = []float64{5e6, 5e6, 5e6, 5e6, 5e6, 5e6, 5e6, 5e6, 5e6, 5e6} // a point that stalled throughout
		}
		x, y = append(x, float64(depth)), append(y, s)
	}
	f := Fit(x, y, 7)
	if !(f.BetaCILo < 370 && 370 < f.BetaCIHi) || f.BetaCIHi-f.BetaCILo > 100 {
		t.Errorf("slope %v [%v, %v], want ∋ 370 and narrow despite the stalled point", f.Beta, f.BetaCILo, f.BetaCIHi)
	}
	if g := Fit(x, y, 7); g != f {
		t.Errorf("the same seed gave %+v then %+v", f, g)
	}
	// Coverage: most repetitions contain the true slope.
	covered := 0
	const trials = 100
	for i := range trials {
		for j := range y {
			for k := range y[j] {
				y[j][k] = 13000 + 370*x[j] + 2000*rng.NormFloat64()
			}
		}
		if f := Fit(x, y, uint64(i)); f.BetaCILo <= 370 && 370 <= f.BetaCIHi {
			covered++
		}
	}
	if rate := float64(covered) / trials; rate < 0.85 {
		t.Errorf("slope CI coverage %.0f%%, want ≈ 95%%", 100*rate)
	}
}

func TestFitDegenerate(t *testing.T) {
	if f := Fit([]float64{1, 2}, [][]float64{{1}}, 0); f.N != 0 || !math.IsNaN(f.Beta) {
		t.Errorf("mismatched: %+v", f)
	}
	if f := Fit([]float64{1}, [][]float64{{1}}, 0); f.N != 1 || !math.IsNaN(f.Beta) {
		t.Errorf("one point: %+v", f)
	}
	if f := Fit([]float64{1, 3}, [][]float64{{2}, {6}}, 0); f.Beta != 2 || f.R2 != 1 || !math.IsNaN(f.BetaCILo) {
		t.Errorf("two points: %+v", f)
	}
	if f := Fit([]float64{1, 2, 3}, [][]float64{{5}, {5}, {5}}, 0); f.Beta != 0 || f.Alpha != 5 || f.R2 != 1 || f.BetaCILo != 0 || f.BetaCIHi != 0 {
		t.Errorf("flat: %+v", f)
	}
}

// TestSummarizeSeries: a series whose samples drift (each create meets a fuller directory) gets an
// interval from its batches' medians, wider than the samples' own would claim, and still around
// the median.
func TestSummarizeSeries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var xs []float64
	level := 1000.0
	for range 100 {
		level += 20 * rng.NormFloat64() // a random walk: successive samples depend on each other
		xs = append(xs, level+5*rng.NormFloat64())
	}
	iid, ser := Summarize(xs), SummarizeSeries(xs, 10)
	if ser.Median != iid.Median || ser.N != 100 {
		t.Errorf("series %+v, samples %+v: the same median and n", ser, iid)
	}
	if !(ser.CIHi-ser.CILo > iid.CIHi-iid.CILo) || !(ser.CILo <= ser.Median && ser.Median <= ser.CIHi) || ser.Confidence < 0.95 {
		t.Errorf("series interval [%v, %v] (%.3f), samples' [%v, %v]: want wider, around the median, 95%%",
			ser.CILo, ser.CIHi, ser.Confidence, iid.CILo, iid.CIHi)
	}
	if s := SummarizeSeries(xs[:15], 10); s != Summarize(xs[:15]) {
		t.Errorf("too few for batches: %+v", s)
	}
}
