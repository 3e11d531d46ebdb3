package plot

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is a named series of points: markers, a line through them when Line is set, and each
// point's interval as a bar (vertical, or horizontal with Horizontal), in the faded colour of the
// markers. It reports its name and look to a figure's Check.
type Series struct {
	Name   string
	XYs    plotter.XYs
	Lo, Hi []float64 // each point's interval along the bars' axis; NaN (or Lo == Hi) for none
	// Horizontal puts the intervals along x (a dot plot's rows) rather than y.
	Horizontal bool
	Line       *draw.LineStyle
	Glyph      draw.GlyphStyle
}

// Plot implements plot.Plotter.
func (s *Series) Plot(c draw.Canvas, p *plot.Plot) {
	ReportSeries(c, s.Style())
	trX, trY := p.Transforms(&c)
	bar := draw.LineStyle{Color: Fade(s.Glyph.Color), Width: vg.Points(1.2)}
	const capW = vg.Length(4)
	for i, xy := range s.XYs {
		if i >= len(s.Lo) || i >= len(s.Hi) || !(s.Hi[i] > s.Lo[i]) {
			continue
		}
		if s.Horizontal {
			y, x0, x1 := trY(xy.Y), trX(s.Lo[i]), trX(s.Hi[i])
			c.StrokeLines(bar, c.ClipLinesX([]vg.Point{{X: x0, Y: y}, {X: x1, Y: y}})...)
			for _, x := range []vg.Length{x0, x1} {
				if c.ContainsX(x) {
					c.StrokeLine2(bar, x, y-capW/2, x, y+capW/2)
				}
			}
			continue
		}
		x, y0, y1 := trX(xy.X), trY(s.Lo[i]), trY(s.Hi[i])
		c.StrokeLines(bar, c.ClipLinesY([]vg.Point{{X: x, Y: y0}, {X: x, Y: y1}})...)
		for _, y := range []vg.Length{y0, y1} {
			if c.ContainsY(y) {
				c.StrokeLine2(bar, x-capW/2, y, x+capW/2, y)
			}
		}
	}
	if s.Line != nil && len(s.XYs) > 1 {
		pts := make([]vg.Point, len(s.XYs))
		for i, xy := range s.XYs {
			pts[i] = vg.Point{X: trX(xy.X), Y: trY(xy.Y)}
		}
		c.StrokeLines(*s.Line, c.ClipLinesXY(pts)...)
	}
	for _, xy := range s.XYs {
		pt := vg.Point{X: trX(xy.X), Y: trY(xy.Y)}
		drawn := c.Contains(pt)
		r := s.Glyph.Radius
		reportMarker(c, s.Name, xy, vg.Rectangle{Min: vg.Point{X: pt.X - r, Y: pt.Y - r}, Max: vg.Point{X: pt.X + r, Y: pt.Y + r}}, drawn)
		if drawn {
			c.DrawGlyph(s.Glyph, pt)
		}
	}
}

// Style is the series' look, as Check compares it.
func (s *Series) Style() SeriesStyle {
	st := SeriesStyle{Name: s.Name, Color: s.Glyph.Color, Shape: s.Glyph.Shape}
	if s.Line != nil {
		st.Dashes = s.Line.Dashes
	}
	return st
}

// DataRange implements plot.DataRanger: the points and their intervals.
func (s *Series) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for i, xy := range s.XYs {
		xmin, xmax, ymin, ymax = min(xmin, xy.X), max(xmax, xy.X), min(ymin, xy.Y), max(ymax, xy.Y)
		if i < len(s.Lo) && i < len(s.Hi) && s.Hi[i] > s.Lo[i] {
			if s.Horizontal {
				xmin, xmax = min(xmin, s.Lo[i]), max(xmax, s.Hi[i])
			} else {
				ymin, ymax = min(ymin, s.Lo[i]), max(ymax, s.Hi[i])
			}
		}
	}
	return xmin, xmax, ymin, ymax
}

// GlyphBoxes implements plot.GlyphBoxer, so the axes leave room for the markers.
func (s *Series) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	boxes := make([]plot.GlyphBox, len(s.XYs))
	r := s.Glyph.Radius
	for i, xy := range s.XYs {
		boxes[i] = plot.GlyphBox{
			X: p.X.Norm(xy.X), Y: p.Y.Norm(xy.Y),
			Rectangle: vg.Rectangle{Min: vg.Point{X: -r, Y: -r}, Max: vg.Point{X: r, Y: r}},
		}
	}
	return boxes
}
