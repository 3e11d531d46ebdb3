package stats

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/stat"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
)

// MinCopyupR2 is the R² below which a copy-up fit with a significant per-byte cost is warned about:
// the samples are not a fixed part plus a per-byte part.
const MinCopyupR2 = 0.9

// fitSpec says which samples a derived fit regresses: those of metric whose point passes keep, with x
// read from the xParam parameter; the other parameters (less drop) make the fit's parameter point.
type fitSpec struct {
	name, metric, xParam, unit string
	drop                       []string
	keep                       func(params map[string]string) bool
	parseX                     func(string) (float64, bool)
	minR2                      float64 // warn below it; 0 = never
	linearIn                   string  // "size": for the warning
}

var fitSpecs = []fitSpec{
	{
		name: metric.FitCopyup, metric: metric.CopyupLatency, xParam: metric.PSize, unit: metric.NsPerByte,
		drop: []string{metric.PWrite},
		// The copy-up is the first write; the second write of the same file times the write alone.
		// Files from before the second write was timed have no write parameter: all first writes.
		keep:   func(p map[string]string) bool { w, ok := p[metric.PWrite]; return !ok || w == "first" },
		parseX: parseSizeBytes,
		minR2:  MinCopyupR2, linearIn: "size",
	},
	{
		name: metric.FitLookup, metric: metric.OpLookup, xParam: metric.PDepth, unit: metric.NsPerLayer,
		keep:   func(p map[string]string) bool { return p[metric.PKind] == "hit" },
		parseX: parseDepth,
	},
}

func parseSizeBytes(s string) (float64, bool) { return metric.Number(s) }

func parseDepth(s string) (float64, bool) {
	d, err := strconv.Atoi(s)
	return float64(d), err == nil && d >= 1
}

