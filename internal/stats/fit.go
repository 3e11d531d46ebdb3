package stats

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// FitResult is a line y = Alpha + Beta·x through the medians of N points (distinct x), fitted by
// Theil–Sen: Beta is the median of the slopes between every two points, robust to an outlying point
// where least squares is not, and the medians make each point one observation however many samples
// it has, so the large sizes' wider spread does not weigh in. Beta's 95% interval is a percentile
// bootstrap (the samples of every point resampled, the medians and the line recomputed). R2 is the
// share of the medians' variance the line explains. Alpha is the line's value at the smallest x
// less its per-x part: the fixed cost where the smallest x is small, by the caller's judgement.
// Fields that need more points than given are NaN (a line needs 2, the interval 3).
type FitResult struct {
	Alpha, Beta        float64
	R2                 float64
	N                  int // points (distinct x)
	Samples            int
	BetaCILo, BetaCIHi float64
	MinX               float64
}

// bootstrapRounds resamples a fit's points this many times for the slope's interval.
const bootstrapRounds = 2000

// Fit fits y against x as FitResult describes; ys[i] are the samples at xs[i] (distinct). seed makes
// the bootstrap reproducible.
func Fit(xs []float64, ys [][]float64, seed uint64) FitResult {
	nan := math.NaN()
	r := FitResult{Alpha: nan, Beta: nan, R2: nan, BetaCILo: nan, BetaCIHi: nan, MinX: nan}
	if len(xs) != len(ys) {
		return r
	}
	if len(xs) < 2 {
		r.N = len(xs)
		return r
	}
	r.N = len(xs)
	med := make([]float64, len(xs))
	for i, s := range ys {
		med[i] = Median(s)
		r.Samples += len(s)
	}
	r.Beta = theilSen(xs, med)
	i0 := slices.Index(xs, slices.Min(xs))
	r.MinX = xs[i0]
	r.Alpha = med[i0] - r.Beta*xs[i0]
	var ssRes float64
	for i := range xs {
		d := med[i] - (r.Alpha + r.Beta*xs[i])
		ssRes += d * d
	}
	if v := stat.Variance(med, nil) * float64(len(med)-1); v > 0 {
		r.R2 = 1 - ssRes/v
	} else if ssRes == 0 {
		r.R2 = 1
	}
	if r.N < 3 {
		return r
	}
	rng := rand.New(rand.NewPCG(seed, 0xf17))
	slopes := make([]float64, 0, bootstrapRounds)
	re := make([]float64, len(xs))
	buf := []float64{}
	for range bootstrapRounds {
		for i, s := range ys {
			re[i], buf = resampledMedian(rng, s, buf)
		}
		slopes = append(slopes, theilSen(xs, re))
	}
	r.BetaCILo, r.BetaCIHi = percentiles(slopes)
	return r
}

// resampledMedian is the median of a resample of s with replacement, drawn from rng; buf is scratch
// space, returned for the next call.
func resampledMedian(rng *rand.Rand, s, buf []float64) (float64, []float64) {
	buf = buf[:0]
	for range s {
		buf = append(buf, s[rng.IntN(len(s))])
	}
	return Median(buf), buf
}

// The percentiles a bootstrap's 95% interval is read at.
const bootstrapLo, bootstrapHi = 0.025, 0.975

// percentiles sorts a bootstrap's estimates and returns its 95% percentile interval.
func percentiles(est []float64) (lo, hi float64) {
	slices.Sort(est)
	return stat.Quantile(bootstrapLo, stat.Empirical, est, nil), stat.Quantile(bootstrapHi, stat.Empirical, est, nil)
}

// theilSen is the median of the slopes between every two points of distinct x.
func theilSen(x, y []float64) float64 {
	var s []float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			if x[j] != x[i] {
				s = append(s, (y[j]-y[i])/(x[j]-x[i]))
			}
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	return Median(s)
}

// seedOf derives a bootstrap seed from a fit's identity, so a report recomputes the same interval.
func seedOf(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}
