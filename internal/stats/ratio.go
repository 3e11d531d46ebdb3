package stats

import (
	"math"
	"math/rand/v2"
)

// Ratio is how many times one median another is (A's over B's), with an asymmetric interval: the
// cost of one driver against another's, measured in the same run.
type Ratio struct {
	// Ratio is A's median over B's; NaN when either side has no samples or B's median is not
	// positive.
	Ratio float64
	// Lo and Hi bound the interval at Confidence; NaN (and Confidence 0) when there is none.
	Lo, Hi     float64
	Confidence float64
	// Method says how the interval was found: RatioBootstrap or RatioOverPoints.
	Method string
	// N is the samples behind the ratio (A's and B's), or the points for RatioOverPoints.
	N int
}

// Methods of a Ratio's interval.
const (
	RatioBootstrap  = "bootstrap"
	RatioOverPoints = "over points"
)

// MedianRatio is how many times b's median a's is, over one point or several: a[i] and b[i] are
// the two sides' samples at point i (a snapshot call for one layer, a lookup at one depth). The
// ratio is the median over the points of median(a[i]) / median(b[i]) (for one point, that point's).
//
// When every point has 2 samples or more on each side, the interval is a 95% percentile bootstrap:
// each side of each point resampled apart (the sides are separate series, as two drivers' samples
// of one metric are) and the ratio recomputed, as Fit does for a slope; key names the comparison,
// and the bootstrap's seed is derived from it, so a report recomputes the same interval. When a
// point was measured once, the interval is over the points' ratios instead (PointRatios). Non-finite
// samples are ignored; a point without samples on a side, or whose b median is not positive, is
// left out.
func MedianRatio(a, b [][]float64, key string) Ratio {
	r := Ratio{Ratio: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), Method: RatioBootstrap}
	var xa, xb [][]float64
	var ratios []float64
	resample := true
	for i := range min(len(a), len(b)) {
		fa, fb := Finite(a[i]), Finite(b[i])
		if len(fa) == 0 || len(fb) == 0 {
			continue
		}
		ma, mb := Median(fa), Median(fb)
		if !(mb > 0) || ma < 0 {
			continue
		}
		xa, xb = append(xa, fa), append(xb, fb)
		ratios = append(ratios, ma/mb)
		r.N += len(fa) + len(fb)
		resample = resample && len(fa) >= 2 && len(fb) >= 2
	}
	if len(ratios) == 0 {
		return r
	}
	if !resample {
		return PointRatios(ratios)
	}
	r.Ratio = Median(ratios)
	rng := rand.New(rand.NewPCG(seedOf(key), 0x4a7))
	est := make([]float64, 0, bootstrapRounds)
	re := make([]float64, 0, len(xa))
	var buf []float64
	for range bootstrapRounds {
		re = re[:0]
		for i := range xa {
			var ra, rb float64
			ra, buf = resampledMedian(rng, xa[i], buf)
			rb, buf = resampledMedian(rng, xb[i], buf)
			if rb > 0 {
				re = append(re, ra/rb)
			}
		}
		if len(re) == len(xa) {
			est = append(est, Median(re))
		}
	}
	if len(est) < bootstrapRounds/2 {
		return r // b's resamples are mostly zero: no interval to trust
	}
	r.Lo, r.Hi = percentiles(est)
	r.Lo, r.Hi = min(r.Lo, r.Ratio), max(r.Hi, r.Ratio)
	r.Confidence = Confidence
	return r
}

// PointRatios summarizes the ratios of several points, each measured once or a few times on both
// sides (a snapshot call per layer of a build): the median of the ratios, and its interval by order
// statistics over them, as Summarize gives it (95% from 6 points on; below, the ratios' range at the
// level their number reaches). N is the number of points.
func PointRatios(ratios []float64) Ratio {
	s := Summarize(ratios)
	r := Ratio{Ratio: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), Method: RatioOverPoints, N: s.N}
	if s.N == 0 {
		return r
	}
	r.Ratio = s.Median
	if s.N >= 2 {
		r.Lo, r.Hi, r.Confidence = s.CILo, s.CIHi, s.Confidence
	}
	return r
}