// Fits derives the fits of r from its raw samples (every sample is a point; x repeats):
//
//   - fit.copyup, per driver and point of the other parameters (how, cache, image, …): copy-up
//     latency (copyup.latency, write=first) against file size in bytes. Alpha is the fixed cost in
//     ns, Beta the cost per byte (1/Beta is the copy rate). Warned when R² < MinCopyupR2 while the
//     per-byte cost is significant: not linear in size, or outliers (see linearityWarning). A cost
//     flat in size (metadata-only copy-up, a driver that copied at prepare) is not warned about.
//   - fit.lookup, per driver and point of the other parameters (kind=hit, layers, cache, image, …):
//     lookup latency (op.lookup) against the depth at which the path is found. Beta is the cost per
//     layer; its 95% interval tells a lookup flat in depth (the interval contains 0) from one that
//     grows per layer (the interval is above 0).
//
// A fit needs samples at two distinct x at least; with only two points it has no interval (NaN) and
// says so in its warnings. Non-finite samples and unreadable x values are left out, with a warning.
// Fits are ordered by driver (as r lists them), name, then parameters.
func Fits(r *result.Result) []result.Fit {
	type group struct {
		fit      result.Fit
		spec     *fitSpec
		xs, ys   []float64
		nonFin   int
		badX     []string
		distinct map[float64]bool
	}
	groups := map[string]*group{}
	var order []*group
	for i := range r.Metrics {
		m := &r.Metrics[i]
		for si := range fitSpecs {
			spec := &fitSpecs[si]
			if m.Name != spec.metric || !metric.IsTime(m.Name, m.Unit) || !spec.keep(m.Params) {
				continue
			}
			params := map[string]string{}
			for k, v := range m.Params {
				if k != spec.xParam && !slices.Contains(spec.drop, k) {
					params[k] = v
				}
			}
			key := result.MetricKey(m.Driver, spec.name, params)
			g := groups[key]
			if g == nil {
				g = &group{
					fit:      result.Fit{Driver: m.Driver, Name: spec.name, Params: params, Unit: spec.unit},
					spec:     spec,
					distinct: map[float64]bool{},
				}
				groups[key] = g
				order = append(order, g)
			}
			x, ok := spec.parseX(m.Params[spec.xParam])
			if !ok {
				g.badX = append(g.badX, fmt.Sprintf("%s=%q", spec.xParam, m.Params[spec.xParam]))
				continue
			}
			for _, y := range m.Samples {
				if math.IsNaN(y) || math.IsInf(y, 0) {
					g.nonFin++
					continue
				}
				g.xs = append(g.xs, x)
				g.ys = append(g.ys, y)
				g.distinct[x] = true
			}
		}
	}

	var fits []result.Fit
	for _, g := range order {
		if len(g.distinct) < 2 {
			continue
		}
		f := g.fit
		xs, ys, out := fenceOutliers(g.xs, g.ys)
		fr := Fit(xs, ys)
		f.Alpha, f.Beta, f.R2, f.N = fr.Alpha, fr.Beta, fr.R2, fr.N
		f.Excluded = len(out)
		f.BetaCILo, f.BetaCIHi = fr.BetaCILo, fr.BetaCIHi
		if g.nonFin > 0 {
			f.Warnings = append(f.Warnings, fmt.Sprintf("%d non-finite samples ignored", g.nonFin))
		}
		if len(g.badX) > 0 {
			f.Warnings = append(f.Warnings, fmt.Sprintf("series with unreadable %s left out: %s", g.spec.xParam, strings.Join(g.badX, ", ")))
		}
		if f.N < 3 {
			f.Warnings = append(f.Warnings, fmt.Sprintf("only %d points: no confidence interval for the slope", f.N))
		}
		if len(out) > 0 {
			all := Fit(g.xs, g.ys)
			f.Warnings = append(f.Warnings, fmt.Sprintf("%d of %d samples left out as outliers (far out at their %s, R² %.2f with them): %s",
				len(out), len(g.xs), g.spec.xParam, all.R2, outlierList(out, g.spec)))
		}
		if w := linearityWarning(g.spec, fr, xs, ys); w != "" {
			f.Warnings = append(f.Warnings, w)
		}
		fits = append(fits, f)
	}

	drivers := driverRanks(r)
	specRank := func(name string) int {
		return slices.IndexFunc(fitSpecs, func(s fitSpec) bool { return s.name == name })
	}
	sort.SliceStable(fits, func(i, j int) bool {
		a, b := fits[i], fits[j]
		if a.Driver != b.Driver {
			return drivers[a.Driver] < drivers[b.Driver]
		}
		if a.Name != b.Name {
			return specRank(a.Name) < specRank(b.Name)
		}
		return result.ParamsKey(a.Params) < result.ParamsKey(b.Params)
	})
	return fits
}

// linearityWarning warns about a fit whose R² is below spec.minR2 while its slope is significant
// (interval above or below 0): the line does not explain the samples. A cost flat in x (the
// slope's interval contains 0) has a low R² by nature and is not warned about: the slope says it.
// When the medians per x lie on a line (R² ≥ minR2 over 3 distinct x or more) the low R² comes from
// scattered samples (outliers), not from a cost that is not linear, and the warning says that.
func linearityWarning(spec *fitSpec, fr FitResult, xs, ys []float64) string {
	if spec.minR2 == 0 || !(fr.R2 < spec.minR2) {
		return ""
	}
	if fr.BetaCILo <= 0 && 0 <= fr.BetaCIHi {
		return ""
	}
	mx, my := mediansByX(xs, ys)
	if len(mx) >= 3 {
		if m := Fit(mx, my); m.R2 >= spec.minR2 {
			return fmt.Sprintf("low R² %.2f: samples scattered about the line (the median per %s fits it with R² %.2f): outliers", fr.R2, spec.xParam, m.R2)
		}
	}
	return fmt.Sprintf("low R² %.2f: the cost is not linear in %s", fr.R2, spec.linearIn)
}

