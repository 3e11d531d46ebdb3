package plot

import (
	"bytes"
	"fmt"
	"image/color"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
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

// Figure is a plot, or a row of panels, with a heading above, a caption below and a legend drawn to
// the right so it never covers data. The heading and the caption are wrapped to the figure's width.
type Figure struct {
	// Title names the figure; it is the heading drawn above the panels (a single plot's heading is
	// its own title, drawn by the figure in the same way).
	Title string
	Plot  *plot.Plot
	// Panels, when Plot is nil, are drawn side by side with their data areas aligned (the first
	// carries the rows' labels of a dot plot); each panel's title is its heading.
	Panels []*plot.Plot
	// Caption is a note under the figure: what was measured, how to read it.
	Caption string
	Legend  []LegendEntry
	// Width and Height, when set, replace the default 600×375 pt (a figure with many rows or
	// panels needs more of both); the legend, heading and caption may still make it taller.
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
	head, caption := f.texts()
	return max(base, need+vg.Points(80)) + head + caption
}

// Heading and caption styles.
var (
	headingStyle = TextStyle(BoldFont, 14)
	captionStyle = TextStyle(SansFont, 10.5)
)

const figMargin = vg.Length(10)

// heading is the text drawn above the figure.
func (f *Figure) heading() string {
	if f.Plot != nil {
		return f.Plot.Title.Text
	}
	return f.Title
}

// texts returns the heights the wrapped heading and caption take, with their padding.
func (f *Figure) texts() (head, caption vg.Length) {
	w := f.width() - 2*figMargin
	if n := len(Wrap(headingStyle, f.heading(), w)); n > 0 {
		head = vg.Length(n)*headingStyle.Font.Size*1.2 + 8
	}
	if n := len(Wrap(captionStyle, f.Caption, w)); n > 0 {
		caption = vg.Length(n)*captionStyle.Font.Size*1.2 + 6
	}
	return head, caption
}

// Wrap breaks s into lines no wider than width in style st, at spaces (a word wider than width
// keeps a line of its own). Explicit newlines are kept.
func Wrap(st text.Style, s string, width vg.Length) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, w := range strings.Fields(para) {
			if line != "" && st.Width(line+" "+w) > width {
				lines = append(lines, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

func (f *Figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	const margin = figMargin
	c = draw.Crop(c, margin, -margin, margin, -margin)

	// The heading, centred above, and the caption, flush left below, wrapped to the width.
	head, caption := f.texts()
	w := c.Max.X - c.Min.X
	hs := headingStyle
	hs.XAlign = draw.XCenter
	hs.YAlign = draw.YTop
	for i, line := range Wrap(headingStyle, f.heading(), w) {
		c.FillText(hs, vg.Point{X: c.Center().X, Y: c.Max.Y - vg.Length(i)*hs.Font.Size*1.2}, line)
	}
	lines := Wrap(captionStyle, f.Caption, w)
	for i, line := range lines {
		c.FillText(captionStyle, vg.Point{X: c.Min.X, Y: c.Min.Y + vg.Length(len(lines)-1-i)*captionStyle.Font.Size*1.2}, line)
	}
	c = draw.Crop(c, 0, 0, caption, -head)

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
	var top vg.Length // of the data area
	if f.Plot != nil {
		title := f.Plot.Title.Text
		f.Plot.Title.Text = "" // drawn above, wrapped
		f.Plot.Draw(pc)
		top = f.Plot.DataCanvas(pc).Max.Y
		f.Plot.Title.Text = title
	} else if len(f.Panels) > 0 {
		tiles := draw.Tiles{Rows: 1, Cols: len(f.Panels), PadX: vg.Points(20)}
		cs := plot.Align([][]*plot.Plot{f.Panels}, tiles, pc)
		for i, p := range f.Panels {
			p.Draw(cs[0][i])
		}
		top = f.Panels[0].DataCanvas(cs[0][0]).Max.Y
	}
	if len(f.Legend) == 0 {
		return
	}

	// The legend starts level with the top of the data area.
	x := pc.Max.X + 2*margin
	y := top
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
