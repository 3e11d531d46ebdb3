package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/seedbench/seedbench/internal/gate"
	"github.com/seedbench/seedbench/internal/report/plot"
)

// HistoryDoc is a history as a report: the runs, the change points found in the classes of times,
// the steps of the quantities, and (all) every class's level run by run.
func HistoryDoc(h *gate.History, all bool) *Doc {
	doc := &Doc{}
	regs, changes := h.Changes()
	doc.Sections = append(doc.Sections, &Section{Title: "history: " + h.Scenario, Level: 1, Bullets: true, Lines: []string{
		fmt.Sprintf("%d change points, %d of them regressions, over %d group(s) of runs", changes, regs, len(h.Groups)),
		"noise floors: " + h.NoiseFrom,
		fmt.Sprintf("method: %s (alpha %.2f, minimum effect %.0f%%)", h.Method, h.Alpha, 100*h.MinEffect),
	}})
	for _, g := range h.Groups {
		runs := &Table{Header: []string{"#", "run", "started", "commit", "faults injected"}, Key: 2}
		for i, r := range g.Runs {
			runs.Rows = append(runs.Rows, []string{fmt.Sprint(i + 1), r.ID, r.Started, r.Commit, strings.Join(r.Faults, "; ")})
		}
		doc.Sections = append(doc.Sections, &Section{Title: fmt.Sprintf("runs on machine %s", g.Fingerprint), Level: 2, Table: runs})
		ct := &Table{Header: []string{"driver", "class", "from run", "ratio", "p (adjusted)", "verdict", "basis", "levels (× run 1)"}, Key: 2}
		for _, c := range g.Classes {
			for _, cp := range c.Changes {
				ct.Rows = append(ct.Rows, []string{c.Driver, c.Class, fmt.Sprint(cp.At + 1), ratioText(cp.Ratio), fmt.Sprintf("%.2g", cp.P), string(cp.Verdict), c.Basis, levels(c.Levels, c.Missing)})
			}
		}
		sec := &Section{Title: "change points in the times", Level: 2, Table: ct,
			After: []string{"from run: the first run of the new level; ratio: its mean level over the mean level before it, within the segment the split was found in; levels: each run's class statistic against run 1"}}
		if len(ct.Rows) == 0 {
			sec = &Section{Title: "change points in the times", Level: 2, Lines: []string{fmt.Sprintf("none over %d classes", len(g.Classes))}}
		}
		doc.Sections = append(doc.Sections, sec)
		qt := &Table{Header: []string{"driver", "quantity", "at runs", "values"}, Key: 2}
		for _, st := range quantitySteps(g) {
			qt.Rows = append(qt.Rows, st[:])
		}
		qs := &Section{Title: "steps in the quantities", Level: 2, Table: qt}
		if len(qt.Rows) == 0 {
			qs = &Section{Title: "steps in the quantities", Level: 2, Lines: []string{fmt.Sprintf("none over %d quantities", len(g.Quantities))}}
		}
		doc.Sections = append(doc.Sections, qs)
		if all {
			lt := &Table{Header: []string{"driver", "class", "basis", "levels (× run 1)"}, Key: 2}
			for _, c := range g.Classes {
				lt.Rows = append(lt.Rows, []string{c.Driver, c.Class, c.Basis, levels(c.Levels, c.Missing)})
			}
			doc.Sections = append(doc.Sections, &Section{Title: "every class, run by run", Level: 2, Table: lt})
		}
	}
	return doc
}

func levels(ls []float64, missing []int) string {
	out := make([]string, len(ls))
	for i, l := range ls {
		if slices.Contains(missing, i) {
			out[i] = "-"
		} else {
			out[i] = fmt.Sprintf("%.3f", l)
		}
	}
	return strings.Join(out, " ")
}

// maxHistoryLines bounds the classes a history figure draws.
const maxHistoryLines = 10

// HistoryFigure draws, for the first group, the level of each class with a change point (the ten
// with the largest changes) run by run, on a log scale: where each series moved. Nil when no class
// changed.
func HistoryFigure(h *gate.History) *plot.Figure {
	if len(h.Groups) == 0 {
		return nil
	}
	g := h.Groups[0]
	type line struct {
		c   gate.ClassSeries
		big float64
	}
	var lines []line
	for _, c := range g.Classes {
		big := 0.0
		for _, cp := range c.Changes {
			big = max(big, math.Abs(math.Log(cp.Ratio)))
		}
		if big > 0 {
			lines = append(lines, line{c, big})
		}
	}
	if len(lines) == 0 {
		return nil
	}
	slices.SortStableFunc(lines, func(a, b line) int { return cmp.Compare(b.big, a.big) })
	lines = lines[:min(len(lines), maxHistoryLines)]
	p := plot.New("History of "+h.Scenario+": classes with a change point", "run (oldest first)", "level against run 1 (log scale)")
	p.Y.Scale = gplot.LogScale{}
	p.Y.Tick.Marker = gplot.LogTicks{Prec: -1}
	var legend []plot.LegendEntry
	legend = append(legend, plot.LegendEntry{Label: "driver · class", Header: true})
	for i, l := range lines {
		var xys plotter.XYs
		for k, v := range l.c.Levels {
			if v > 0 && !slices.Contains(l.c.Missing, k) {
				xys = append(xys, plotter.XY{X: float64(k + 1), Y: v})
			}
		}
		ln, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			continue
		}
		col := plot.Palette[i%len(plot.Palette)]
		ln.Color, ln.Width = col, vg.Points(1.5)
		pts.Color, pts.Shape = col, draw.CircleGlyph{}
		p.Add(ln, pts)
		legend = append(legend, plot.LegendEntry{Label: l.c.Driver + " · " + l.c.Class, Thumbs: []gplot.Thumbnailer{plot.LineThumb{Line: draw.LineStyle{Color: col, Width: vg.Points(1.5)}}}})
	}
	p.X.Min, p.X.Max = 0.5, float64(len(g.Runs))+0.5
	return &plot.Figure{Title: "history", Plot: p, Legend: legend}
}

// quantitySteps are the quantities of g that stepped: driver, quantity and params, the runs it
// stepped at, and its value run by run.
func quantitySteps(g gate.HistoryGroup) [][4]string {
	var out [][4]string
	for _, q := range g.Quantities {
		if len(q.Steps) == 0 {
			continue
		}
		var at, vs []string
		for _, s := range q.Steps {
			at = append(at, fmt.Sprint(s+1))
		}
		for i, v := range q.Values {
			if slices.Contains(q.Missing, i) {
				vs = append(vs, "-")
			} else {
				vs = append(vs, FormatValue(q.Unit, v))
			}
		}
		name := string(q.Name)
		if ps := FormatParams(q.Params); ps != "" {
			name += " " + ps
		}
		out = append(out, [4]string{q.Driver, name, strings.Join(at, ", "), strings.Join(vs, " → ")})
	}
	return out
}