// outlierRatio is how far from the median at its x (as a factor) a sample beyond the fence must also
// be to be left out of a fit.
const outlierRatio = 2.0

// outlier is a sample left out of a fit.
type outlier struct{ x, y, median float64 }

// fenceOutliers splits the points into those a fit uses and the outliers it leaves out. A sample is
// an outlier when it lies beyond the far-out fence of the samples at its own x (Tukey: Q3 + 3·IQR
// above, Q1 − 3·IQR below, quartiles by gonum) and also more than twice (or under half) their median:
// a stall of the device or the machine, such as a 136 ms fsync during a 2 ms copy-up, not part of
// the cost's shape. The fence needs 4 samples at an x; the factor 2 keeps a tight group (a few ns of
// spread) from losing ordinary samples. The samples stay in the result; the fit counts what it left
// out (Fit.Excluded) and names them in a warning.
func fenceOutliers(xs, ys []float64) (kx, ky []float64, out []outlier) {
	byX := map[float64][]float64{}
	for i, x := range xs {
		byX[x] = append(byX[x], ys[i])
	}
	type fence struct{ lo, hi, median float64 }
	fences := map[float64]fence{}
	for x, v := range byX {
		if len(v) < 4 {
			continue
		}
		v = slices.Clone(v)
		slices.Sort(v)
		q1 := stat.Quantile(0.25, stat.Empirical, v, nil)
		q3 := stat.Quantile(0.75, stat.Empirical, v, nil)
		med := (v[(len(v)-1)/2] + v[len(v)/2]) / 2
		iqr := q3 - q1
		fences[x] = fence{lo: min(q1-3*iqr, med/outlierRatio), hi: max(q3+3*iqr, outlierRatio*med), median: med}
	}
	for i, x := range xs {
		y := ys[i]
		if f, ok := fences[x]; ok && (y > f.hi || y < f.lo) {
			out = append(out, outlier{x: x, y: y, median: f.median})
			continue
		}
		kx, ky = append(kx, x), append(ky, y)
	}
	return kx, ky, out
}

// outlierList names up to three outliers as "136ms at 4KiB (median 2.4ms)".
func outlierList(out []outlier, spec *fitSpec) string {
	var parts []string
	for i, o := range out {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(out)-3))
			break
		}
		at := strconv.FormatFloat(o.x, 'g', -1, 64)
		if spec.xParam == "size" {
			at = scenario.Size(o.x).String()
		}
		parts = append(parts, fmt.Sprintf("%s at %s %s (median %s)", fmtNs(o.y), spec.xParam, at, fmtNs(o.median)))
	}
	return strings.Join(parts, ", ")
}

// fmtNs formats a duration in ns with a unit, three significant digits.
func fmtNs(ns float64) string {
	return time.Duration(ns).Round(time.Duration(math.Pow(10, math.Max(0, math.Floor(math.Log10(math.Abs(ns)))-2)))).String()
}

// mediansByX returns the distinct xs, ascending, and the median of the ys at each.
func mediansByX(xs, ys []float64) (mx, my []float64) {
	byX := map[float64][]float64{}
	for i, x := range xs {
		byX[x] = append(byX[x], ys[i])
	}
	for x := range byX {
		mx = append(mx, x)
	}
	slices.Sort(mx)
	for _, x := range mx {
		v := byX[x]
		slices.Sort(v)
		n := len(v)
		my = append(my, (v[(n-1)/2]+v[n/2])/2)
	}
	return mx, my
}

// driverRanks numbers drivers as r lists them, then as they first appear in its metrics.
func driverRanks(r *result.Result) map[string]int {
	rank := map[string]int{}
	add := func(d string) {
		if _, ok := rank[d]; !ok {
			rank[d] = len(rank)
		}
	}
	for _, d := range r.Drivers {
		add(d.Name)
	}
	for _, m := range r.Metrics {
		add(m.Driver)
	}
	return rank
}
