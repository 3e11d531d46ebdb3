package stats

import (
	"math"
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{4, 1, 7}, 4},
		{[]float64{3, 1, 4, 2}, 2.5},
		{[]float64{5}, 5},
		{[]float64{-2, 8}, 3},
		{[]float64{1, 1, 1, 9, 9}, 1},
	} {
		orig := slices.Clone(tc.xs)
		if got := Median(tc.xs); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
		if !slices.Equal(tc.xs, orig) {
			t.Errorf("Median sorted its argument: %v", tc.xs)
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}

// TestTwoSidedP checks p against closed forms of Student's t (df 1: 1 − 2·atan(t)/π; df 2:
// 1 − t/√(t²+2); df 3 and 4: their polynomial forms), the normal's erfc(z/√2), and the quantiles of
// a t table (t₀.₉₇₅ at df 3 and 10, two-sided p 0.05), each also checked by integrating the density.
func TestTwoSidedP(t *testing.T) {
	for _, tc := range []struct {
		stat, se float64
		df       int
		want     float64
	}{
		{2, 1, 0, 0.04550026389635844},       // normal: erfc(2/√2)
		{0.196, 0.1, 0, 0.04999579029644087}, // normal, z = 1.96
		{-3, 1, 0, 0.0026997960632601913},
		{1, 1, 1, 0.5}, // Cauchy: half the mass beyond ±1
		{3, 1, 1, 0.20483276469913336},
		{4, 2, 2, 0.18350341907227385}, // t = 2 at df 2: 1 − 2/√6
		{3.182446305284263, 1, 3, 0.05},
		{1.5, 1, 4, 0.208},
		{-2.228138851986, 1, 10, 0.05},
		{2.5, 1, 7, 0.04099221858573632},
		{0, 1, 5, 1},
		{0, 0, 3, 1},   // no spread: nothing moved, nothing to see
		{0.1, 0, 3, 0}, // no spread: any move is certain
		{0.1, math.NaN(), 0, 0},
	} {
		if got := TwoSidedP(tc.stat, tc.se, tc.df); !near(got, tc.want, 1e-9) {
			t.Errorf("TwoSidedP(%v, %v, %d) = %.12g, want %.12g", tc.stat, tc.se, tc.df, got, tc.want)
		}
	}
	// Fewer degrees of freedom, heavier tails: the same statistic is less significant.
	if a, b := TwoSidedP(2.5, 1, 3), TwoSidedP(2.5, 1, 30); !(a > b && b > TwoSidedP(2.5, 1, 0)) {
		t.Errorf("p at df 3, 30, ∞: %v, %v, %v: want decreasing", a, b, TwoSidedP(2.5, 1, 0))
	}
}

// TestBenjaminiHochberg: the example of Benjamini and Hochberg (1995): 15 p values, of which
// the procedure rejects the 4 smallest at q* = 0.05 where Bonferroni rejects 3. The adjusted values
// are min over j ≥ i of p_(j)·m/j, computed by hand (as R's p.adjust(p, "BH")).
func TestBenjaminiHochberg(t *testing.T) {
	ps := []float64{0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000}
	want := []float64{0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0638571428571, 0.0638571428571, 0.0645, 0.0765,
		0.486, 0.581181818182, 0.714875, 0.753230769231, 0.813214285714, 1}
	// In another order: each q belongs to its own p.
	perm := []int{14, 3, 0, 9, 7, 1, 12, 5, 2, 11, 6, 10, 4, 13, 8}
	in, out := make([]float64, len(ps)), make([]float64, len(ps))
	for i, j := range perm {
		in[i], out[i] = ps[j], want[j]
	}
	qs := BenjaminiHochberg(in, len(in))
	rejected := 0
	for i, q := range qs {
		if !near(q, out[i], 1e-9) {
			t.Errorf("q of p %v = %.12g, want %.12g", in[i], q, out[i])
		}
		if q < 0.05 {
			rejected++
		}
	}
	if rejected != 4 {
		t.Errorf("%d rejected at 0.05, want 4", rejected)
	}
	// Hypotheses without a p of their own raise m; m below len(ps) is len(ps).
	for _, tc := range []struct {
		ps   []float64
		m    int
		want []float64
	}{
		{[]float64{0.01, 0.04, 0.03, 0.5}, 4, []float64{0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5}},
		{[]float64{0.01, 0.04, 0.03}, 10, []float64{0.1, 0.4 / 3, 0.4 / 3}},
		{[]float64{0.01, 0.04, 0.03}, 1, []float64{0.03, 0.04, 0.04}},
		{[]float64{0.2, 0.9}, 2, []float64{0.4, 0.9}},
		{[]float64{0.6}, 3, []float64{1}}, // at most 1
		{nil, 5, []float64{}},
	} {
		got := BenjaminiHochberg(tc.ps, tc.m)
		if len(got) != len(tc.want) {
			t.Fatalf("BenjaminiHochberg(%v, %d) = %v", tc.ps, tc.m, got)
		}
		for i := range got {
			if !near(got[i], tc.want[i], 1e-12) {
				t.Errorf("BenjaminiHochberg(%v, %d) = %v, want %v", tc.ps, tc.m, got, tc.want)
				break
			}
		}
	}
}

func TestTailP(t *testing.T) {
	top := []float64{0.9, 0.5, 0.3} // the largest moves of 19 trials
	for _, tc := range []struct {
		x    float64
		n    int
		want float64
	}{
		{0.4, 19, 3.0 / 20}, // 2 of 19 moved as far: (2+1)/(19+1)
		{-0.4, 19, 3.0 / 20},
		{0.9, 19, 2.0 / 20}, // a tie counts
		{0.3, 19, 4.0 / 20},
		{1.2, 19, 0}, // beyond every trial: no empirical p
		{0.1, 0, 0},  // no trials
	} {
		if got := TailP(tc.x, top, tc.n); !near(got, tc.want, 1e-15) {
			t.Errorf("TailP(%v, %v, %d) = %v, want %v", tc.x, top, tc.n, got, tc.want)
		}
	}
}

// THalfWidth is the t table's (and the normal's) two-sided quantile times the standard error.
func TestTHalfWidth(t *testing.T) {
	for _, tc := range []struct {
		se    float64
		df    int
		level float64
		want  float64
	}{
		{1, 0, 0.95, 1.959963984540054},
		{2, 3, 0.95, 2 * 3.182446305284263},
		{1, 10, 0.95, 2.228138851986},
		{1, 1, 0.90, 6.313751514675},
		{0.5, 39, 0.95, 0.5 * 2.022690920037},
	} {
		if got := THalfWidth(tc.se, tc.df, tc.level); !near(got, tc.want, 1e-9) {
			t.Errorf("THalfWidth(%v, %d, %v) = %.12g, want %.12g", tc.se, tc.df, tc.level, got, tc.want)
		}
	}
}
