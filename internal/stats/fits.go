package stats

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
)

// MinCopyupR2 is the R² below which a copy-up fit with a significant per-byte cost is warned about:
// the samples are not a fixed part plus a per-byte part.
const MinCopyupR2 = 0.9

// Units of the fits' slopes.
const (
	UnitNsPerByte  = "ns/byte"
	UnitNsPerLayer = "ns/layer"
)

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
		name: result.FitCopyup, metric: "copyup.latency", xParam: "size", unit: UnitNsPerByte,
		drop: []string{"write"},
		// The copy-up is the first write; the second write of the same file times the write alone.
		// Files from before the second write was timed have no write parameter: all first writes.
		keep:   func(p map[string]string) bool { w, ok := p["write"]; return !ok || w == "first" },
		parseX: parseSizeBytes,
		minR2:  MinCopyupR2, linearIn: "size",
	},
	{
		name: result.FitLookup, metric: "op.lookup", xParam: "depth", unit: UnitNsPerLayer,
		keep:   func(p map[string]string) bool { return p["kind"] == "hit" },
		parseX: parseDepth,
	},
}

func parseSizeBytes(s string) (float64, bool) {
	n, err := scenario.ParseSize(s)
	return float64(n), err == nil
}

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
			if m.Name != spec.metric || (m.Unit != "" && m.Unit != "ns") || !spec.keep(m.Params) {
				continue
			}
			params := map[string]string{}
			for k, v := range m.Params {
				if k != spec.xParam && !slices.Contains(spec.drop, k) {
					params[k] = v
				}
			}
			key := m.Driver + "\x00" + spec.name + "\x00" + paramsKey(params)
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
		fr := Fit(g.xs, g.ys)
		f.Alpha, f.Beta, f.R2, f.N = fr.Alpha, fr.Beta, fr.R2, fr.N
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
		if w := linearityWarning(g.spec, fr, g.xs, g.ys); w != "" {
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
		return paramsKey(a.Params) < paramsKey(b.Params)
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

// paramsKey is a canonical string of params: key=value pairs sorted by key.
func paramsKey(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + params[k] + "\x00")
	}
	return b.String()
}
