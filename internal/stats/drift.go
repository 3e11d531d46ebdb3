package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"

	"github.com/seedbench/seedbench/internal/result"
)

// MinDriftProbes is the fewest calibration readings a drift is computed from.
const MinDriftProbes = 5

// Drift computes the machine's drift over a run from its calibration readings (result.Drift): for
// the stat and the sync task, the half-width of the central 95% of ln(reading/median) (empirical
// quantiles, gonum), as a fraction. Nil with fewer than MinDriftProbes readings of both tasks.
func Drift(noise []result.NoiseSample) *result.Drift {
	var st, sy []float64
	for _, n := range noise {
		if n.StatNs > 0 && n.SyncNs > 0 {
			st, sy = append(st, n.StatNs), append(sy, n.SyncNs)
		}
	}
	if len(st) < MinDriftProbes {
		return nil
	}
	d := &result.Drift{Probes: len(st), Stat: spread(st), Sync: spread(sy)}
	d.Applied = max(d.Stat, d.Sync)
	return d
}

// spread is the half-width, as a fraction, of the central 95% of xs on a log scale around its median.
func spread(xs []float64) float64 {
	med := stat.Quantile(0.5, stat.Empirical, sorted(xs), nil)
	ls := make([]float64, len(xs))
	for i, x := range xs {
		ls[i] = math.Log(x / med)
	}
	slices.Sort(ls)
	lo := stat.Quantile(0.025, stat.Empirical, ls, nil)
	hi := stat.Quantile(0.975, stat.Empirical, ls, nil)
	return math.Expm1(max(-lo, hi))
}

func sorted(xs []float64) []float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}

// WithDrift folds a drift d (a fraction) into s's confidence interval: on a log scale around the
// median, each side's half-width w becomes sqrt(w² + ln(1+d)²) — the samples' own uncertainty and the
// machine's, as independent errors. The samples' interval is kept in SampleCILo..SampleCIHi. Only
// positive intervals (times) are widened; d ≤ 0 leaves s as it is.
func WithDrift(s result.Summary, d float64) result.Summary {
	if !(d > 0) || s.N == 0 || !(s.Median > 0) || !(s.CILo > 0) || !(s.CIHi > 0) {
		return s
	}
	s.SampleCILo, s.SampleCIHi = s.CILo, s.CIHi
	D := math.Log1p(d)
	lo, hi := math.Log(s.Median/s.CILo), math.Log(s.CIHi/s.Median)
	s.CILo = s.Median * math.Exp(-math.Hypot(lo, D))
	s.CIHi = s.Median * math.Exp(math.Hypot(hi, D))
	return s
}
