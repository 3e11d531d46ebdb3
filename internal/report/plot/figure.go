package plot

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure size: 600×375 pt, which is 800×500 px at the PNG's 96 dpi (and in a browser, for the SVG).
const (
	figWidth  = 600 * vg.Length(1)
	figHeight = 375 * vg.Length(1)
	figDPI    = 96
)

// Figure is a plot and its legend, drawn to the right of the plot so it never covers data.
type Figure struct {
	Title  string
	Plot   *plot.Plot
	Legend []LegendEntry
	// Width and Height, when set, replace the default 600×375 pt (a figure with many rows of labels
	// needs more of both); the legend may still make it taller.
	Width, Height vg.Length
}

// LegendEntry is a line of the legend: a group header (no thumbnails) or an entry.
type LegendEntry struct {
	Label  string
	Header bool
	Thumbs []plot.Thumbnailer
}

// Render draws the figure into an SVG and a PNG.
func (f *Figure) Render() (svg, png []byte, err error) {
	defer func() {
		// gonum panics on impossible geometry (a log axis over non-positive values): report it.
		if v := recover(); v != nil {
			err = fmt.Errorf("render: %v", v)
		}
	}()
	w, h := f.width(), f.height()
	sc := vgsvg.New(w, h)
	f.draw(draw.New(sc))
	var sb bytes.Buffer
	if _, err := sc.WriteTo(&sb); err != nil {
		return nil, nil, err
	}
	ic := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(figDPI))
	f.draw(draw.New(ic))
	var pb bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: ic}).WriteTo(&pb); err != nil {
		return nil, nil, err
	}
	return sb.Bytes(), pb.Bytes(), nil
}

// width is the figure's width: figWidth unless Width says otherwise.
func (f *Figure) width() vg.Length {
	if f.Width > 0 {
		return f.Width
	}
	return figWidth
}

// height is the figure's height: figHeight (or Height), or taller when the legend needs it (many
// drivers and variants), so no entry falls off the bottom.
func (f *Figure) height() vg.Length {
	lineH := TextStyle(SansFont, 11).Height("Xg") * 1.5
	need := vg.Length(0)
	for i, e := range f.Legend {
		if e.Header && i > 0 {
			need += lineH / 2
		}
		need += lineH
	}
	// The legend starts level with the top of the data area, below the title (about 50 points).
	base := figHeight
	if f.Height > 0 {
		base = f.Height
	}
	return max(base, need+vg.Points(80))
}

func (f *Figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	const margin = vg.Length(10)
	c = draw.Crop(c, margin, -margin, margin, -margin)

	entry := TextStyle(SansFont, 11)
	header := TextStyle(BoldFont, 11)
	const thumbW, gap = vg.Length(26), vg.Length(6)
	var legendW vg.Length
	for _, e := range f.Legend {
		w := header.Width(e.Label)
		if !e.Header {
			w = thumbW + gap + entry.Width(e.Label)
		}
		legendW = max(legendW, w)
	}
	if legendW > 0 {
		legendW += 2 * margin
	}
	pc := draw.Crop(c, 0, -legendW, 0, 0)
	f.Plot.Draw(pc)
	if len(f.Legend) == 0 {
		return
	}

	// The legend starts level with the top of the data area.
	x := pc.Max.X + 2*margin
	y := f.Plot.DataCanvas(pc).Max.Y
	lineH := entry.Height("Xg") * 1.5
	for i, e := range f.Legend {
		if e.Header {
			if i > 0 {
				y -= lineH / 2
			}
			y -= lineH
			c.FillText(header, vg.Point{X: x, Y: y + lineH*0.25}, e.Label)
			continue
		}
		y -= lineH
		tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: y + lineH*0.1},
			Max: vg.Point{X: x + thumbW, Y: y + lineH*0.9},
		}}
		for _, t := range e.Thumbs {
			t.Thumbnail(&tc)
		}
		c.FillText(entry, vg.Point{X: x + thumbW + gap, Y: y + lineH*0.25}, e.Label)
	}
}

// LineThumb draws a legend sample of a line with an optional marker.
type LineThumb struct {
	Line  draw.LineStyle
	Glyph *draw.GlyphStyle
}

// Thumbnail implements plot.Thumbnailer.
func (t LineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(t.Line, c.Min.X, y, c.Max.X, y)
	if t.Glyph != nil {
		c.DrawGlyphNoClip(*t.Glyph, c.Center())
	}
}

// BoxThumb draws a legend sample of a filled bar.
type BoxThumb struct{ Fill color.Color }

// Thumbnail implements plot.Thumbnailer.
func (t BoxThumb) Thumbnail(c *draw.Canvas) {
	r := vg.Rectangle{
		Min: vg.Point{X: c.Min.X + 4, Y: c.Min.Y + 1},
		Max: vg.Point{X: c.Max.X - 4, Y: c.Max.Y - 1},
	}
	c.SetColor(t.Fill)
	c.Fill(r.Path())
}
