// Package report renders results for people. Every report is first built as data (a Doc: sections
// of lines, tables and notes), then rendered to terminal text fitted to the terminal's width
// (Doc.Text) or to Markdown (Doc.Markdown, RESULTS.md); figures are drawn by Plots.
//
// A result's report (Build) leads with what each rule of layered storage cost on each driver, what
// a daemon costs (each daemon driver against the in-process driver of the same snapshotter, and one
// daemon version against another, where the run has them), the published shapes the result can
// check, and its verifications; then, as details, the daemon comparisons rule by rule, one table per
// metric family with drivers side by side, the fits, and where the run's time went. A cell is the
// median and its 95% interval from the run's samples; a cell whose metric carries warnings points to
// a note under its table, one note per cause, naming the cells it applies to. Raw samples are the
// source of truth: a metric stored without a summary is summarized here.
package report

import (
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/stats"
)

// row is one line of a table: a metric (or fit) name and parameter point, with a cell per driver.
type row struct {
	name   metric.ID
	params map[string]string
	cells  map[string]*result.Metric
	fits   map[string]*result.Fit // in the fits table
}

// Tables writes r's whole report as terminal text (120 columns).
func Tables(w io.Writer, r *result.Result) error {
	return Build(r).Text(w, TextOptions{Details: true})
}

// Markdown writes r's report as Markdown (RESULTS.md).
func Markdown(w io.Writer, r *result.Result) error { return Build(r).Markdown(w) }

// Build makes r's report: a header (scenario, run, machine, drivers), what each rule costs, what a
// daemon costs, the published shapes, the checks; then, as details, the daemon comparisons rule by
// rule, a table per metric family, the fits, the run time by driver and phase, and why the shapes
// hold.
func Build(r *result.Result) *Doc {
	d := &Doc{}
	d.Sections = append(d.Sections, headerSection(r), driversSection(r))
	if s := rulesSection(r); s != nil {
		d.Sections = append(d.Sections, s)
	}
	daemons, daemonDetails := daemonSections(r)
	d.Sections = append(d.Sections, daemons...)
	d.Sections = append(d.Sections, shapesSections(r)...)
	if s := pagesSection(r); s != nil {
		d.Sections = append(d.Sections, s)
	}
	d.Sections = append(d.Sections, breakEvenSections(r)...)
	d.Sections = append(d.Sections, checksSection(r))
	d.Sections = append(d.Sections, daemonDetails...)

	metrics := summarized(r.Metrics)
	drivers := driverOrder(r)
	layerOrder := make([]string, len(r.Layers))
	for i, l := range r.Layers {
		layerOrder[i] = l.Name
	}
	groups, titles := group(metrics)
	duplicates := 0
	for _, title := range titles {
		rows, dups := buildRows(groups[title])
		duplicates += dups
		sortRows(rows, layerOrder)
		cols := usedDrivers(drivers, rows)
		var ns notes
		t := &Table{Header: append([]string{"metric", "params"}, cols...), Key: 2}
		for _, rw := range rows {
			line := []string{string(rw.name), FormatParams(rw.params)}
			ref := rw.cells[Reference]
			for _, dr := range cols {
				m := rw.cells[dr]
				if m == nil {
					line = append(line, "-")
					continue
				}
				c := Cell(m)
				if ref != nil && dr != Reference {
					c += ratio(m, ref)
				}
				line = append(line, c+ns.ref(dr+" "+string(rw.name)+" "+FormatParams(rw.params), m.Warnings))
			}
			t.Rows = append(t.Rows, line)
		}
		s := &Section{Title: title, Level: 2, Table: t, Notes: ns.list(), Detail: true}
		if dups > 0 {
			s.After = append(s.After, fmt.Sprintf("%d duplicate series (same driver, metric and params) not shown: merge them", dups))
		}
		d.Sections = append(d.Sections, s)
	}
	if len(metrics) == 0 {
		d.Sections = append(d.Sections, &Section{Lines: []string{"no metrics"}, Detail: true})
	}
	fits := r.Fits
	if len(fits) == 0 {
		fits = stats.Fits(r) // a result written before fits were
	}
	if s := fitsSection(fits, drivers, layerOrder); s != nil {
		d.Sections = append(d.Sections, s)
	}
	if s := runTimeSection(r, drivers); s != nil {
		d.Sections = append(d.Sections, s)
	}
	if s := shapesWhySection(r); s != nil {
		d.Sections = append(d.Sections, s)
	}
	return d
}

