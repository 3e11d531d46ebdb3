package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/report/plot"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
	"github.com/seedbench/seedbench/internal/units"
)

// Figure is one rendered plot: its title and the files written for it, relative to the directory
// given to Plots.
type Figure struct {
	Title string `json:"title"`
	SVG   string `json:"svg"`
	PNG   string `json:"png"`
}

// Plots renders the figures r has data for into dir, each as <prefix>-<figure>.svg and .png (or
// <figure>.svg and .png when prefix is ""):
//
//   - copyup: copy-up latency vs file size (log-log), first write, warm cache, a line per driver
//     and how, with confidence-interval bars;
//   - lookup: lookup latency vs depth of the file found, a line per driver and cache state, misses
//     as a separate point after the deepest layer;
//   - disk: disk used vs number of containers, a line per driver;
//   - pagecache: page cache resident vs number of containers, a line per driver;
//   - lifecycle: median snapshot calls per container and the per-layer image operations summed
//     over the layers: a dot plot, a panel per operation, a row per driver;
//   - pull: a fresh node's pull until the container is ready and until its start is done: a dot
//     plot, a panel per network, a row per driver;
//   - daemon: each daemon driver's median ÷ its in-process pair's, rule by rule and point by point
//     (log scale), with the ratios' intervals and a line at ×1;
//   - break-even: each lazy loader's start-done time ÷ the full pull's against the share of the
//     image the start reads, a line per network and lazy loader, with a line at ×1.
//
// The line figures become dot plots too when they have more drivers or lines than read apart in one
// panel (more than 6 drivers or 12 lines): a row per driver, a panel per x (file size, depth,
// count), a marker per variant. No two series of a figure share a colour and marker, headings and
// captions wrap to the figure's width, and no value is written where labels would collide:
// Figure.Check (TestFigureCheck) holds every figure to that.
//
// A figure whose metrics are absent is skipped. Drivers that were skipped or failed are not
// plotted. The SVG files are deterministic: the same result renders byte-identical files.
func Plots(dir, prefix string, r *result.Result) ([]Figure, error) {
	var figs []Figure
	for _, b := range figures(r) {
		base := b.name
		if prefix != "" {
			base = prefix + "-" + b.name
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return figs, fmt.Errorf("plot %s: %w", b.name, err)
		}
		if err := WriteFigure(b.fig, filepath.Join(dir, base)); err != nil {
			return figs, fmt.Errorf("plot %s: %w", b.name, err)
		}
		figs = append(figs, Figure{Title: b.fig.Title, SVG: base + ".svg", PNG: base + ".png"})
	}
	return figs, nil
}

// namedFigure is a figure and its name in the files' names.
type namedFigure struct {
	name string
	fig  *plot.Figure
}

// figures builds the figures r has data for, in the order of Plots.
func figures(r *result.Result) []namedFigure {
	d := newPlotData(r)
	var out []namedFigure
	for _, b := range []struct {
		name  string
		build func(*plotData) *plot.Figure
	}{
		{"copyup", copyupFigure},
		{"lookup", lookupFigure},
		{"disk", diskFigure},
		{"disk-images", diskImagesFigure},
		{"pagecache", pagecacheFigure},
		{"lifecycle", lifecycleFigure},
		{"pull", pullFigure},
		{"daemon", daemonFigure},
		{"break-even", breakEvenFigure},
	} {
		if f := b.build(d); f != nil {
			out = append(out, namedFigure{b.name, f})
		}
	}
	return out
}

// WriteFigure renders f to base.svg and base.png.
func WriteFigure(f *plot.Figure, base string) error {
	svg, png, err := f.Render()
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".svg", svg, 0o644); err != nil {
		return err
	}
	return os.WriteFile(base+".png", png, 0o644)
}

// plotData is the part of a result the figures draw from: the metrics of the drivers that ran,
// summarized, and each driver's color.
type plotData struct {
	r       *result.Result
	drivers []string // plotted drivers, in result order
	colors  map[string]color.Color
	metrics []*result.Metric
}

func newPlotData(r *result.Result) *plotData {
	d := &plotData{r: r, colors: map[string]color.Color{}}
	excluded := map[string]bool{}
	for _, dr := range r.Drivers {
		if dr.Status == result.StatusSkipped || dr.Status == result.StatusFailed {
			excluded[dr.Name] = true
		}
	}
	// Colors follow the plotted drivers' order, so a driver keeps its color across figures and
	// across results with the same drivers (a figure of more drivers than colors is a dot plot,
	// which does not color by driver).
	for _, name := range driverOrder(r) {
		if !excluded[name] {
			d.colors[name] = plot.Palette[len(d.drivers)%len(plot.Palette)]
			d.drivers = append(d.drivers, name)
		}
	}
	for _, m := range summarized(r.Metrics) {
		if !excluded[m.Driver] && m.Summary.N > 0 && plot.Finite(m.Summary.Median) {
			d.metrics = append(d.metrics, m)
		}
	}
	return d
}

// named returns the metrics called name.
func (d *plotData) named(name metric.ID) []*result.Metric {
	var out []*result.Metric
	for _, m := range d.metrics {
		if m.Name == name {
			out = append(out, m)
		}
	}
	return out
}

// point is a metric placed at x.
type point struct {
	x float64
	m *result.Metric
}

// series is a line: one driver at one variant (the values of the parameters that vary besides x).
type series struct {
	driver  string
	variant map[string]string
	label   string // the variant's values, "" when only the driver varies
	pts     []point
}

// seriesSet is the lines of a figure and how to tell them apart.
type seriesSet struct {
	series   []*series
	variants []string // distinct variant labels, in order
	header   string   // what the variants are: "how", "cache", "how, image"
}

