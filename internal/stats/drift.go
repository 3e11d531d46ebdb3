package stats

import (
	"math"

	"gonum.org/v1/gonum/stat"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// MinDriftProbes is the fewest calibration readings a drift is computed from.
const MinDriftProbes = 5

// Drift computes the machine's drift over a run from its calibration readings (result.Drift): for
// the stat and the sync task, the half-width of a 95% range of its readings (spread). Nil with fewer
// than MinDriftProbes readings of both tasks.
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
	return &result.Drift{Probes: len(st), Stat: spread(st), Sync: spread(sy)}
}

// DriftFor is the drift folded into the interval of metric name: the stat task's for every time,
// the larger of both for a metric whose cost includes flushes to the device (FlushBound).
func DriftFor(d *result.Drift, name string) float64 {
	if d == nil {
		return 0
	}
	if FlushBound(name) {
		return max(d.Stat, d.Sync)
	}
	return d.Stat
}

// FlushBound reports whether metric name's cost includes flushes to the device, as the metric
// catalogue declares it (a copy-up fsyncs the copied file; containerd's metadata store commits each
// snapshot call's transaction with fsync).
func FlushBound(name string) bool {
	d := metric.Get(name)
	return d != nil && d.Flushes
}

// spread is the half-width, as a fraction, of a 95% range of xs on a log scale around its median,
// from a robust deviation: 1.96 × 1.4826 × MAD of ln(x/median) (the MAD scaled to a normal standard
// deviation). A reading disturbed by what the run itself just did (the first one after a build, a
// page-cache eviction) does not move it; a machine that drifts does.
func spread(xs []float64) float64 {
	med := stat.Quantile(0.5, stat.Empirical, Finite(xs), nil)
	dev := make([]float64, len(xs))
	for i, x := range xs {
		dev[i] = math.Abs(math.Log(x / med))
	}
	mad := stat.Quantile(0.5, stat.Empirical, Finite(dev), nil)
	return math.Expm1(1.96 * 1.4826 * mad)
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