// Reference is the driver other drivers' cells are compared with: each cell of another driver shows
// its median as a multiple of the reference's ("×33.5"), so a row reads at a glance.
const Reference = stats.Reference

// ratio formats m's median relative to ref's: " ×0.52", or "" when either is not positive or the
// metric is itself a ratio.
func ratio(m, ref *result.Metric) string {
	if m.Unit == "ratio" || m.Summary.N == 0 || ref.Summary.N == 0 || m.Summary.Median <= 0 || ref.Summary.Median <= 0 {
		return ""
	}
	x := m.Summary.Median / ref.Summary.Median
	switch {
	case x >= 100:
		return fmt.Sprintf(" ×%.0f", x)
	case x >= 10:
		return fmt.Sprintf(" ×%.1f", x)
	}
	return fmt.Sprintf(" ×%.2f", x)
}

// Cell formats a metric's median and its confidence interval from the samples: "2.01 µs [1.98, 2.10]";
// "-" when it has no samples.
func Cell(m *result.Metric) string {
	if m.Summary.N == 0 {
		return "-"
	}
	s := FormatValue(m.Unit, m.Summary.Median)
	if ci := FormatCI(m.Unit, m.Summary); ci != "" {
		s += " " + ci
	}
	return s
}

// fitLegend explains each fit's cell, under the fits table.
var fitLegend = map[metric.ID]string{
	metric.FitCopyup: "fit.copyup: copy-up = fixed cost + size / rate [the rate's 95% interval], Theil–Sen through the median at each size, " +
		"the interval by bootstrap; the fixed cost is shown where a size of 64KiB or less was measured. \"flat in size\": the per-byte cost's " +
		"interval contains 0, or it is below a tenth of overlayfs's: no rate to quote",
	metric.FitLookup: "fit.lookup: lookup cost per layer of depth [its 95% interval], Theil–Sen through the median at each depth: flat when " +
		"the interval contains 0 or the cost is below a tenth of overlayfs's (then only the interval is shown: no cost per layer to quote), " +
		"grows when it is above 0",
}

// fitsSection is the fits table: a row per fit name and parameter point, a column per driver, a
// line explaining each fit; warnings go to notes.
func fitsSection(fits []result.Fit, drivers, layerOrder []string) *Section {
	if len(fits) == 0 {
		return nil
	}
	byKey := map[string]*row{}
	var rows []*row
	for i := range fits {
		f := &fits[i]
		key := result.PointKey(f.Name, f.Params)
		rw := byKey[key]
		if rw == nil {
			rw = &row{name: f.Name, params: f.Params, fits: map[string]*result.Fit{}}
			byKey[key] = rw
			rows = append(rows, rw)
		}
		if rw.fits[f.Driver] == nil {
			rw.fits[f.Driver] = f
		}
	}
	sortRows(rows, layerOrder)
	var cols []string
	for _, d := range drivers {
		for _, rw := range rows {
			if rw.fits[d] != nil {
				cols = append(cols, d)
				break
			}
		}
	}
	for _, f := range fits { // drivers only the fits name
		if !slices.Contains(cols, f.Driver) {
			cols = append(cols, f.Driver)
		}
	}
	var ns notes
	t := &Table{Header: append([]string{"fit", "params"}, cols...), Key: 2}
	var names []metric.ID
	for _, rw := range rows {
		line := []string{string(rw.name), FormatParams(rw.params)}
		for _, d := range cols {
			f := rw.fits[d]
			if f == nil {
				line = append(line, "-")
				continue
			}
			line = append(line, FitCell(f)+ns.ref(d+" "+string(rw.name)+" "+FormatParams(rw.params), f.Warnings))
		}
		t.Rows = append(t.Rows, line)
		if !slices.Contains(names, rw.name) {
			names = append(names, rw.name)
		}
	}
	s := &Section{Title: "fits", Level: 2, Table: t, Notes: ns.list(), Detail: true}
	for _, n := range names {
		if text, ok := fitLegend[n]; ok {
			s.After = append(s.After, text)
		}
	}
	return s
}