// buildSeries groups points into series: a series per driver and per combination of the parameters
// that vary across ms, leaving out the ignored ones (x and the filters). A second point of a series
// at the same x is dropped (it would be a duplicate series, which the tables report).
func buildSeries(d *plotData, ms []*result.Metric, xOf func(*result.Metric) (float64, bool), ignore ...string) seriesSet {
	values := map[string]map[string]bool{}
	for _, m := range ms {
		for k, v := range m.Params {
			if values[k] == nil {
				values[k] = map[string]bool{}
			}
			values[k][v] = true
		}
	}
	var vary []string
	for k, vs := range values {
		if slices.Contains(ignore, k) {
			continue
		}
		present := 0
		for _, m := range ms {
			if _, ok := m.Params[k]; ok {
				present++
			}
		}
		if len(vs) > 1 || present < len(ms) {
			vary = append(vary, k)
		}
	}
	vary = paramKeys(setOf(vary))

	byKey := map[string]*series{}
	var all []*series
	for _, m := range ms {
		x, ok := xOf(m)
		if !ok || !plot.Finite(x) {
			continue
		}
		variant := map[string]string{}
		for _, k := range vary {
			if v, ok := m.Params[k]; ok {
				variant[k] = v
			}
		}
		label := ""
		if len(vary) == 1 {
			label = variant[vary[0]]
		} else if len(vary) > 1 {
			label = FormatParams(variant)
		}
		key := m.Driver + "\x00" + FormatParams(variant)
		s := byKey[key]
		if s == nil {
			s = &series{driver: m.Driver, variant: variant, label: label}
			byKey[key] = s
			all = append(all, s)
		}
		if slices.ContainsFunc(s.pts, func(p point) bool { return p.x == x }) {
			continue
		}
		s.pts = append(s.pts, point{x, m})
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.driver != b.driver {
			return slices.Index(d.drivers, a.driver) < slices.Index(d.drivers, b.driver)
		}
		return compareParams(a.variant, b.variant) < 0
	})
	set := seriesSet{series: all, header: strings.Join(vary, ", ")}
	var variantMaps []map[string]string
	for _, s := range all {
		sort.SliceStable(s.pts, func(i, j int) bool { return s.pts[i].x < s.pts[j].x })
		if !slices.Contains(set.variants, s.label) {
			set.variants = append(set.variants, s.label)
			variantMaps = append(variantMaps, s.variant)
		}
	}
	// Variants in their natural order (how: append, rdwr, chmod…), not first-seen.
	idx := make([]int, len(set.variants))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool { return compareParams(variantMaps[idx[i]], variantMaps[idx[j]]) < 0 })
	sorted := make([]string, len(idx))
	for i, k := range idx {
		sorted[i] = set.variants[k]
	}
	set.variants = sorted
	return set
}

func setOf(keys []string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = ""
	}
	return m
}

// compareParams orders parameter points as the tables order rows.
func compareParams(a, b map[string]string) int {
	for _, k := range paramKeys(union(a, b)) {
		va, aok := a[k]
		vb, bok := b[k]
		if aok != bok {
			if !aok {
				return -1
			}
			return 1
		}
		if c := metric.CompareValues(k, va, vb, nil); c != 0 {
			return c
		}
	}
	return 0
}

// styles returns the line and marker of a series: the driver's color, the variant's dashes and
// marker. Without variants the dashes and marker follow the driver too, so drivers with the same
// values (overlayfs and its metacopy variant often have) still show both lines.
func (set seriesSet) styles(d *plotData, s *series) (draw.LineStyle, draw.GlyphStyle) {
	i := slices.Index(set.variants, s.label)
	width := vg.Points(1.5)
	if len(set.variants) <= 1 {
		// Earlier drivers are drawn first and wider, so a line drawn over one stays visible.
		i = max(slices.Index(d.drivers, s.driver), 0)
		width += vg.Points(float64(max(len(d.drivers)-1-i, 0)))
	}
	v := plot.VariantStyles[max(i, 0)%len(plot.VariantStyles)]
	line := draw.LineStyle{Color: d.colors[s.driver], Width: width, Dashes: v.Dashes}
	glyph := draw.GlyphStyle{Color: d.colors[s.driver], Radius: vg.Points(3.5), Shape: v.Shape}
	return line, glyph
}

// legend lists the drivers by color, then the variants by line style, so 3 drivers × 3 variants
// take 6 entries rather than 9. With a single variant the drivers' entries show its style.
func (set seriesSet) legend(d *plotData, markers bool) []plot.LegendEntry {
	var drivers []string
	for _, s := range set.series {
		if !slices.Contains(drivers, s.driver) {
			drivers = append(drivers, s.driver)
		}
	}
	single := len(set.variants) <= 1
	out := []plot.LegendEntry{{Label: "driver", Header: true}}
	for _, name := range drivers {
		t := plot.LineThumb{Line: draw.LineStyle{Color: d.colors[name], Width: vg.Points(3)}}
		if single {
			line, glyph := set.styles(d, &series{driver: name, label: set.variants[0]})
			t = plot.LineThumb{Line: line}
			if markers {
				t.Glyph = &glyph
			}
		}
		out = append(out, plot.LegendEntry{Label: name, Thumbs: []gplot.Thumbnailer{t}})
	}
	if single {
		return out
	}
	out = append(out, plot.LegendEntry{Label: set.header, Header: true})
	for i, v := range set.variants {
		st := plot.VariantStyles[i%len(plot.VariantStyles)]
		t := plot.LineThumb{Line: draw.LineStyle{Color: color.Gray{Y: 0x40}, Width: vg.Points(1.5), Dashes: st.Dashes}}
		if markers {
			t.Glyph = &draw.GlyphStyle{Color: color.Gray{Y: 0x40}, Radius: vg.Points(3.5), Shape: st.Shape}
		}
		label := v
		if label == "" {
			label = "(none)"
		}
		out = append(out, plot.LegendEntry{Label: label, Thumbs: []gplot.Thumbnailer{t}})
	}
	return out
}

