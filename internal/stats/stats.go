// Package stats turns raw samples into the numbers a report shows: a median with a distribution-free
// confidence interval, tail and range, and warnings that travel with them (few samples, high
// variance), in the manner of benchstat; linear fits for the derived metrics (copy-up cost per
// byte, lookup cost per layer); and the tests the regression gate judges by (a t test's p,
// Benjamini–Hochberg's adjustment, an empirical tail p).
//
// Statistics never fail: what is doubtful about them is returned as warnings, to be shown next to
// the numbers.
package stats

import (
	"fmt"
	"math"
	"slices"

	"golang.org/x/perf/benchmath"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// Confidence is the level of the median's confidence interval.
const Confidence = 0.95

// Warning thresholds.
const (
	MinSamples = 5    // fewer samples than this get an "only N samples" warning
	MaxCV      = 0.20 // a coefficient of variation above this gets a "high variance" warning
)

// Finite returns a sorted copy of the finite samples (NaN and ±Inf are measurement bugs; they are
// left out and reported by Warnings).
func Finite(samples []float64) []float64 {
	xs := make([]float64, 0, len(samples))
	for _, v := range samples {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			xs = append(xs, v)
		}
	}
	slices.Sort(xs)
	return xs
}

// Median is the median of xs, which it does not modify: the middle value, or the mean of the two
// middle values of an even number (NaN for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	return (s[(n-1)/2] + s[n/2]) / 2
}

// Summarize summarizes samples (which it does not modify): the median with its 95% confidence
// interval by order statistics (benchmath's AssumeNothing, as benchstat), the 95th percentile
// (an observed value: the empirical quantile), min, max and mean.
//
// Below 6 samples no pair of order statistics reaches 95%: the interval is then the sample range
// [min, max] and Confidence records the level it does reach (1 − 2·0.5ⁿ: 94% for 5 samples, 75% for
// 3, 0 for 1). No samples give a zero Summary. Non-finite samples are ignored.
func Summarize(samples []float64) result.Summary {
	xs := Finite(samples)
	n := len(xs)
	if n == 0 {
		return result.Summary{}
	}
	bs := benchmath.AssumeNothing.Summary(benchmath.NewSample(xs, &benchmath.DefaultThresholds), Confidence)
	s := result.Summary{
		N:          n,
		Median:     bs.Center,
		CILo:       bs.Lo,
		CIHi:       bs.Hi,
		Confidence: bs.Confidence,
		P95:        stat.Quantile(0.95, stat.Empirical, xs, nil),
		Min:        floats.Min(xs),
		Max:        floats.Max(xs),
		Mean:       stat.Mean(xs, nil),
	}
	if math.IsInf(s.CILo, 0) || math.IsInf(s.CIHi, 0) {
		s.CILo, s.CIHi = s.Min, s.Max
		s.Confidence = rangeConfidence(n)
	}
	return s
}

// seriesBatches is how many consecutive batches a series' samples are cut into.
const seriesBatches = 10

// SummarizeSeries summarizes samples taken one after another, each changing what the next one meets
// (not independent): as Summarize does, except the interval, which is the order-statistics interval
// of the medians of k consecutive batches of the samples, in their order. Batch medians are far
// closer to independent than the samples, so the interval is honest where the samples' own would
// be too narrow; with fewer than 2k samples it is Summarize's.
func SummarizeSeries(samples []float64, k int) result.Summary {
	s := Summarize(samples)
	var finite []float64
	for _, v := range samples {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite = append(finite, v)
		}
	}
	if len(finite) < 2*k {
		return s
	}
	meds := make([]float64, k)
	for b := range k {
		meds[b] = Median(finite[b*len(finite)/k : (b+1)*len(finite)/k])
	}
	bs := Summarize(meds)
	s.CILo, s.CIHi, s.Confidence = min(bs.CILo, s.Median), max(bs.CIHi, s.Median), bs.Confidence
	return s
}

// rangeConfidence is the probability that the population median lies between the smallest and the
// largest of n samples: all n on one side of it has probability 2·0.5ⁿ.
func rangeConfidence(n int) float64 {
	if n < 2 {
		return 0
	}
	return 1 - 2*math.Pow(0.5, float64(n))
}

// Warnings says what is doubtful about a summary of samples: benchmath's warnings (too few samples
// for a 95% interval, with the confidence the shown interval has instead), "only N samples" below
// MinSamples, "high variance: CV X%" above MaxCV, and non-finite samples that were ignored.
func Warnings(samples []float64, s result.Summary) []result.Warning {
	var ws []result.Warning
	xs := Finite(samples)
	if bad := len(samples) - len(xs); bad > 0 {
		ws = append(ws, result.Warnf(result.WarnNonFinite, "%d non-finite samples ignored", bad))
	}
	n := len(xs)
	if n == 0 {
		return append(ws, result.Warning{Kind: result.WarnNoSamples, Text: "no samples"})
	}
	if n == 1 {
		// A single measurement by design (a layer built once, a disk figure): it shows no interval,
		// and saying so on every such cell would bury the warnings that matter.
		return ws
	}
	bs := benchmath.AssumeNothing.Summary(benchmath.NewSample(xs, &benchmath.DefaultThresholds), Confidence)
	for _, w := range bs.Warnings {
		msg := w.Error()
		if s.Confidence < Confidence && n > 1 {
			msg += fmt.Sprintf(" (interval shown is min..max, %.0f%% confidence)", 100*s.Confidence)
		}
		// AssumeNothing's only warning: too few samples for the confidence asked.
		ws = append(ws, result.Warning{Kind: result.WarnNoInterval, Text: msg})
	}
	if n < MinSamples {
		ws = append(ws, result.Warnf(result.WarnFewSamples, "only %d samples", n))
	}
	if n > 1 && s.Mean != 0 {
		if cv := stat.StdDev(xs, nil) / math.Abs(s.Mean); cv > MaxCV {
			ws = append(ws, result.Warnf(result.WarnHighVariance, "high variance: CV %.0f%%", 100*cv))
		}
	}
	return ws
}

// Annotate recomputes m's Summary from its samples and adds the statistical warnings it does not
// already carry (warnings from the engine, e.g. an incomplete eviction, are kept). A metric whose
// samples are a series (metric.Def.Series) gets its interval from batches (SummarizeSeries).
func Annotate(m *result.Metric) {
	if d, ok := metric.Lookup(m.Name); ok && d.Series {
		m.Summary = SummarizeSeries(m.Samples, seriesBatches)
	} else {
		m.Summary = Summarize(m.Samples)
	}
	for _, w := range Warnings(m.Samples, m.Summary) {
		if !slices.Contains(m.Warnings, w) {
			m.Warnings = append(m.Warnings, w)
		}
	}
}

// AnnotateAll computes r's drift from its calibration readings (Drift: a figure for the header) and
// annotates every metric of r: its interval is the samples' own, at the level their number allows.
func AnnotateAll(r *result.Result) {
	r.Drift = Drift(r.Noise)
	for i := range r.Metrics {
		Annotate(&r.Metrics[i])
	}
}
