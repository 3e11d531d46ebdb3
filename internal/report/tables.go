// Package report renders result files for people: terminal tables (Tables), and the formatting
// helpers every renderer shares (FormatValue, FormatBytes, FormatNanos, FormatCI, FormatParams).
//
// Tables put drivers side by side, as columns, one table per metric family, so a row reads as "this
// operation on each driver". A cell is the median and the half-width of its 95% confidence interval
// relative to it ("2.01 µs ±3.2%"); a cell whose metric carries warnings points to a numbered note
// under the tables (cells with the same warnings share one). Raw samples are the source of truth: a metric stored without a summary is
// summarized here.
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

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/stats"
)

// row is one line of a table: a metric (or fit) name and parameter point, with a cell per driver.
type row struct {
	name   string
	params map[string]string
	cells  map[string]*result.Metric
	fits   map[string]*result.Fit // in the fits table
}

// Tables writes r as terminal tables: a header (scenario, environment, drivers and their status),
// one table per metric family with drivers as columns, then the verification checks and the notes
// (each metric's warnings, numbered from the cells).
func Tables(w io.Writer, r *result.Result) error { return render(w, r, false) }

// Markdown writes r as Markdown (RESULTS.md): the same header, tables, checks and notes as Tables,
// with Markdown tables under a heading per metric family.
func Markdown(w io.Writer, r *result.Result) error { return render(w, r, true) }

func render(w io.Writer, r *result.Result, md bool) error {
	ew := &errWriter{w: w}
	if md {
		var hb strings.Builder
		writeHeader(&hb, r)
		fmt.Fprintf(ew, "## %s\n\n", r.Scenario.Name)
		for _, line := range strings.Split(strings.TrimRight(hb.String(), "\n"), "\n") {
			fmt.Fprintf(ew, "- %s\n", line)
		}
	} else {
		writeHeader(ew, r)
	}
	if err := Rules(ew, r, md); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := Shapes(ew, r, md); err != nil {
		return fmt.Errorf("report: %w", err)
	}

	metrics := summarized(r.Metrics)
	drivers := driverOrder(r)
	layerOrder := make([]string, len(r.Layers))
	for i, l := range r.Layers {
		layerOrder[i] = l.Name
	}

	groups, titles := group(metrics)
	var notes []string
	duplicates := 0
	for _, title := range titles {
		rows, dups := buildRows(groups[title])
		duplicates += dups
		sortRows(rows, layerOrder)
		cols := usedDrivers(drivers, rows)

		if md {
			fmt.Fprintf(ew, "\n### %s\n\n", title)
		} else {
			fmt.Fprintf(ew, "\n%s\n", title)
		}
		t := newTable(ew, append([]string{"metric", "params"}, cols...), md)
		for _, rw := range rows {
			line := []string{rw.name, FormatParams(rw.params)}
			ref := rw.cells[Reference]
			for _, d := range cols {
				m := rw.cells[d]
				if m == nil {
					line = append(line, "-")
					continue
				}
				cell := Cell(m)
				if ref != nil && d != Reference {
					cell += ratio(m, ref)
				}
				line = append(line, cell+noteRef(&notes, m.Warnings))
			}
			if err := t.Append(line); err != nil {
				return fmt.Errorf("report: %s: %w", title, err)
			}
		}
		if err := t.Render(); err != nil {
			return fmt.Errorf("report: %s: %w", title, err)
		}
	}
	if len(metrics) == 0 {
		fmt.Fprintf(ew, "\nno metrics\n")
	}

	fits := r.Fits
	if len(fits) == 0 {
		fits = stats.Fits(r) // a result written before fits were
	}
	if err := writeFits(ew, fits, drivers, layerOrder, md, &notes); err != nil {
		return err
	}

	if err := writeRunTime(ew, r, drivers, md); err != nil {
		return err
	}
	writeChecks(ew, r.Checks)
	if duplicates > 0 {
		notes = append(notes, fmt.Sprintf("%d duplicate series (same driver, metric and params) not shown: merge them", duplicates))
	}
	if len(notes) > 0 {
		fmt.Fprintf(ew, "\nnotes:\n")
		if md {
			ew.Write([]byte("\n"))
		}
		for i, n := range notes {
			if md {
				fmt.Fprintf(ew, "- [%d] %s\n", i+1, n)
			} else {
				fmt.Fprintf(ew, "  [%d] %s\n", i+1, n)
			}
		}
	}
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}
	return nil
}

// newTable starts a table with header: left-aligned name and params, then right-aligned cells;
// Markdown when md.
func newTable(w io.Writer, header []string, md bool) *tablewriter.Table {
	return newTableLeft(w, header, md, 2)
}