// addSeries adds each series as a line with markers and, when it has intervals, error bars. xf
// maps x to the axis (log, and shifted sideways by series so their bars do not hide each other).
func (set seriesSet) addSeries(p *gplot.Plot, d *plotData, logY bool, xf func(x float64, i, n int) float64) {
	for i, s := range set.series {
		set.addLine(p, d, s, s.pts, true, logY, func(x float64) float64 {
			return xf(x, i, len(set.series))
		})
	}
}

// addLine adds pts of series s: a line through them when connect, markers, and error bars. xf maps
// x to the axis; with logY, y is plotted as its log10.
//
// Log axes are drawn as linear axes over log values (with plot.LogTicks) rather than with gonum's
// LogScale, which misplaces a centred axis label's glyph box and pads the plot with empty space.
func (set seriesSet) addLine(p *gplot.Plot, d *plotData, s *series, pts []point, connect, logY bool, xf func(float64) float64) {
	line, glyph := set.styles(d, s)
	ser := &plot.Series{Name: strings.TrimSpace(s.driver + " " + s.label), Glyph: glyph}
	if connect {
		ser.Line = &line
	}
	yf := func(y float64) float64 { return y }
	if logY {
		yf = math.Log10
	}
	for _, pt := range pts {
		ser.XYs = append(ser.XYs, plotter.XY{X: xf(pt.x), Y: yf(pt.m.Summary.Median)})
		lo, hi := ciOf(pt.m, logY)
		if hi > lo {
			lo, hi = yf(lo), yf(hi)
		} else {
			lo, hi = math.NaN(), math.NaN()
		}
		ser.Lo, ser.Hi = append(ser.Lo, lo), append(ser.Hi, hi)
	}
	p.Add(ser)
}

// ciOf is the metric's confidence interval, or (0, 0) when there is none to draw. On a log axis
// the lower end is clamped to the median when it is not positive.
func ciOf(m *result.Metric, logY bool) (lo, hi float64) {
	s := m.Summary
	clo, chi := s.SampleCI()
	if s.N < 2 || !plot.Finite(clo) || !plot.Finite(chi) || chi < clo {
		return 0, 0
	}
	lo, hi = min(clo, s.Median), max(chi, s.Median)
	if logY && lo <= 0 {
		lo = s.Median
	}
	return lo, hi
}

// xs are the x values of the set's points, ascending.
func (set seriesSet) xs() []float64 {
	var xs []float64
	for _, s := range set.series {
		for _, pt := range s.pts {
			if !slices.Contains(xs, pt.x) {
				xs = append(xs, pt.x)
			}
		}
	}
	slices.Sort(xs)
	return xs
}

// tooMany reports whether a series set is too many lines for one panel: more drivers than
// (color, marker) pairs read apart at a glance, or more lines than a reader can follow. Such a set
// is drawn as a dot plot (dotsOf).
func (set seriesSet) tooMany() bool {
	var drivers []string
	for _, s := range set.series {
		if !slices.Contains(drivers, s.driver) {
			drivers = append(drivers, s.driver)
		}
	}
	return len(drivers) > 6 || len(set.series) > 12
}

// dotsOf lays a series set out as a dot plot: a row per driver, a panel per x in xs (headed by
// heading), a marker per variant (a distinct color and shape each), values on one x range (log10
// with logV).
func dotsOf(set seriesSet, xs []float64, heading func(float64) string, logV bool, format func(float64) string) *plot.Dots {
	dots := &plot.Dots{Shared: true, Log: logV, Ticks: ticksOf(logV, format)}
	for _, s := range set.series {
		if !slices.Contains(dots.Rows, s.driver) {
			dots.Rows = append(dots.Rows, s.driver)
		}
	}
	glyphs := plot.DotGlyphs(len(set.variants))
	for i, v := range set.variants {
		dots.Series = append(dots.Series, plot.DotSeries{Label: v, Glyph: glyphs[i]})
	}
	for _, x := range xs {
		pn := plot.DotPanel{Heading: heading(x)}
		for _, s := range set.series {
			for _, pt := range s.pts {
				if pt.x == x {
					pn.Marks = append(pn.Marks, markOf(slices.Index(dots.Rows, s.driver), slices.Index(set.variants, s.label), pt.m, logV))
				}
			}
		}
		dots.Panels = append(dots.Panels, pn)
	}
	return dots
}

// ticksOf marks a dot plot's panels: decades of nanoseconds (log) or round byte counts.
func ticksOf(logV bool, format func(float64) string) func(int) gplot.Ticker {
	if logV {
		return func(n int) gplot.Ticker { return plot.LogTicks{Format: format, MaxLabels: n} }
	}
	return func(n int) gplot.Ticker { return plot.BytesTicks{Format: format, MaxLabels: n} }
}

// markOf is m's median in row and series, with its interval, as log10s with logV.
func markOf(row, series int, m *result.Metric, logV bool) plot.Mark {
	f := func(v float64) float64 { return v }
	if logV {
		f = math.Log10
	}
	mk := plot.Mark{Row: row, Series: series, X: f(m.Summary.Median), Lo: math.NaN(), Hi: math.NaN()}
	if lo, hi := ciOf(m, logV); hi > lo {
		mk.Lo, mk.Hi = f(lo), f(hi)
	}
	return mk
}

