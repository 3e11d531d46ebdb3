package report

import (
	"fmt"
	"math"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/seedbench/seedbench/internal/report/plot"
)

// breakEvenFigure draws the break-even map: each lazy loader's start-done time ÷ the full pull's
// against the share of the image the start reads (both axes log), a line per network (colour) and
// lazy loader (marker and dash), the ratio's interval as a bar, and a line at ×1: where a line
// crosses it, the lazy loader stops winning on that network.
func breakEvenFigure(d *plotData) *plot.Figure {
	b := newBreakEven(d.r)
	if b == nil {
		return nil
	}
	title := "Break-even: lazy pull ÷ full pull, until the start is done"
	p := plot.New(title, "share of the image's bytes the start reads (log)", "lazy ÷ "+b.full+" (median, log)")
	var legend []plot.LegendEntry
	ymin, ymax := 0.0, 0.0 // log10, the ×1 line always in view
	for li, lazy := range b.lazy {
		v := plot.VariantStyles[li%len(plot.VariantStyles)]
		legend = append(legend, plot.LegendEntry{Label: lazy, Header: true})
		for ni, net := range b.networks {
			c := plot.Palette[ni%len(plot.Palette)]
			line := draw.LineStyle{Color: c, Width: vg.Points(1.5), Dashes: v.Dashes}
			glyph := draw.GlyphStyle{Color: c, Radius: vg.Points(3.5), Shape: v.Shape}
			var xys plotter.XYs
			var bars struct {
				plotter.XYs
				plotter.YErrors
			}
			for _, pct := range b.shares {
				x, lo, hi, ok := b.ratio(net, lazy, pct)
				if !ok || x <= 0 {
					continue
				}
				pt := plotter.XY{X: math.Log10(float64(pct)), Y: math.Log10(x)}
				xys = append(xys, pt)
				ymin, ymax = math.Min(ymin, pt.Y), math.Max(ymax, pt.Y)
				if !math.IsNaN(lo) && lo > 0 && hi > lo {
					bars.XYs = append(bars.XYs, pt)
					bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{pt.Y - math.Log10(lo), math.Log10(hi) - pt.Y})
					ymin, ymax = math.Min(ymin, math.Log10(lo)), math.Max(ymax, math.Log10(hi))
				}
			}
			if len(xys) == 0 {
				continue
			}
			if len(bars.XYs) > 0 {
				if eb, err := plotter.NewYErrorBars(bars); err == nil {
					eb.LineStyle = draw.LineStyle{Color: plot.Fade(c), Width: vg.Points(1)}
					eb.CapWidth = vg.Points(5)
					p.Add(eb)
				}
			}
			if len(xys) > 1 {
				if l, err := plotter.NewLine(xys); err == nil {
					l.LineStyle = line
					p.Add(l)
				}
			}
			if sc, err := plotter.NewScatter(xys); err == nil {
				sc.GlyphStyle = glyph
				p.Add(sc)
			}
			g := glyph
			legend = append(legend, plot.LegendEntry{Label: net, Thumbs: []gplot.Thumbnailer{plot.LineThumb{Line: line, Glyph: &g}}})
		}
	}
	if one, err := plotter.NewLine(plotter.XYs{{X: math.Log10(float64(b.shares[0])), Y: 0}, {X: math.Log10(float64(b.shares[len(b.shares)-1])), Y: 0}}); err == nil {
		one.LineStyle = draw.LineStyle{Color: plot.RGB(0x000000), Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(3)}}
		p.Add(one)
		legend = append(legend, plot.LegendEntry{Label: "×1: as fast as a full pull", Thumbs: []gplot.Thumbnailer{plot.LineThumb{Line: one.LineStyle}}})
	}
	var ticks []gplot.Tick
	for _, pct := range b.shares {
		ticks = append(ticks, gplot.Tick{Value: math.Log10(float64(pct)), Label: fmt.Sprintf("%d%%", pct)})
	}
	p.X.Tick.Marker = gplot.ConstantTicks(ticks)
	pad := 0.05 * math.Max(ymax-ymin, 0.5)
	p.Y.Min, p.Y.Max = ymin-pad, ymax+pad
	p.Y.Tick.Marker = plot.LogTicks{Format: func(v float64) string { return fmt.Sprintf("×%.3g", v) }}
	return &plot.Figure{Title: title, Plot: p, Legend: legend}
}