// FitCell formats a fit. fit.copyup: the fixed cost and the copy rate (1/Beta, decimal bytes per
// second) with the rate's interval, "2.48 ms + 912 MB/s [880, 940] (R² 0.99)", or "2.48 ms, flat in
// size (R² 0.01)" when the fit is flat (no rate is quoted for a flat cost). fit.lookup: the cost per
// layer with its interval and a verdict, "+370 ns/layer [350, 390] (R² 0.91) grows" or "shrinks",
// or, when the fit is flat, only the interval: "flat in depth [-183, 29.6] ns/layer", and when the
// line fits the medians worse than their mean (R² < 0), "not linear in depth". Other fits:
// "α + β unit".
func FitCell(f *result.Fit) string {
	if f.N == 0 || math.IsNaN(f.Beta) {
		return "-"
	}
	r2 := ""
	if !math.IsNaN(f.R2) && !f.Flat { // a flat cost's R² says nothing: its interval says it
		r2 = " (R² " + strconv.FormatFloat(f.R2, 'f', 2, 64) + ")"
	}
	fixed := ""
	if !math.IsNaN(f.Alpha) {
		fixed = FormatNanos(f.Alpha)
	}
	switch f.Name {
	case metric.FitCopyup:
		flat := f.Flat || f.Beta <= 0 || (f.Method == "" && f.BetaCILo <= 0) // files before Method: flat when the interval reaches 0
		if flat {
			if fixed == "" {
				return "flat in size" + r2
			}
			return fixed + ", flat in size" + r2
		}
		rate := FormatRate(1e9 / f.Beta)
		if f.BetaCILo > 0 && f.BetaCIHi > 0 {
			scale, _ := rateScale(1e9 / f.Beta)
			rate += " [" + sig3(1e9/f.BetaCIHi/scale) + ", " + sig3(1e9/f.BetaCILo/scale) + "]"
		}
		if fixed == "" {
			return rate + r2
		}
		return fixed + " + " + rate + r2
	case metric.FitLookup:
		ci := !math.IsNaN(f.BetaCILo) && !math.IsNaN(f.BetaCIHi)
		if f.Flat || ci && f.BetaCILo <= 0 && f.BetaCIHi >= 0 {
			// No cost per layer is quoted for a flat lookup: its interval says how flat.
			if !ci {
				return "flat in depth"
			}
			_, scale, unit := signedNanos(math.Max(math.Abs(f.BetaCILo), math.Abs(f.BetaCIHi)))
			return "flat in depth [" + sig3(f.BetaCILo/scale) + ", " + sig3(f.BetaCIHi/scale) + "]" + unit + "/layer"
		}
		if !math.IsNaN(f.R2) && f.R2 < 0 {
			// The line through the medians fits them worse than their mean: no cost per layer.
			return "not linear in depth (R² " + strconv.FormatFloat(f.R2, 'f', 2, 64) + ")"
		}
		s, scale, unit := signedNanos(f.Beta)
		s += unit + "/layer"
		if !ci {
			return s + r2
		}
		s += " [" + sig3(f.BetaCILo/scale) + ", " + sig3(f.BetaCIHi/scale) + "]" + r2
		if f.BetaCILo > 0 { // not flat: the interval is wholly above 0 or wholly below
			return s + " grows"
		}
		return s + " shrinks"
	}
	return fixed + " + " + sig3(f.Beta) + " " + f.Unit + r2
}

// signedNanos formats ns as FormatNanos does, with an explicit sign, and returns the scale and unit
// it chose ("+370", 1, " ns"), so other values can be shown in the same unit.
func signedNanos(ns float64) (string, float64, string) {
	scale, unit := 1.0, " ns"
	for _, u := range []struct {
		name  string
		scale float64
	}{{" µs", 1e3}, {" ms", 1e6}, {" s", 1e9}} {
		if math.Abs(ns) >= 999.5*scale {
			scale, unit = u.scale, u.name
		}
	}
	s := sig3(ns / scale)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s, scale, unit
}

// FormatRate formats a rate in bytes per second with decimal units and 3 significant digits:
// "512 B/s", "788 MB/s", "1.10 GB/s".
func FormatRate(bps float64) string {
	if math.IsInf(bps, 0) || math.IsNaN(bps) {
		return FormatValue("", bps) + " B/s"
	}
	scale, unit := rateScale(bps)
	return sig3(bps/scale) + " " + unit
}

// rateScale is the decimal unit FormatRate shows bps in.
func rateScale(bps float64) (float64, string) {
	units := []string{"B/s", "kB/s", "MB/s", "GB/s", "TB/s"}
	scale, i := 1.0, 0
	for i < len(units)-1 && math.Abs(bps/scale) >= 999.5 {
		scale *= 1000
		i++
	}
	return scale, units[i]
}