// intervalNote says what the interval bars are, with their confidence levels (lower than 95% where
// a metric has too few samples to reach it).
func intervalNote(ms []*result.Metric) string {
	var levels []float64
	for _, m := range ms {
		if c := m.Summary.Confidence; c > 0 && m.Summary.N >= 2 && !slices.Contains(levels, c) {
			levels = append(levels, c)
		}
	}
	if len(levels) == 0 {
		return ""
	}
	slices.Sort(levels)
	slices.Reverse(levels)
	var ps []string
	for _, c := range levels {
		ps = append(ps, strconv.FormatFloat(c*100, 'g', 3, 64)+"%")
	}
	note := "bars: the median's " + ps[0] + " confidence interval"
	if len(ps) > 1 {
		note = "bars: the median's confidence interval, at " + strings.Join(ps[:len(ps)-1], ", ") + " or " + ps[len(ps)-1] + " (fewer samples)"
	}
	return note
}

// upper starts s with a capital.
func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// joinNotes joins the non-empty notes of a caption with "; ".
func joinNotes(notes ...string) string {
	return strings.Join(slices.DeleteFunc(notes, func(s string) bool { return s == "" }), "; ")
}

// --- figures ---

func copyupFigure(d *plotData) *plot.Figure {
	ms := d.named(metric.CopyupLatency)
	// First write only (the second write of a copied-up file is no copy-up).
	if hasParam(ms, metric.PWrite) {
		ms = filterParam(ms, metric.PWrite, metric.WriteFirst)
	}
	cache, ms := pickValue(ms, metric.PCache, metric.CacheWarm)
	set := buildSeries(d, ms, func(m *result.Metric) (float64, bool) {
		s, err := units.ParseSize(m.Params[metric.PSize])
		return float64(s), err == nil && s > 0
	}, metric.PSize, metric.PWrite, metric.PCache)
	if len(set.series) == 0 {
		return nil
	}
	var qual []string
	if hasParam(d.named(metric.CopyupLatency), metric.PWrite) {
		qual = append(qual, "first write")
	}
	if cache != "" {
		qual = append(qual, cache+" cache")
	}
	title := "Copy-up latency vs file size"
	if len(qual) > 0 {
		title += " (" + strings.Join(qual, ", ") + ")"
	}
	sizes := set.xs()
	note := intervalNote(ms)
	if set.tooMany() {
		dots := dotsOf(set, sizes, sizeLabel, true, nanosLabel)
		caption := joinNotes("Median copy-up latency (log scale), a row per driver, a panel per file size", note)
		return dots.Figure(title, caption, set.header)
	}
	p := plot.New(title, "file size (log scale)", "median latency (log scale)")
	p.X.Tick.Marker = plot.SizeTicks{Sizes: sizes, Format: sizeLabel}
	p.Y.Tick.Marker = plot.LogTicks{Format: nanosLabel}
	// x is log2(size); series at the same size are spread over a third of an octave so their
	// bars stay apart.
	xf := func(x float64, i, n int) float64 {
		if n < 2 {
			return math.Log2(x)
		}
		return math.Log2(x) + (float64(i)/float64(n-1)-0.5)/3
	}
	set.addSeries(p, d, true, xf)
	// Half an octave of room each side for the dodge, the markers and the end tick labels.
	p.X.Min, p.X.Max = math.Log2(sizes[0])-0.5, math.Log2(sizes[len(sizes)-1])+0.5
	return &plot.Figure{Title: title, Plot: p, Legend: set.legend(d, true), Caption: upper(note)}
}