// newTableLeft is newTable with the first left columns left-aligned and the rest right-aligned.
func newTableLeft(w io.Writer, header []string, md bool, left int) *tablewriter.Table {
	var align tw.Alignment
	for i := range header {
		align = append(align, map[bool]tw.Align{true: tw.AlignLeft, false: tw.AlignRight}[i < left])
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithAlignment(align),
	}
	if md {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(header)
	return t
}

// noteRef returns the " [n]" that points a cell to the note holding its warnings, adding the note
// to notes if it is new (cells with the same warnings share a note); "" without warnings.
func noteRef(notes *[]string, warnings []string) string {
	if len(warnings) == 0 {
		return ""
	}
	text := strings.Join(warnings, "; ")
	i := slices.Index(*notes, text)
	if i < 0 {
		*notes = append(*notes, text)
		i = len(*notes) - 1
	}
	return fmt.Sprintf(" [%d]", i+1)
}

// Reference is the driver other drivers' cells are compared with: each cell of another driver shows
// its median as a multiple of the reference's ("×33.5"), so a row reads at a glance.
const Reference = "overlayfs"

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

// Cell formats a metric's median and its relative confidence interval: "2.01 µs ±3.2%"; "-" when
// it has no samples.
func Cell(m *result.Metric) string {
	if m.Summary.N == 0 {
		return "-"
	}
	s := FormatValue(m.Unit, m.Summary.Median)
	if ci := FormatCI(m.Summary); ci != "" {
		s += " " + ci
	}
	return s
}

// fitLegend explains each fit's cell, under the fits table.
var fitLegend = map[string]string{
	metric.FitCopyup: "fit.copyup: copy-up = fixed cost + size / rate, least squares over every first-write sample " +
		"(\"flat in size\": the per-byte cost's 95% interval contains 0)",
	metric.FitLookup: "fit.lookup: lookup cost per layer of depth [its 95% interval]: flat when the interval " +
		"contains 0, grows when it is above 0",
}

// writeFits writes the fits table: a row per fit name and parameter point, a column per driver,
// then a line explaining each fit; warnings go to notes.
func writeFits(w io.Writer, fits []result.Fit, drivers, layerOrder []string, md bool, notes *[]string) error {
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

	if md {
		fmt.Fprintf(w, "\n### fits\n\n")
	} else {
		fmt.Fprintf(w, "\nfits\n")
	}
	t := newTable(w, append([]string{"fit", "params"}, cols...), md)
	var names []string
	for _, rw := range rows {
		line := []string{rw.name, FormatParams(rw.params)}
		for _, d := range cols {
			f := rw.fits[d]
			if f == nil {
				line = append(line, "-")
				continue
			}
			line = append(line, FitCell(f)+noteRef(notes, f.Warnings))
		}
		if err := t.Append(line); err != nil {
			return fmt.Errorf("report: fits: %w", err)
		}
		if !slices.Contains(names, rw.name) {
			names = append(names, rw.name)
		}
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("report: fits: %w", err)
	}
	if md {
		fmt.Fprintln(w)
	}
	for _, n := range names {
		if text, ok := fitLegend[n]; ok {
			if md {
				fmt.Fprintf(w, "- %s\n", text)
			} else {
				fmt.Fprintf(w, "%s\n", text)
			}
		}
	}
	return nil
}

// FitCell formats a fit. fit.copyup: the fixed cost and the copy rate (1/Beta, decimal bytes per
// second), "1.95 ms + 1.02 GB/s (R² 0.99)", or "40.0 µs, flat in size (R² 0.01)" when the per-byte
// cost is not above 0 (Beta ≤ 0, or its interval contains 0). fit.lookup: the cost per layer with
// its 95% interval in the same unit and a verdict, "+0.37 µs/layer [0.21, 0.52] (R² 0.91) grows"
// (flat when the interval contains 0; shrinks when it is below 0). Other fits: "α + β unit".
func FitCell(f *result.Fit) string {
	if f.N == 0 || math.IsNaN(f.Beta) {
		return "-"
	}
	r2 := " (R² " + strconv.FormatFloat(f.R2, 'f', 2, 64) + ")"
	switch f.Name {
	case metric.FitCopyup:
		if f.Beta <= 0 || f.BetaCILo <= 0 { // a NaN interval (2 points) compares false: the rate shows
			return FormatNanos(f.Alpha) + ", flat in size" + r2
		}
		return FormatNanos(f.Alpha) + " + " + FormatRate(1e9/f.Beta) + r2
	case metric.FitLookup:
		s, scale, unit := signedNanos(f.Beta)
		s += unit + "/layer"
		if !math.IsNaN(f.BetaCILo) && !math.IsNaN(f.BetaCIHi) {
			s += " [" + sig3(f.BetaCILo/scale) + ", " + sig3(f.BetaCIHi/scale) + "]"
		}
		s += r2
		switch {
		case math.IsNaN(f.BetaCILo) || math.IsNaN(f.BetaCIHi):
		case f.BetaCILo > 0:
			s += " grows"
		case f.BetaCIHi < 0:
			s += " shrinks"
		default:
			s += " flat"
		}
		return s
	}
	return FormatNanos(f.Alpha) + " + " + sig3(f.Beta) + " " + f.Unit + r2
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
	units := []string{"B/s", "kB/s", "MB/s", "GB/s", "TB/s"}
	i := 0
	for i < len(units)-1 && math.Abs(bps) >= 999.5 {
		bps /= 1000
		i++
	}
	return sig3(bps) + " " + units[i]
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

func writeHeader(w io.Writer, r *result.Result) {
	sc := r.Scenario.Name
	if sc == "" {
		sc = "(unnamed)"
	}
	if r.Scenario.File != "" {
		sc += " (" + r.Scenario.File + ")"
	}
	fmt.Fprintf(w, "scenario: %s\n", sc)
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
	fmt.Fprintf(w, "run: %s\n", strings.Join(run, ", "))
	if r.Partial {
		fmt.Fprintf(w, "PARTIAL: the run did not finish; some metrics may be missing\n")
	}

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
	if len(env) > 0 {
		fmt.Fprintf(w, "env: %s\n", strings.Join(env, ", "))
	}
	if d := r.Drift; d != nil {
		stat, flush := calibrationMedians(r.Noise)
		fmt.Fprintf(w, "machine over the run (%d calibration readings outside every driver): warm stat %s ±%.0f%%, 4 KiB write + fdatasync %s ±%.0f%% (medians, drift): the result's intervals (ci_lo/ci_hi) include the drift, for a re-run's median; cells and plots show the samples' own, for comparing drivers\n",
			d.Probes, stat, 100*d.Stat, flush, 100*d.Sync)
	}

	if len(r.Drivers) == 0 {
		return
	}
	fmt.Fprintf(w, "drivers:\n")
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
		status := d.Status
		if status == "" {
			status = "?"
		}
		line := fmt.Sprintf("  %-*s  %-7s  %s", width, d.Name, status, strings.Join(parts, ", "))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func writeChecks(w io.Writer, checks []result.Check) {
	if len(checks) == 0 {
		fmt.Fprintf(w, "\nchecks: none recorded\n")
		return
	}
	var failed []result.Check
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, c)
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(w, "\nchecks: all %d checks passed\n", len(checks))
		return
	}
	fmt.Fprintf(w, "\nchecks: %d of %d FAILED:\n", len(failed), len(checks))
	for _, c := range failed {
		line := fmt.Sprintf("  FAIL %s: %s", c.Driver, c.What)
		if c.Detail != "" {
			line += ": " + c.Detail
		}
		fmt.Fprintln(w, line)
	}
}

// errWriter keeps the first write error so rendering code can write freely.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
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

// writeRunTime writes where each driver's share of the run's wall time went, by phase (the result's
// phase_seconds), and how much of it was the timed samples themselves: what makes a run long (a
// full-copy driver's prepares, a flush per file), and how far it could shrink at most.
func writeRunTime(w io.Writer, r *result.Result, drivers []string, md bool) error {
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
	title := "run time (s), by driver and phase"
	if !r.Run.Started.IsZero() && r.Run.Finished.After(r.Run.Started) {
		title += fmt.Sprintf(": the run took %.0f s", r.Run.Finished.Sub(r.Run.Started).Seconds())
	}
	if md {
		fmt.Fprintf(w, "\n### %s\n\n", title)
	} else {
		fmt.Fprintf(w, "\n%s\n", title)
	}
	t := newTableLeft(w, append([]string{"phase", "all drivers"}, cols...), md, 1)
	row := func(name string, sec func(*result.DriverResult) float64) error {
		var all float64
		var cells []string
		for _, d := range cols {
			v := sec(byName[d])
			all += v
			cells = append(cells, fmt.Sprintf("%.1f", v))
		}
		return t.Append(append([]string{name, fmt.Sprintf("%.1f", all)}, cells...))
	}
	for _, ph := range phases {
		if err := row(ph, func(dr *result.DriverResult) float64 { return dr.PhaseSeconds[ph] }); err != nil {
			return fmt.Errorf("report: run time: %w", err)
		}
	}
	if err := row("total", func(dr *result.DriverResult) float64 { return dr.Seconds }); err != nil {
		return fmt.Errorf("report: run time: %w", err)
	}
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
	if err := row("of which timed samples", func(dr *result.DriverResult) float64 { return timed[dr.Name] }); err != nil {
		return fmt.Errorf("report: run time: %w", err)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("report: run time: %w", err)
	}
	return nil
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
		stat = FormatNanos(median(st))
	}
	if len(fl) > 0 {
		flush = FormatNanos(median(fl))
	}
	return stat, flush
}
