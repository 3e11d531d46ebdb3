package stats

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/units"
)

// MinCopyupR2 is the R² below which a copy-up fit with a significant per-byte cost is warned about:
// the samples are not a fixed part plus a per-byte part.
const MinCopyupR2 = 0.9

// Reference is the driver others are judged against: ratios in reports, and "flat" in fits.
const Reference = "overlayfs"

// FlatShare is the share of the reference driver's slope below which a fit is called flat, whatever
// its interval: a cost per byte or per layer a tenth of overlayfs over ext4's is not the same shape.
const FlatShare = 0.10

// fitSpec says which samples a derived fit regresses: those of metric whose point passes keep, with x
// read from the xParam parameter; the other parameters (less drop) make the fit's parameter point.
type fitSpec struct {
	name, metric metric.ID
	xParam, unit string
	drop         []string
	keep         func(params map[string]string) bool
	parseX       func(string) (float64, bool)
	minR2        float64 // warn below it; 0 = never
	linearIn     string  // the x parameter, named in the warning
	// smallX: a fixed cost (Alpha) is reported only when the smallest x measured is at most this,
	// so that it is read off a measured point, not extrapolated across decades.
	smallX float64
}

var fitSpecs = []fitSpec{
	{
		name: metric.FitCopyup, metric: metric.CopyupLatency, xParam: metric.PSize, unit: metric.NsPerByte,
		drop: []string{metric.PWrite},
		// The copy-up is the first write; the second write of the same file times the write alone.
		// Files from before the second write was timed have no write parameter: all first writes.
		keep:   func(p map[string]string) bool { w, ok := p[metric.PWrite]; return !ok || w == metric.WriteFirst },
		parseX: parseSizeBytes,
		minR2:  MinCopyupR2, linearIn: metric.PSize, smallX: 64 << 10,
	},
	{
		name: metric.FitLookup, metric: metric.OpLookup, xParam: metric.PDepth, unit: metric.NsPerLayer,
		keep:   func(p map[string]string) bool { return p[metric.PKind] == metric.LookupHit },
		parseX: parseDepth, smallX: 1,
	},
}

func parseSizeBytes(s string) (float64, bool) { return metric.Number(s) }

func parseDepth(s string) (float64, bool) {
	d, err := strconv.Atoi(s)
	return float64(d), err == nil && d >= 1
}

// Fits derives the fits of r from its raw samples, one per driver and point of the other
// parameters (FitResult: Theil–Sen through the medians at each x, a bootstrap interval for the
// slope):
//
//   - fit.copyup: copy-up latency (copyup.latency, write=first) against file size in bytes. Beta is
//     the cost per byte (1/Beta the copy rate); Alpha the fixed cost, shown only when a size of 64 KiB
//     or less was measured and never below 0.
//   - fit.lookup: lookup latency (op.lookup, kind=hit) against the depth the path is found at. Beta
//     is the cost per layer.
//
// A fit is flat (Fit.Flat) when its slope's interval contains 0, or when the slope is below
// FlatShare of the reference driver's at the same point: then it has no rate. Every sample counts:
// nothing is left out. A fit needs two distinct x; its interval three. Non-finite samples and
// unreadable x values are left out with a warning. Fits are ordered by driver (as r lists them),
// name, then parameters.
func Fits(r *result.Result) []result.Fit {
	type group struct {
		fit    result.Fit
		spec   *fitSpec
		byX    map[float64][]float64
		nonFin int
		badX   []string
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
				g = &group{fit: result.Fit{Driver: m.Driver, Name: spec.name, Params: params, Unit: spec.unit, Method: FitMethod},
					spec: spec, byX: map[float64][]float64{}}
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
				g.byX[x] = append(g.byX[x], y)
			}
		}
	}

	var fits []result.Fit
	for _, g := range order {
		if len(g.byX) < 2 {
			continue
		}
		xs := slices.Sorted(maps.Keys(g.byX))
		ys := make([][]float64, len(xs))
		for i, x := range xs {
			ys[i] = g.byX[x]
		}
		f := g.fit
		fr := Fit(xs, ys, seedOf(result.MetricKey(f.Driver, f.Name, f.Params)))
		f.Alpha, f.Beta, f.R2, f.N = fr.Alpha, fr.Beta, fr.R2, fr.Samples
		f.Points = fr.N
		f.BetaCILo, f.BetaCIHi = fr.BetaCILo, fr.BetaCIHi
		if !(fr.MinX <= g.spec.smallX) {
			f.Alpha = math.NaN()
			f.Warnings = append(f.Warnings, result.Warnf(result.WarnNoFixedCost, "no %s at or below %s measured: no fixed cost", g.spec.xParam, xLabel(g.spec, g.spec.smallX)))
		} else if f.Alpha < 0 {
			f.Alpha = 0 // the line passes below 0 at the smallest x: its fixed part is within noise of none
		}
		if g.nonFin > 0 {
			f.Warnings = append(f.Warnings, result.Warnf(result.WarnNonFinite, "%d non-finite samples ignored", g.nonFin))
		}
		if len(g.badX) > 0 {
			f.Warnings = append(f.Warnings, result.Warnf(result.WarnUnreadableX, "series with unreadable %s left out: %s", g.spec.xParam, strings.Join(g.badX, ", ")))
		}
		if fr.N < 3 {
			f.Warnings = append(f.Warnings, result.Warnf(result.WarnFewPoints, "only %d points: no confidence interval for the slope", fr.N))
		}
		if w, ok := linearityWarning(g.spec, fr); ok {
			f.Warnings = append(f.Warnings, w)
		}
		fits = append(fits, f)
	}
	markFlat(fits)

	drivers := driverRanks(r)
	specRank := func(name metric.ID) int {
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

// FitMethod names how Fits fits, in every fit it makes.
const FitMethod = "theil-sen over medians, bootstrap 95% interval"

// markFlat sets Flat on the fits whose slope's interval contains 0, or whose slope is below
// FlatShare of the reference driver's at the same point.
func markFlat(fits []result.Fit) {
	ref := map[string]float64{}
	for _, f := range fits {
		if f.Driver == Reference {
			ref[result.PointKey(f.Name, f.Params)] = f.Beta
		}
	}
	for i := range fits {
		f := &fits[i]
		switch rb, ok := ref[result.PointKey(f.Name, f.Params)]; {
		case math.IsNaN(f.Beta):
		case !math.IsNaN(f.BetaCILo) && f.BetaCILo <= 0 && 0 <= f.BetaCIHi:
			f.Flat = true
		case ok && rb > 0 && f.Driver != Reference && math.Abs(f.Beta) < FlatShare*rb:
			f.Flat = true
		}
	}
}

// xLabel formats x as its parameter is written.
func xLabel(spec *fitSpec, x float64) string {
	if spec.xParam == metric.PSize {
		return units.Size(x).String()
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// linearityWarning warns about a fit whose R² (over the medians) is below spec.minR2 while its slope
// is significant: the cost is not a fixed part plus a part per x. A flat cost has a low R² by nature
// and is not warned about: its interval says it.
func linearityWarning(spec *fitSpec, fr FitResult) (result.Warning, bool) {
	if spec.minR2 == 0 || !(fr.R2 < spec.minR2) {
		return result.Warning{}, false
	}
	if fr.BetaCILo <= 0 && 0 <= fr.BetaCIHi {
		return result.Warning{}, false
	}
	return result.Warnf(result.WarnNotLinear, "low R² %.2f over the medians: the cost is not linear in %s", fr.R2, spec.linearIn), true
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