func lookupFigure(d *plotData) *plot.Figure {
	all := d.named(metric.OpLookup)
	cache := ""
	if vs := paramValues(all, metric.PCache); len(vs) == 1 {
		cache = vs[0]
	}
	hits := filterParam(all, metric.PKind, metric.LookupHit)
	misses := filterParam(all, metric.PKind, metric.LookupMiss)
	depthOf := func(m *result.Metric) (float64, bool) {
		v, err := strconv.Atoi(m.Params[metric.PDepth])
		return float64(v), err == nil
	}
	set := buildSeries(d, hits, depthOf, metric.PDepth, metric.PKind, metric.PLayers)
	if len(set.series) == 0 {
		return nil
	}
	maxDepth := 0.0
	for _, s := range set.series {
		for _, pt := range s.pts {
			maxDepth = max(maxDepth, pt.x)
		}
	}
	// Depths that span decades (1..128) go on a log₂ axis: depth d is drawn at 1 + log₂ d.
	logX := maxDepth >= 16
	tx := func(x float64) float64 {
		if logX && x > 0 {
			return 1 + math.Log2(x)
		}
		return x
	}
	// A miss looked through every layer: it goes one step past the deepest layer.
	missX := maxDepth + max(1, math.Round(maxDepth/8)) // apart from the deepest hit
	for _, m := range misses {
		if n, err := strconv.Atoi(m.Params[metric.PLayers]); err == nil {
			missX = max(missX, float64(n)+max(1, math.Round(float64(n)/8)))
		}
	}
	if logX {
		missX = tx(maxDepth) + 1 // one doubling past the deepest layer, in drawn units
	}
	// Each miss joins the hit series with the same driver and variant; a miss without one is
	// left out (it has no line to belong to).
	missOf := map[*series]*result.Metric{}
	for _, m := range misses {
		for _, s := range set.series {
			if s.driver == m.Driver && sameVariant(s.variant, m.Params) && missOf[s] == nil {
				missOf[s] = m
				break
			}
		}
	}

	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range set.series {
		for _, pt := range s.pts {
			lo, hi = min(lo, pt.m.Summary.Median), max(hi, pt.m.Summary.Median)
		}
		if m := missOf[s]; m != nil {
			lo, hi = min(lo, m.Summary.Median), max(hi, m.Summary.Median)
		}
	}
	logY := lo > 0 && hi/lo > 10

	title := "Lookup (stat) latency vs depth"
	if cache != "" {
		title += " (" + cache + " cache)"
	}
	ylabel := "median latency"
	if logY {
		ylabel += " (log scale)"
	}
	xlabel := "layer the file is found in (1 = top image layer)"
	if logX {
		xlabel = "layer the file is found in (1 = top image layer; log scale)"
	}
	note := intervalNote(all)
	if set.tooMany() {
		depths := set.xs()
		dots := dotsOf(set, depths, func(x float64) string { return "layer " + strconv.Itoa(int(x)) }, logY, nanosLabel)
		if !logY {
			dots.Ticks = func(n int) gplot.Ticker { return plot.LinearTicks{Format: nanosLabel} }
		}
		if len(missOf) > 0 {
			miss := plot.DotPanel{Heading: "miss"}
			if layers := paramValues(misses, metric.PLayers); len(layers) == 1 {
				miss.Heading += " (" + layers[0] + " layers)"
			}
			for _, s := range set.series {
				if m := missOf[s]; m != nil {
					miss.Marks = append(miss.Marks, markOf(slices.Index(dots.Rows, s.driver), slices.Index(set.variants, s.label), m, logY))
				}
			}
			dots.Panels = append(dots.Panels, miss)
		}
		caption := joinNotes("Median lookup latency, a row per driver, a panel per layer the file is found in (1 = top image layer) and for a miss", note)
		if logY {
			caption = strings.Replace(caption, "latency,", "latency (log scale),", 1)
		}
		return dots.Figure(title, caption, set.header)
	}
	p := plot.New(title, xlabel, ylabel)
	n := len(set.series)
	dodge := func(x float64, i int) float64 {
		if n < 2 {
			return x
		}
		return x + (float64(i)/float64(n-1)-0.5)*0.3
	}
	for i, s := range set.series {
		xf := func(x float64) float64 { return dodge(tx(x), i) }
		set.addLine(p, d, s, s.pts, true, logY, xf)
		if m := missOf[s]; m != nil {
			mf := func(x float64) float64 { return dodge(x, i) } // missX is already in drawn units
			set.addLine(p, d, s, []point{{missX, m}}, false, logY, mf)
		}
	}
	// Label the depths measured; the others get an unlabelled minor tick (deep stacks would crowd).
	measured := map[float64]bool{}
	for _, s := range set.series {
		for _, pt := range s.pts {
			measured[pt.x] = true
		}
	}
	var ticks gplot.ConstantTicks
	for x := 1.0; x <= maxDepth; x++ {
		t := gplot.Tick{Value: tx(x)}
		if measured[x] || maxDepth <= 12 {
			t.Label = strconv.Itoa(int(x))
		} else if logX {
			continue // a log axis has room for the measured depths only
		}
		ticks = append(ticks, t)
	}
	if len(missOf) > 0 {
		label := "miss"
		if layers := paramValues(misses, metric.PLayers); len(layers) == 1 {
			label += "\n(" + layers[0] + " layers)"
		}
		ticks = append(ticks, gplot.Tick{Value: missX, Label: label})
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = 0.5, ticks[len(ticks)-1].Value+0.5
	if logY {
		p.Y.Tick.Marker = plot.LogTicks{Format: nanosLabel}
	} else {
		p.Y.Min = 0
		p.Y.Tick.Marker = plot.LinearTicks{Format: nanosLabel}
	}
	return &plot.Figure{Title: title, Plot: p, Legend: set.legend(d, true), Caption: upper(note)}
}

// sameVariant reports whether params carry the variant's values.
func sameVariant(variant, params map[string]string) bool {
	for k, v := range variant {
		if params[k] != v {
			return false
		}
	}
	return true
}

func diskFigure(d *plotData) *plot.Figure {
	// With an image sweep, disk.used also has points with fewer images (and no containers): this
	// figure keeps the full set of images, diskImagesFigure plots the others.
	ms := d.named(metric.DiskUsed)
	full := maxParam(ms, metric.PImages)
	ms = slices.DeleteFunc(slices.Clone(ms), func(m *result.Metric) bool { return m.Params[metric.PImages] != full })
	title := "Disk used vs containers"
	if full != "" {
		title += " (" + full + " images)"
		if full == "1" {
			title = strings.TrimSuffix(title, "s)") + ")"
		}
	}
	return countFigure(d, ms, metric.PContainers, title, "disk used on the backing filesystem")
}

// diskImagesFigure plots the images' disk use against their number, before any container: from a
// scenario's image sweep (sweep.images).
func diskImagesFigure(d *plotData) *plot.Figure {
	ms := slices.DeleteFunc(slices.Clone(d.named(metric.DiskUsed)), func(m *result.Metric) bool { return m.Params[metric.PContainers] != "0" })
	if len(paramValues(ms, metric.PImages)) < 2 {
		return nil
	}
	return countFigure(d, ms, metric.PImages, "Disk used vs images (no containers)", "disk used on the backing filesystem")
}

// maxParam is the numerically largest value of key among ms ("" if none).
func maxParam(ms []*result.Metric, key string) string {
	best, bestV := "", -1
	for _, v := range paramValues(ms, key) {
		if n, err := strconv.Atoi(v); err == nil && n > bestV {
			best, bestV = v, n
		}
	}
	return best
}

func pagecacheFigure(d *plotData) *plot.Figure {
	ms := d.named(metric.PagecacheResident)
	title := "Page cache resident vs containers"
	if vs := paramValues(ms, metric.PWorkingSet); len(vs) == 1 {
		title += " (working set " + vs[0] + ")"
	}
	return countFigure(d, ms, metric.PContainers, title, "page cache resident")
}

// countFigure plots byte metrics against a count parameter (containers, images), from zero.
func countFigure(d *plotData, ms []*result.Metric, count, title, ylabel string) *plot.Figure {
	set := buildSeries(d, ms, func(m *result.Metric) (float64, bool) {
		v, err := strconv.Atoi(m.Params[count])
		return float64(v), err == nil
	}, count)
	if len(set.series) == 0 {
		return nil
	}
	p := plot.New(title, count, ylabel)
	xs := set.xs()
	note := intervalNote(ms)
	if set.tooMany() {
		// A panel per count, at most five: the first, the last and evenly between.
		shown := xs
		if len(xs) > 5 {
			shown = nil
			for i := range 5 {
				x := xs[int(math.Round(float64(i)*float64(len(xs)-1)/4))]
				if !slices.Contains(shown, x) {
					shown = append(shown, x)
				}
			}
		}
		heading := func(x float64) string {
			if x == 1 {
				return "1 " + strings.TrimSuffix(count, "s")
			}
			return strconv.Itoa(int(x)) + " " + count
		}
		dots := dotsOf(set, shown, heading, false, bytesLabel)
		caption := joinNotes(upper(ylabel)+", a row per driver, a panel per number of "+count, note)
		return dots.Figure(title, caption, set.header)
	}
	gap := 1.0
	for i := 1; i < len(xs); i++ {
		gap = min(gap, xs[i]-xs[i-1])
	}
	// Drivers with equal values are common here (no copy per container): spread the markers.
	xf := func(x float64, i, n int) float64 {
		if n < 2 {
			return x
		}
		return x + (float64(i)/float64(n-1)-0.5)*0.1*gap
	}
	set.addSeries(p, d, false, xf)
	p.Y.Min = min(0, p.Y.Min)
	p.Y.Max += (p.Y.Max - p.Y.Min) * 0.04 // the top point clear of the frame
	p.Y.Tick.Marker = plot.BytesTicks{Format: bytesLabel}
	// Label every count measured, or, when there are many (1..16 containers), the first, the last
	// and the powers of two between.
	var ticks gplot.ConstantTicks
	for i, x := range xs {
		label := strconv.Itoa(int(x))
		if len(xs) > 12 && i > 0 && i < len(xs)-1 && (x < 1 || int(x)&(int(x)-1) != 0) {
			label = ""
		}
		ticks = append(ticks, gplot.Tick{Value: x, Label: label})
	}
	p.X.Tick.Marker = ticks
	pad := max(0.25, (xs[len(xs)-1]-xs[0])/30)
	p.X.Min, p.X.Max = xs[0]-pad, xs[len(xs)-1]+pad
	return &plot.Figure{Title: title, Plot: p, Legend: set.legend(d, true), Caption: upper(note)}
}

// barGroup is a panel of values by driver: e.g. per-container snapshot calls (median over the
// containers of each one's median) or a per-layer operation summed over the image's layers; or of
// several series (a network's pulls: until ready, until done), each values by driver.
type barGroup struct {
	label   string
	values  map[string]float64   // by driver, for a single series
	series  []map[string]float64 // by series, by driver, when there are several
	metrics []*result.Metric     // the metrics values were read from (their intervals), if any
}

// all is the group's values by series.
func (g barGroup) all() []map[string]float64 {
	if g.series != nil {
		return g.series
	}
	return []map[string]float64{g.values}
}

// barDrivers returns the drivers (in plot order) with a positive value in some group.
func barDrivers(d *plotData, groups []barGroup) (drivers []string) {
	for _, drv := range d.drivers {
		has := false
		for _, g := range groups {
			for _, vals := range g.all() {
				if v, ok := vals[drv]; ok && v > 0 {
					has = true
				}
			}
		}
		if has {
			drivers = append(drivers, drv)
		}
	}
	return drivers
}

func lifecycleFigure(d *plotData) *plot.Figure {
	containerCalls := []metric.ID{metric.SnapshotPrepare, metric.SnapshotMount, metric.SnapshotCommit, metric.SnapshotUnmount, metric.SnapshotRemove}
	var ops []barGroup
	for _, name := range containerCalls {
		if name == metric.SnapshotUnmount || name == metric.SnapshotCommit {
			// Only shown when measured for containers.
			if !hasParam(d.named(name), metric.PContainer) {
				continue
			}
		}
		per := map[string][]float64{}
		for _, m := range d.named(name) {
			if _, ok := m.Params[metric.PContainer]; ok {
				per[m.Driver] = append(per[m.Driver], m.Summary.Median)
			}
		}
		if len(per) == 0 {
			continue
		}
		op := barGroup{label: strings.TrimPrefix(string(name), "snapshot.") + "\n(container)", values: map[string]float64{}}
		for drv, vs := range per {
			op.values[drv] = stats.Median(vs)
		}
		ops = append(ops, op)
	}
	layerOps := []metric.ID{metric.LayerApply, metric.LayerDiff}
	if !hasParam(d.named(metric.SnapshotCommit), metric.PContainer) {
		// Containers are not committed: show committing the image's layers instead.
		layerOps = []metric.ID{metric.LayerApply, metric.SnapshotCommit, metric.LayerDiff}
	}
	for _, name := range layerOps {
		sums := map[string]float64{}
		layers := map[string][]string{}
		var union []string
		for _, m := range d.named(name) {
			l, ok := m.Params[metric.PLayer]
			if !ok || slices.Contains(layers[m.Driver], l) {
				continue
			}
			layers[m.Driver] = append(layers[m.Driver], l)
			sums[m.Driver] += m.Summary.Median
			if !slices.Contains(union, l) {
				union = append(union, l)
			}
		}
		if len(union) == 0 {
			continue
		}
		op := barGroup{values: map[string]float64{}}
		short := strings.TrimPrefix(string(name), "snapshot.")
		op.label = fmt.Sprintf("%s\n(Σ %d layers)", short, len(union))
		if len(union) == 1 {
			op.label = short + "\n(1 layer)"
		}
		// A sum over fewer layers than the others ran would mislead: leave the bar out.
		for drv, s := range sums {
			if len(layers[drv]) == len(union) {
				op.values[drv] = s
			}
		}
		ops = append(ops, op)
	}
	drivers := barDrivers(d, ops)
	if len(drivers) == 0 {
		return nil
	}
	title := "Snapshot lifecycle and image build (median)"
	dots := groupDots(drivers, []string{"median"}, ops, false)
	caption := "Median time (log scale, each panel its own range), a row per driver, a panel per operation; per container: the median over the containers of each one's median; Σ: summed over the image's layers"
	return dots.Figure(title, caption, "")
}

// pullFigure draws, for each network of the pull ops, the median time until the container was
// ready and until the start trace was done: a panel per network, a row per driver, on one log axis
// (a full pull over a slow network and a lazy one on loopback are decades apart).
func pullFigure(d *plotData) *plot.Figure {
	ready, done := d.named(metric.PullReady), d.named(metric.PullDone)
	if len(ready) == 0 {
		return nil
	}
	var groups []barGroup
	var ms []*result.Metric
	for _, network := range paramValues(ready, metric.PNetwork) {
		g := barGroup{label: network}
		for _, what := range [][]*result.Metric{ready, done} {
			vals := map[string]float64{}
			for _, m := range filterParam(what, metric.PNetwork, network) {
				if m.Summary.Median > 0 {
					vals[m.Driver] = m.Summary.Median
					g.metrics = append(g.metrics, m)
					ms = append(ms, m)
				}
			}
			g.series = append(g.series, vals)
		}
		groups = append(groups, g)
	}
	drivers := barDrivers(d, groups)
	if len(drivers) == 0 {
		return nil
	}
	title := "Pulling an image afresh: until the container is ready, and until its start is done (median)"
	dots := groupDots(drivers, []string{"container ready", "start done"}, groups, true)
	caption := joinNotes("Median time (log scale), a row per driver, a panel per network. Full pull: fetch + decompress + apply every layer; lazy pull: mount each layer from the registry, fetch what the start reads", intervalNote(ms))
	return dots.Figure(title, caption, "until")
}

// groupDots lays groups out as a dot plot: a row per driver, a panel per group, a marker per
// series (the group's values, or its series' values), on log axes shared by the panels or each
// its own. A value drawn from a metric (groups' metrics) carries its interval.
func groupDots(drivers, series []string, groups []barGroup, shared bool) *plot.Dots {
	dots := &plot.Dots{Rows: drivers, Shared: shared, Log: true, Ticks: ticksOf(true, nanosLabel)}
	glyphs := plot.DotGlyphs(len(series))
	for i, s := range series {
		dots.Series = append(dots.Series, plot.DotSeries{Label: s, Glyph: glyphs[i]})
	}
	for _, g := range groups {
		pn := plot.DotPanel{Heading: g.label}
		for j, vals := range g.all() {
			for row, drv := range drivers {
				v, ok := vals[drv]
				if !ok || v <= 0 {
					continue
				}
				mk := plot.Mark{Row: row, Series: j, X: math.Log10(v), Lo: math.NaN(), Hi: math.NaN()}
				for _, m := range g.metrics {
					if m.Driver == drv && m.Summary.Median == v {
						mk = markOf(row, j, m, true)
						break
					}
				}
				pn.Marks = append(pn.Marks, mk)
			}
		}
		dots.Panels = append(dots.Panels, pn)
	}
	return dots
}

// daemonFigure draws, for each daemon driver with its in-process pair in the run, the ratio of its
// median to the pair's at every rule and point of the daemon tables: a row per point (labelled on
// the left), a marker per daemon driver with its interval as a bar, on a log axis with a line at ×1.
func daemonFigure(d *plotData) *plot.Figure {
	pairs, _, _ := daemonPairs(d.r)
	type cat struct {
		label string
		rule  int
	}
	var cats []cat
	type mark struct {
		cat int
		r   stats.Ratio
	}
	marks := map[string][]mark{}
	var daemons []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pairs {
		rows, _ := compareDrivers(d.metrics, p.daemon.Name, p.inProcess.Name)
		for _, rw := range rows {
			if !(rw.ratio.Ratio > 0) {
				continue
			}
			label := rw.rule.label
			if rw.rule.over == "" && rw.at != "" {
				label += ": " + rw.at
			}
			i := slices.IndexFunc(cats, func(c cat) bool { return c.label == label })
			if i < 0 {
				i = len(cats)
				rule := 0
				for j := range ratioRules {
					if &ratioRules[j] == rw.rule {
						rule = j
					}
				}
				cats = append(cats, cat{label, rule})
			}
			marks[p.daemon.Name] = append(marks[p.daemon.Name], mark{i, rw.ratio})
			lo, hi = min(lo, rw.ratio.Ratio), max(hi, rw.ratio.Ratio)
			if rw.ratio.Lo > 0 && rw.ratio.Hi > 0 {
				lo, hi = min(lo, rw.ratio.Lo), max(hi, rw.ratio.Hi)
			}
		}
		if len(marks[p.daemon.Name]) > 0 {
			daemons = append(daemons, p.daemon.Name)
		}
	}
	if len(daemons) == 0 {
		return nil
	}
	// Rows in the tables' order: by rule, then as the first daemon driver met the points.
	order := make([]int, len(cats))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cats[a].rule - cats[b].rule })
	rowOf := make([]float64, len(cats)) // the first row at the top
	for pos, i := range order {
		rowOf[i] = float64(len(cats) - 1 - pos)
	}

	title := "Daemon versus in process, rule by rule"
	p := plot.New(title, "daemon driver's median ÷ its in-process pair's (log scale; bars: the intervals of the tables)", "")
	p.Y.Tick.Label.Font = font.From(plot.SansFont, 10)
	p.X.Label.TextStyle.Font = font.From(plot.SansFont, 11)
	// Every other rule's rows on a light band, so a row's markers read with its label.
	xlo, xhi := -100.0, 100.0 // beyond any axis: the band is clipped to the data area
	band := 0
	for pos := 0; pos < len(order); {
		end := pos
		for end < len(order) && cats[order[end]].rule == cats[order[pos]].rule {
			end++
		}
		if band%2 == 1 {
			top, bottom := rowOf[order[pos]]+0.5, rowOf[order[end-1]]-0.5
			poly, err := plotter.NewPolygon(plotter.XYs{{X: xlo, Y: bottom}, {X: xhi, Y: bottom}, {X: xhi, Y: top}, {X: xlo, Y: top}})
			if err != nil {
				return nil
			}
			poly.Color = color.NRGBA{A: 0x0c} // translucent: the grid shows through
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		band++
		pos = end
	}
	// ×1 (no cost) as a line, under the markers.
	one, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.6}, {X: 0, Y: float64(len(cats)) - 0.4}})
	if err != nil {
		return nil
	}
	one.LineStyle = draw.LineStyle{Color: color.Gray{Y: 0x50}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
	p.Add(one)
	var legend []plot.LegendEntry
	legend = append(legend, plot.LegendEntry{Label: "daemon driver (÷ its pair)", Header: true})
	n := len(daemons)
	for k, name := range daemons {
		st := plot.VariantStyles[k%len(plot.VariantStyles)]
		glyph := draw.GlyphStyle{Color: d.colors[name], Radius: vg.Points(3.5), Shape: st.Shape}
		ser := &plot.Series{Name: name, Horizontal: true, Glyph: glyph}
		for _, m := range marks[name] {
			y := rowOf[m.cat]
			if n > 1 {
				y += (0.5 - float64(k)/float64(n-1)) * 0.5 // the first driver highest in its row
			}
			lo, hi := math.NaN(), math.NaN()
			if m.r.Lo > 0 && m.r.Hi > m.r.Lo {
				lo, hi = math.Log10(m.r.Lo), math.Log10(m.r.Hi)
			}
			ser.XYs = append(ser.XYs, plotter.XY{X: math.Log10(m.r.Ratio), Y: y})
			ser.Lo, ser.Hi = append(ser.Lo, lo), append(ser.Hi, hi)
		}
		p.Add(ser)
		pair := ""
		for _, pr := range pairs {
			if pr.daemon.Name == name {
				pair = pr.inProcess.Name
			}
		}
		legend = append(legend, plot.LegendEntry{Label: name + " ÷ " + pair, Thumbs: []gplot.Thumbnailer{plot.LineThumb{Glyph: &glyph}}})
	}
	var ticks gplot.ConstantTicks
	for i, c := range cats {
		ticks = append(ticks, gplot.Tick{Value: rowOf[i], Label: c.label})
	}
	p.Y.Tick.Marker = ticks
	p.Y.Min, p.Y.Max = -0.7, float64(len(cats))-0.3
	p.Y.Tick.Length = 0
	// At least a decade each side of ×1, and the intervals' reach.
	p.X.Min = math.Floor(math.Min(math.Log10(lo), -1)*2) / 2
	p.X.Max = math.Ceil(math.Max(math.Log10(hi), 1)*2) / 2
	p.X.Tick.Marker = plot.LogTicks{Format: func(v float64) string { return "×" + strconv.FormatFloat(v, 'g', -1, 64) }}
	// A row of labels needs about 13 points; the legend's entries must fit beside the plot.
	height := max(vg.Points(375), vg.Points(13*float64(len(cats))+110))
	return &plot.Figure{Title: title, Plot: p, Legend: legend, Width: vg.Points(760), Height: height}
}