// summarized returns copies of the metrics in which a metric stored without a summary (hand-made
// or truncated files) is summarized from its samples, with the statistical warnings.
func summarized(ms []result.Metric) []*result.Metric {
	out := make([]*result.Metric, len(ms))
	for i := range ms {
		m := ms[i]
		if m.Summary.N == 0 && len(m.Samples) > 0 {
			m.Warnings = slices.Clone(m.Warnings)
			stats.Annotate(&m)
		}
		out[i] = &m
	}
	return out
}

// group splits metrics into their catalogue families, in report order.
func group(ms []*result.Metric) (map[string][]*result.Metric, []string) {
	groups := map[string][]*result.Metric{}
	var titles []string
	for _, m := range ms {
		title := metric.FamilyTitle(metric.FamilyOf(m.Name))
		if _, ok := groups[title]; !ok {
			titles = append(titles, title)
		}
		groups[title] = append(groups[title], m)
	}
	rank := func(title string) int {
		for _, m := range groups[title] {
			return metric.FamilyRank(metric.FamilyOf(m.Name))
		}
		return 0
	}
	slices.SortStableFunc(titles, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return groups, titles
}

// buildRows makes one row per (name, params); a second series with the same driver, name and params
// is not shown and counted.
func buildRows(ms []*result.Metric) (rows []*row, duplicates int) {
	byKey := map[string]*row{}
	for _, m := range ms {
		key := result.PointKey(m.Name, m.Params)
		rw := byKey[key]
		if rw == nil {
			rw = &row{name: m.Name, params: m.Params, cells: map[string]*result.Metric{}}
			byKey[key] = rw
			rows = append(rows, rw)
		}
		if rw.cells[m.Driver] != nil {
			duplicates++
			continue
		}
		rw.cells[m.Driver] = m
	}
	return rows, duplicates
}

func sortRows(rows []*row, layerOrder []string) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.name != b.name {
			ra, rb := metric.Rank(a.name), metric.Rank(b.name)
			if ra != rb {
				return ra < rb
			}
			return a.name < b.name
		}
		keys := paramKeys(union(a.params, b.params))
		for _, k := range keys {
			va, aok := a.params[k]
			vb, bok := b.params[k]
			if aok != bok {
				return !aok // a missing parameter sorts first
			}
			var order []string
			if k == metric.PLayer {
				order = layerOrder
			}
			if c := metric.CompareValues(k, va, vb, order); c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func union(a, b map[string]string) map[string]string {
	u := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		u[k] = v
	}
	for k, v := range b {
		u[k] = v
	}
	return u
}

// driverOrder lists drivers as the result does, then drivers that only appear in metrics.
func driverOrder(r *result.Result) []string {
	var ds []string
	for _, d := range r.Drivers {
		if !slices.Contains(ds, d.Name) {
			ds = append(ds, d.Name)
		}
	}
	for _, m := range r.Metrics {
		if !slices.Contains(ds, m.Driver) {
			ds = append(ds, m.Driver)
		}
	}
	return ds
}

// usedDrivers keeps the drivers that have a cell in rows.
func usedDrivers(drivers []string, rows []*row) []string {
	var out []string
	for _, d := range drivers {
		for _, rw := range rows {
			if rw.cells[d] != nil {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// headerSection names the scenario, the run and the machine.
func headerSection(r *result.Result) *Section {
	var lines []string
	w := func(format string, a ...any) { lines = append(lines, fmt.Sprintf(format, a...)) }
	sc := r.Scenario.Name
	if sc == "" {
		sc = "(unnamed)"
	}
	if r.Scenario.File != "" {
		sc += " (" + r.Scenario.File + ")"
	}
	w("scenario: %s", sc)
	var run []string
	if r.Run.ID != "" {
		run = append(run, r.Run.ID)
	}
	if !r.Run.Started.IsZero() {
		run = append(run, "started "+r.Run.Started.UTC().Format(time.RFC3339))
		if !r.Run.Finished.IsZero() {
			run = append(run, "took "+r.Run.Finished.Sub(r.Run.Started).Round(time.Second).String())
		}
	}
	run = append(run, fmt.Sprintf("seed %d", r.Run.Seed))
	if r.Run.Quick {
		run = append(run, "quick")
	}
	if r.Run.ToolVersion != "" {
		run = append(run, "seedbench "+r.Run.ToolVersion)
	}
	w("run: %s", strings.Join(run, ", "))
	if r.Partial {
		w("PARTIAL: the run did not finish; some metrics may be missing")
	}

	if l := envLine(r); l != "" {
		lines = append(lines, l)
	}
	if b := busyLine(r); b != "" {
		lines = append(lines, b)
	}
	if d := r.Drift; d != nil {
		stat, flush := calibrationMedians(r.Noise)
		w("machine over the run (%d calibration readings outside every driver): warm stat %s ×/÷%.2f, 4 KiB write + fdatasync %s ×/÷%.2f (medians; 95%% of the readings within the factor): how much the machine moved; no interval includes it (a re-run's spread is the noise floor that A/A runs measure)",
			d.Probes, stat, 1+d.Stat, flush, 1+d.Sync)
	}

	title := r.Scenario.Name
	if title == "" {
		title = "(unnamed)"
	}
	return &Section{Title: title, Level: 1, Lines: lines, Bullets: true}
}

// driversSection lists each driver's status, backing, options and, when it did not run, why.
func driversSection(r *result.Result) *Section {
	s := &Section{Title: "drivers", Level: 2}
	e := r.Env
	width := 0
	for _, d := range r.Drivers {
		width = max(width, len(d.Name))
	}
	for _, d := range r.Drivers {
		var parts []string
		backing := e.Backing.FS
		if d.Backing != nil && d.Backing.FS != "" {
			backing = d.Backing.FS
		}
		if backing != "" && d.Status == result.StatusOK {
			parts = append(parts, "on "+backing)
		}
		if d.Backing != nil && d.Backing.WriteCache != "" && d.Backing.WriteCache != drivers.WriteBack {
			parts = append(parts, fmt.Sprintf("its loop device's write cache is %q: flushes never reach the image, so fsync costs it nothing", d.Backing.WriteCache))
		}
		if len(d.Options) > 0 {
			parts = append(parts, FormatParams(d.Options))
		}
		if d.Reason != "" {
			parts = append(parts, d.Reason)
		}
		for _, u := range d.Unmeasured {
			ids := make([]string, len(u.Metrics))
			for i, id := range u.Metrics {
				ids[i] = string(id)
			}
			parts = append(parts, "not measured: "+strings.Join(ids, ", ")+" ("+u.Reason+")")
		}
		status := d.Status
		if status == "" {
			status = "?"
		}
		line := fmt.Sprintf("%-*s  %-7s  %s", width, d.Name, status, strings.Join(parts, ", "))
		s.Lines = append(s.Lines, strings.TrimRight(line, " "))
		s.Indent = strings.Repeat(" ", width+2+7+2)
	}
	if len(r.Drivers) == 0 {
		s.Lines = []string{"none recorded"}
	}
	return s
}

// checksSection says whether every verification passed, and lists the ones that failed.
func checksSection(r *result.Result) *Section {
	checks := r.Checks
	s := &Section{Title: "checks", Level: 2}
	if len(checks) == 0 {
		s.Lines = []string{"none recorded"}
		return s
	}
	var failed []result.Check
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		s.Lines = []string{fmt.Sprintf("all %d checks passed", len(checks))}
		return s
	}
	s.Lines = []string{fmt.Sprintf("%d of %d FAILED:", len(failed), len(checks))}
	for _, c := range failed {
		line := fmt.Sprintf("FAIL %s: %s", c.Driver, c.What)
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		s.Lines = append(s.Lines, line)
	}
	return s
}

// phaseOrder is the order the engine runs its phases in; workload ops in the order scenarios list
// op kinds.
var phaseOrder = func() []string {
	out := []string{"open", "build", "containers"}
	for _, k := range scenario.OpKinds() {
		out = append(out, "workload/"+string(k))
	}
	return append(out, "verify", "teardown", "close")
}()

// runTimeSection is where each driver's share of the run's wall time went, by phase (the result's
// phase_seconds), and how much of it was the timed samples themselves: what makes a run long (a
// full-copy driver's prepares, a flush per file), and how far it could shrink at most.
func runTimeSection(r *result.Result, drivers []string) *Section {
	byName := map[string]*result.DriverResult{}
	seen := map[string]bool{}
	var cols []string
	for i := range r.Drivers {
		dr := &r.Drivers[i]
		if len(dr.PhaseSeconds) > 0 {
			byName[dr.Name] = dr
			for ph := range dr.PhaseSeconds {
				seen[ph] = true
			}
		}
	}
	for _, d := range drivers {
		if byName[d] != nil {
			cols = append(cols, d)
		}
	}
	if len(cols) == 0 {
		return nil
	}
	var phases []string
	for _, ph := range phaseOrder {
		if seen[ph] {
			phases = append(phases, ph)
			delete(seen, ph)
		}
	}
	phases = append(phases, slices.Sorted(maps.Keys(seen))...)
	// The engine's own time (building trees, publishing layers, the floor, writing results back,
	// calibration probes) is outside every driver's clock: a column of its own, in rows of its own.
	engine := r.Run.EngineSeconds
	enginePhases := slices.Sorted(maps.Keys(engine))
	title := "run time (s), by driver and phase"
	if !r.Run.Started.IsZero() && r.Run.Finished.After(r.Run.Started) {
		title += fmt.Sprintf(": the run took %.0f s", r.Run.Finished.Sub(r.Run.Started).Seconds())
	}
	header := []string{"phase", "all drivers"}
	if len(engine) > 0 {
		header = append(header, "engine")
	}
	t := &Table{Header: append(header, cols...), Key: 1}
	row := func(name string, eng float64, sec func(*result.DriverResult) float64) {
		var all float64
		var cells []string
		for _, d := range cols {
			v := sec(byName[d])
			all += v
			cells = append(cells, fmt.Sprintf("%.1f", v))
		}
		line := []string{name, fmt.Sprintf("%.1f", all)}
		if len(engine) > 0 {
			line = append(line, fmt.Sprintf("%.1f", eng))
		}
		t.Rows = append(t.Rows, append(line, cells...))
	}
	var engineTotal float64
	for _, ph := range enginePhases {
		engineTotal += engine[ph]
	}
	for _, ph := range phases {
		row(ph, engine[ph], func(dr *result.DriverResult) float64 { return dr.PhaseSeconds[ph] })
	}
	for _, ph := range enginePhases {
		if !slices.Contains(phases, ph) {
			row(ph, engine[ph], func(*result.DriverResult) float64 { return 0 })
		}
	}
	row("total", engineTotal, func(dr *result.DriverResult) float64 { return dr.Seconds })
	// The timed work alone: every recorded sample of a time metric, summed. What the kernel and the
	// snapshotter spent on the measured calls themselves; the rest of total is setup, eviction,
	// verification and calibration around them.
	timed := map[string]float64{}
	for _, m := range r.Metrics {
		if !metric.IsTime(m.Name, m.Unit) {
			continue
		}
		for _, s := range m.Samples {
			timed[m.Driver] += s / 1e9
		}
	}
	row("of which timed samples", 0, func(dr *result.DriverResult) float64 { return timed[dr.Name] })
	return &Section{Title: title, Level: 2, Table: t, Detail: true}
}

// calibrationMedians formats the median warm stat and the median 4 KiB write + fdatasync of a run's
// calibration readings: the machine's own speed over the run ("?" where no reading was taken).
func calibrationMedians(noise []result.NoiseSample) (stat, flush string) {
	var st, fl []float64
	for _, n := range noise {
		if n.StatNs > 0 {
			st = append(st, n.StatNs)
		}
		if n.SyncNs > 0 {
			fl = append(fl, n.SyncNs)
		}
	}
	stat, flush = "?", "?"
	if len(st) > 0 {
		stat = FormatNanos(stats.Median(st))
	}
	if len(fl) > 0 {
		flush = FormatNanos(stats.Median(fl))
	}
	return stat, flush
}

// envLine is the header's line on the machine: kernel, OS, CPU, memory, backing, fingerprint.
func envLine(r *result.Result) string {
	e := r.Env
	var env []string
	if e.Kernel != "" {
		kernel, _, _ := strings.Cut(e.Kernel, " ") // the release; the build string is in the file
		env = append(env, "kernel "+kernel)
	}
	if e.OS != "" {
		env = append(env, e.OS)
	}
	if e.CPUModel != "" || e.CPUs > 0 {
		cpu := "cpu " + e.CPUModel
		if e.CPUs > 0 {
			cpu += fmt.Sprintf(" ×%d", e.CPUs)
		}
		env = append(env, strings.Replace(cpu, "  ", " ", 1))
	}
	if e.MemoryBytes > 0 {
		env = append(env, "memory "+FormatBytes(e.MemoryBytes))
	}
	if e.Backing.FS != "" {
		env = append(env, "backing "+e.Backing.FS)
	}
	if e.Fingerprint != "" {
		env = append(env, "fingerprint "+e.Fingerprint)
	}
	if len(env) == 0 {
		return ""
	}
	return "env: " + strings.Join(env, ", ")
}
