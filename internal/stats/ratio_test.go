package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMedianRatio(t *testing.T) {
	a := []float64{20, 22, 21, 19, 20, 23, 18, 20}
	b := []float64{10, 11, 10, 9, 10, 12, 9, 10}
	r := MedianRatio([][]float64{a}, [][]float64{b}, "x")
	if r.Ratio != 2 || r.N != 16 || r.Method != RatioBootstrap || r.Confidence != Confidence {
		t.Errorf("MedianRatio = %+v, want ratio 2 of 16 samples at 95%% by bootstrap", r)
	}
	if !(r.Lo <= 2 && 2 <= r.Hi) || r.Lo < 1.5 || r.Hi > 2.6 {
		t.Errorf("interval [%v, %v] around 2", r.Lo, r.Hi)
	}
	// The same key gives the same interval; the inputs are left as they were.
	if again := MedianRatio([][]float64{a}, [][]float64{b}, "x"); again != r {
		t.Errorf("second call %+v, first %+v", again, r)
	}
	if a[0] != 20 || b[0] != 10 {
		t.Error("MedianRatio modified its input")
	}

	for _, tc := range []struct {
		name       string
		a, b       []float64
		ratio      float64
		noInterval bool
	}{
		{"one sample a side", []float64{4}, []float64{2}, 2, true},
		{"no samples", nil, []float64{2, 3}, math.NaN(), true},
		{"zero denominator", []float64{1, 2}, []float64{0, 0, 0}, math.NaN(), true},
		{"non-finite ignored", []float64{4, math.NaN(), 4}, []float64{2, 2, math.Inf(1)}, 2, false},
	} {
		r := MedianRatio([][]float64{tc.a}, [][]float64{tc.b}, tc.name)
		if !(r.Ratio == tc.ratio || math.IsNaN(r.Ratio) && math.IsNaN(tc.ratio)) {
			t.Errorf("%s: ratio %v, want %v", tc.name, r.Ratio, tc.ratio)
		}
		if got := math.IsNaN(r.Lo) || math.IsNaN(r.Hi); got != tc.noInterval {
			t.Errorf("%s: interval [%v, %v], want none: %v", tc.name, r.Lo, r.Hi, tc.noInterval)
		}
	}
}

func TestMedianRatioCoverage(t *testing.T) {
	// Lognormal samples whose medians are 3 and 1: the interval holds 3 in about 95% of trials.
	rng := rand.New(rand.NewPCG(3, 4))
	const trials, n = 300, 20
	covered := 0
	for i := range trials {
		a, b := make([]float64, n), make([]float64, n)
		for j := range n {
			a[j] = 3 * math.Exp(0.3*rng.NormFloat64())
			b[j] = math.Exp(0.3 * rng.NormFloat64())
		}
		r := MedianRatio([][]float64{a}, [][]float64{b}, string(rune(i)))
		if r.Lo <= 3 && 3 <= r.Hi {
			covered++
		}
	}
	if rate := float64(covered) / trials; rate < 0.90 {
		t.Errorf("interval covered the true ratio in %.1f%% of trials, want ≈ 95%%", 100*rate)
	}
}

func TestMedianRatioPoints(t *testing.T) {
	// Three points measured twice a side: the median of their ratios, by bootstrap.
	a := [][]float64{{20, 22}, {300, 330}, {4, 4.4}}
	b := [][]float64{{10, 11}, {100, 110}, {4, 4.4}}
	r := MedianRatio(a, b, "points")
	if r.Ratio != 2 || r.Method != RatioBootstrap || r.Confidence != Confidence || r.N != 12 || !(r.Lo <= 2 && 2 <= r.Hi) {
		t.Errorf("MedianRatio = %+v, want 2 by bootstrap at 95%%", r)
	}
	// A point measured once: the interval is over the points' ratios (75% for 3).
	a[1] = []float64{300}
	r = MedianRatio(a, b, "points")
	if r.Ratio != 2 || r.Method != RatioOverPoints || r.N != 3 || r.Lo != 1 || r.Hi != 300/105.0 || !near(r.Confidence, 0.75, 1e-9) {
		t.Errorf("MedianRatio = %+v, want 2 [1, 2.86] over 3 points at 75%%", r)
	}
	// A point without samples on a side is left out.
	b[1] = nil
	if r := MedianRatio(a, b, "points"); r.N != 8 || r.Ratio != 1.5 {
		t.Errorf("MedianRatio = %+v, want ×1.5 from 2 points (8 samples)", r)
	}
}

func TestPointRatios(t *testing.T) {
	r := PointRatios([]float64{1.1, 0.9, 1.0})
	if r.Ratio != 1.0 || r.Lo != 0.9 || r.Hi != 1.1 || r.N != 3 || r.Method != RatioOverPoints || !near(r.Confidence, 0.75, 1e-9) {
		t.Errorf("PointRatios = %+v, want 1.0 [0.9, 1.1] at 75%% over 3 points", r)
	}
	if r := PointRatios([]float64{2}); r.Ratio != 2 || !math.IsNaN(r.Lo) || r.Confidence != 0 {
		t.Errorf("PointRatios of one = %+v, want 2 without an interval", r)
	}
	if r := PointRatios(nil); !math.IsNaN(r.Ratio) {
		t.Errorf("PointRatios(nil) = %+v", r)
	}
}
