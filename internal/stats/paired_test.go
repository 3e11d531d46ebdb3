package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The reference values come from scipy.stats.wilcoxon (SciPy 1.10) and, for the intervals, from
// enumerating all 2^n sign assignments.
func TestSignedRank(t *testing.T) {
	// Hollander & Wolfe's depression scores (x − y, nine patients): V = 40, two-sided p = 0.0390625.
	hw := []float64{0.952, -0.147, 1.022, 0.43, 0.62, 0.59, 0.49, -0.08, 0.01}
	p := SignedRank(hw, 0.95)
	if p.N != 9 || math.Abs(p.P-0.0390625) > 1e-12 {
		t.Errorf("Hollander & Wolfe: n %d p %v, want 9 and 0.0390625", p.N, p.P)
	}
	if math.Abs(p.Estimate-0.46) > 1e-9 || p.Lo != 0.01 || p.Hi != 0.786 || math.Abs(p.Level-0.9609375) > 1e-12 {
		t.Errorf("Hollander & Wolfe: %v [%v, %v] at %v, want 0.46 [0.01, 0.786] at 0.9609375", p.Estimate, p.Lo, p.Hi, p.Level)
	}
	// 30 normal differences: exact p 0.35988 (W = 187).
	d30 := []float64{0.100246, 0.159749, 0.045172, -0.078118, 0.009066, -0.098329, 0.112029, 0.368043, 0.001559, -0.024095, 0.197968, 0.171377, 0.121083, -0.086094, 0.09415, 0.239061, -0.168843, 0.008477, -0.280245, -0.157908, -0.268347, 0.052982, -0.153489, 0.154253, 0.13135, 0.062614, -0.403352, -0.007739, 0.0903, 0.122662}
	if p := SignedRank(d30, 0.95); math.Abs(p.P-0.3598779272288084) > 1e-9 || math.Abs(p.Estimate-0.0274375) > 1e-9 {
		t.Errorf("30 pairs: p %v estimate %v, want 0.35988 and 0.0274375", p.P, p.Estimate)
	}
	// 80 heavy-tailed differences (t with 3 df): the normal approximation with continuity
	// correction, p 0.10970.
	d80 := []float64{-0.170401, -0.00997, 0.047432, 0.037955, -0.084152, -0.07327, 0.014637, -0.081427, 0.033932, 0.093605, 0.079032, -0.130885, 0.114724, -0.018575, -0.004976, 0.141705, 0.034085, 0.020508, 0.007916, 0.018283, 0.047934, 0.169599, -0.075675, -0.217601, 0.058446, -0.014518, 0.027927, 0.1549, 0.057222, -0.015634, 0.063697, -0.381421, -0.120392, 0.185047, 0.088954, 0.218583, 0.018986, -0.013046, -0.100601, 0.038186, -0.042345, 0.051085, -0.190182, -0.087335, -0.00036, 0.01726, 0.134245, -0.020051, 0.019641, 0.245477, 0.045228, 0.132732, 0.051583, 0.107781, 0.122785, 0.094436, 0.181137, -0.049239, 0.099884, -0.341855, -0.065756, -0.132624, 0.056942, 0.017743, 0.109008, -0.10768, -0.042082, 0.084765, -0.059824, 0.046127, 0.137594, 0.029131, -0.307762, -0.431975, 0.060481, 0.169383, 0.044044, 0.106882, 0.132719, -0.103818}
	p80 := SignedRank(d80, 0.95)
	if math.Abs(p80.P-0.10969583324975014) > 1e-9 {
		t.Errorf("80 pairs: p %v, want 0.10970", p80.P)
	}
	if !(p80.Lo < p80.Estimate && p80.Estimate < p80.Hi) || p80.Lo > 0 || p80.Level != 0.95 {
		t.Errorf("80 pairs: %v [%v, %v] at %v: the interval must hold the estimate and 0 (p > 0.05)", p80.Estimate, p80.Lo, p80.Hi, p80.Level)
	}
}

// Zero differences carry no sign; too few pairs make no test.
func TestSignedRankSmall(t *testing.T) {
	if p := SignedRank([]float64{0, 0, 0.1, math.NaN()}, 0.95); p.N != 1 || p.P != 1 {
		t.Errorf("one non-zero difference: %+v", p)
	}
	// Five positive differences: the smallest two-sided p is 2/32 > 0.05, so no test.
	if p := SignedRank([]float64{0.1, 0.2, 0.3, 0.4, 0.5}, 0.95); p.P != 1 || p.Lo != 0.1 || p.Hi != 0.5 {
		t.Errorf("five pairs: %+v", p)
	}
	// Six positive differences: exact p = 2/64.
	if p := SignedRank([]float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, 0.95); math.Abs(p.P-2.0/64) > 1e-12 {
		t.Errorf("six positive pairs: p %v, want 1/32", p.P)
	}
}

// The signed-rank distribution counts subsets by rank sum: n = 3 has sums 0,1,2,3,3,4,5,6.
func TestSignedRankCDF(t *testing.T) {
	want := []float64{1, 2, 3, 5, 6, 7, 8}
	for w, c := range signedRankCDF(3) {
		if math.Abs(c-want[w]/8) > 1e-15 {
			t.Errorf("P(W+ <= %d) = %v, want %v/8", w, c, want[w])
		}
	}
}

// Under A/A (differences symmetric about 0) the test alarms at its level and the interval covers
// 0 at its stated confidence, on skewed-free but heavy-tailed noise (Laplace) as on normal noise.
func TestSignedRankCalibration(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{12, 40, 120} {
		alarms, covered, level := 0, 0, 0.0
		const trials = 2000
		for i := 0; i < trials; i++ {
			d := make([]float64, n)
			for j := range d {
				d[j] = r.ExpFloat64() * 0.2
				if r.IntN(2) == 0 {
					d[j] = -d[j]
				}
			}
			p := SignedRank(d, 0.95)
			if p.P < 0.05 {
				alarms++
			}
			if p.Lo <= 0 && 0 <= p.Hi {
				covered++
			}
			level += p.Level / trials
		}
		// 2000 trials: a binomial sd of 0.5 points at 5%.
		if a := float64(alarms) / trials; a > 0.065 {
			t.Errorf("n %d: false alarms %.3f at 5%%", n, a)
		}
		if c := float64(covered) / trials; c < level-0.015 {
			t.Errorf("n %d: the interval covered 0 in %.3f of trials, stated %.3f", n, c, level)
		}
	}
}
