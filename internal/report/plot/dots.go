package plot

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Dots is a dot plot in panels, the figure for many drivers: a row per item (a driver), labelled on
// the left of the first panel, a panel per column (a file size, an operation, a network), and in
// each panel a marker per series (a way of copying up, a cache state) at the row's value, with its
// interval as a bar. Rows read across the panels on alternating bands. Values are in axis units
// (log10 of the value when the ticks are a LogTicks).
type Dots struct {
	Rows   []string
	Series []DotSeries
	Panels []DotPanel
	// Ticks marks a panel's x axis with at most max labels (a LogTicks or BytesTicks).
	Ticks func(max int) plot.Ticker
	// Shared gives every panel the x range of all of them (values comparable across panels);
	// otherwise each panel spans its own values.
	Shared bool
	// Log says the values are log10s: ranges are padded in decades. A linear axis starts at zero.
	Log bool
}

// DotSeries is a series of a dot plot: its legend label and marker.
type DotSeries struct {
	Label string
	Glyph draw.GlyphStyle
}

// DotPanel is a column of a dot plot: its heading and its marks.
type DotPanel struct {
	Heading string
	Marks   []Mark
}

// Mark is a value of a dot plot: in row Row (0 at the top) for series Series, at X with the
// interval Lo..Hi (none when Hi ≤ Lo or either is NaN).
type Mark struct {
	Row, Series int
	X, Lo, Hi   float64
}

// DotGlyphs are the markers of a dot plot's series: a distinct colour and shape each.
func DotGlyphs(n int) []draw.GlyphStyle {
	out := make([]draw.GlyphStyle, n)
	for i := range out {
		out[i] = draw.GlyphStyle{Color: Palette[i%len(Palette)], Radius: vg.Points(3.5), Shape: VariantStyles[i%len(VariantStyles)].Shape}
	}
	return out
}

// Layout of a dot plot: points per row and per panel.
const (
	dotRowH   = 15
	dotPanelW = 120
)

// Figure lays the dot plot out as a figure with a heading, a caption and, when there is more than
// one series, a legend under header.
func (d *Dots) Figure(title, caption, header string) *Figure {
	n := len(d.Rows)
	k := len(d.Series)
	rowY := func(row, series int) float64 {
		y := float64(n - 1 - row)
		if k > 1 {
			y += (0.5 - float64(series)/float64(k-1)) * 0.5 // the first series highest in its row
		}
		return y
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	ranges := make([][2]float64, len(d.Panels))
	for i, pn := range d.Panels {
		plo, phi := math.Inf(1), math.Inf(-1)
		for _, m := range pn.Marks {
			plo, phi = min(plo, m.X), max(phi, m.X)
			if m.Hi > m.Lo {
				plo, phi = min(plo, m.Lo), max(phi, m.Hi)
			}
		}
		ranges[i] = [2]float64{plo, phi}
		lo, hi = min(lo, plo), max(hi, phi)
	}
	label := TextStyle(SansFont, 11)
	var labelW vg.Length
	for _, r := range d.Rows {
		labelW = max(labelW, label.Width(r))
	}
	var panels []*plot.Plot
	for i, pn := range d.Panels {
		p := New("", "", "")
		p.Title.Text = pn.Heading
		p.Title.TextStyle.Font = font.From(BoldFont, 11)
		p.Title.Padding = vg.Points(4)
		p.X.Tick.Label.Font = font.From(SansFont, 10)
		xlo, xhi := ranges[i][0], ranges[i][1]
		if d.Shared {
			xlo, xhi = lo, hi
		}
		if !d.Log {
			xlo = min(xlo, 0) // a linear axis (bytes) from zero
		}
		p.X.Min, p.X.Max = padRange(xlo, xhi, d.Log)
		// Every other row on a light band, under the marks, across the panel.
		for r := 1; r < n; r += 2 {
			y := float64(n - 1 - r)
			x0, x1 := p.X.Min, p.X.Max // so as not to widen the axis
			if band, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: y - 0.5}, {X: x1, Y: y - 0.5}, {X: x1, Y: y + 0.5}, {X: x0, Y: y + 0.5}}); err == nil {
				band.Color = color.NRGBA{A: 0x0c}
				band.LineStyle.Width = 0
				p.Add(band)
			}
		}
		for j, s := range d.Series {
			ser := &Series{Name: s.Label, Horizontal: true, Glyph: s.Glyph}
			for _, m := range pn.Marks {
				if m.Series != j {
					continue
				}
				ser.XYs = append(ser.XYs, plotter.XY{X: m.X, Y: rowY(m.Row, j)})
				ser.Lo, ser.Hi = append(ser.Lo, m.Lo), append(ser.Hi, m.Hi)
			}
			if len(ser.XYs) > 0 {
				p.Add(ser)
			}
		}
		var ticks plot.ConstantTicks
		for r, name := range d.Rows {
			if i > 0 {
				name = ""
			}
			ticks = append(ticks, plot.Tick{Value: float64(n - 1 - r), Label: name})
		}
		p.Y.Tick.Marker = ticks
		p.Y.Tick.Length = 0
		p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
		p.X.Tick.Marker = d.Ticks(3)
		panels = append(panels, p)
	}

	var legend []LegendEntry
	entry := TextStyle(SansFont, 11)
	var legendW vg.Length
	if k > 1 {
		legend = append(legend, LegendEntry{Label: header, Header: true})
		legendW = TextStyle(BoldFont, 11).Width(header)
		for _, s := range d.Series {
			g := s.Glyph
			legend = append(legend, LegendEntry{Label: s.Label, Thumbs: []plot.Thumbnailer{LineThumb{Glyph: &g}}})
			legendW = max(legendW, 32+entry.Width(s.Label))
		}
		legendW += 20
	}
	width := 2*figMargin + labelW + 16 + vg.Length(len(d.Panels))*(dotPanelW+20) + legendW
	return &Figure{
		Title:   title,
		Panels:  panels,
		Caption: caption,
		Legend:  legend,
		Width:   max(figWidth, width),
		Height:  vg.Length(max(n*dotRowH, 100)) + 70,
	}
}

// padRange widens lo..hi by a twelfth each side (room for the markers), and to at least 0.5 (half a decade on a
// log axis) around a single value.
func padRange(lo, hi float64, log bool) (float64, float64) {
	if !Finite(lo) || !Finite(hi) {
		return 0, 1
	}
	span := hi - lo
	least := 0.5
	if !log {
		least = math.Max(math.Abs(hi)*0.3, 1)
	}
	pad := max(span/12, (least-span)/2)
	return lo - pad, hi + pad
}
