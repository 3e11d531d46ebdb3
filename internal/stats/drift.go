package stats

import (
	"math"

	"gonum.org/v1/gonum/stat"

	"github.com/seedbench/seedbench/internal/result"
)

// MinDriftProbes is the fewest calibration readings a drift is computed from.
const MinDriftProbes = 5

// Drift computes the machine's drift over a run from its calibration readings (result.Drift): for
// the stat and the sync task, the half-width of a 95% range of its readings (spread). Nil with fewer
// than MinDriftProbes readings of both tasks. It describes the machine in a report's header; it is
// not folded into any interval (a within-run spread of other tasks says little about where a re-run
// lands: the run-to-run noise floors, measured by A/A runs, do).
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