// --- parameters ---

func hasParam(ms []*result.Metric, key string) bool {
	return slices.ContainsFunc(ms, func(m *result.Metric) bool { _, ok := m.Params[key]; return ok })
}

func filterParam(ms []*result.Metric, key, value string) []*result.Metric {
	var out []*result.Metric
	for _, m := range ms {
		if m.Params[key] == value {
			out = append(out, m)
		}
	}
	return out
}

// paramValues lists the distinct values of key in ms, in natural order.
func paramValues(ms []*result.Metric, key string) []string {
	var vs []string
	for _, m := range ms {
		if v, ok := m.Params[key]; ok && !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return metric.CompareValues(key, vs[i], vs[j], nil) < 0 })
	return vs
}

// pickValue keeps the metrics at one value of key: preferred when present, else the first in
// natural order. Metrics without key are kept only when no metric has it.
func pickValue(ms []*result.Metric, key, preferred string) (string, []*result.Metric) {
	vs := paramValues(ms, key)
	if len(vs) == 0 {
		return "", ms
	}
	v := vs[0]
	if slices.Contains(vs, preferred) {
		v = preferred
	}
	return v, filterParam(ms, key, v)
}

// --- axes ---

// Tick labels in seedbench's units: "1 µs", "256 MiB".
var (
	nanosLabel = plot.Label(FormatNanos)
	bytesLabel = plot.Label(func(v float64) string { return FormatBytes(int64(math.Round(v))) })
)

// sizeLabel writes a file size as scenarios do (4KiB, 1MiB), or in IEC units with 3 significant
// digits when it is not a whole number of bytes.
func sizeLabel(v float64) string {
	if v >= 1 && v == math.Trunc(v) {
		return units.Size(v).String()
	}
	return plot.Compact(FormatBytes(int64(math.Round(v))))
}
