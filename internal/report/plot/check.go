package plot

import (
	"fmt"
	"image/color"
	"math"
	"reflect"
	"slices"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// TextBox is a string drawn on a figure and the box its letters cover, in points from the
// figure's bottom left.
type TextBox struct {
	Text string
	Box  vg.Rectangle
}

// SeriesStyle is how a series of a figure looks: what tells it from the others.
type SeriesStyle struct {
	Name   string
	Color  color.Color
	Shape  draw.GlyphDrawer // nil for a series without markers (a bar)
	Dashes []vg.Length
}

// Styled is a legend thumbnail that tells how its series looks (Check compares them).
type Styled interface {
	SeriesStyles() []SeriesStyle
}

// ReportSeries tells a canvas recording a check (Check) the styles of the series a plotter draws
// on c; on any other canvas it does nothing. Plotters call it from Plot.
func ReportSeries(c draw.Canvas, styles ...SeriesStyle) {
	if r := recorderOf(c); r != nil {
		r.series = append(r.series, styles...)
	}
}

// reportMarker tells a canvas recording a check where a marker of series name, at xy, is drawn
// (box), or that it is not (drawn false: it lies beyond its plot's axes). Check reports a marker
// left out or cut by the edge of the image.
func reportMarker(c draw.Canvas, name string, xy plotter.XY, box vg.Rectangle, drawn bool) {
	r := recorderOf(c)
	if r == nil {
		return
	}
	w, h := r.Size()
	switch {
	case !drawn:
		r.cut = append(r.cut, fmt.Sprintf("a marker of series %q at (%.3g, %.3g) lies beyond its plot's axes", name, xy.X, xy.Y))
	case box.Min.X < -0.5 || box.Min.Y < -0.5 || box.Max.X > w+0.5 || box.Max.Y > h+0.5:
		r.cut = append(r.cut, fmt.Sprintf("a marker of series %q at (%.3g, %.3g) is cut by the edge of the image", name, xy.X, xy.Y))
	}
}

// recorderOf is the recording canvas under c, or nil.
func recorderOf(c draw.Canvas) *recorder {
	cv := c.Canvas
	for {
		switch inner := cv.(type) {
		case draw.Canvas:
			cv = inner.Canvas
		case *draw.Canvas:
			cv = inner.Canvas
		case *recorder:
			return inner
		default:
			return nil
		}
	}
}

// Check renders the figure as its PNG and reports what a reader would see wrong: a text not wholly
// inside the image, two texts overlapping, a marker left out (beyond its plot's axes) or cut by
// the edge of the image, two series (or two legend entries) of the figure drawn
// alike (same colour and marker, or for bars the same colour). The texts and their boxes are
// returned too, for the caller's messages.
func (f *Figure) Check() (problems []string, texts []TextBox, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("render: %v", v)
		}
	}()
	w, h := f.width(), f.height()
	rec := &recorder{CanvasSizer: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(figDPI)), m: identity}
	f.draw(draw.New(rec))
	texts = rec.texts

	const slack = 0.5 // points: antialiasing, rounding
	for _, t := range texts {
		b := t.Box
		if b.Min.X < -slack || b.Min.Y < -slack || b.Max.X > w+slack || b.Max.Y > h+slack {
			problems = append(problems, fmt.Sprintf("text %q at %s is outside the %.0f×%.0f pt image", t.Text, boxString(b), w, h))
		}
	}
	for i := range texts {
		for j := i + 1; j < len(texts); j++ {
			a, b := texts[i].Box, texts[j].Box
			dx := min(a.Max.X, b.Max.X) - max(a.Min.X, b.Min.X)
			dy := min(a.Max.Y, b.Max.Y) - max(a.Min.Y, b.Min.Y)
			// Texts on one line closer than 1.5 points read as one ("5 ms100 µs").
			if dx > -1.5 && dy > 1 {
				problems = append(problems, fmt.Sprintf("text %q at %s overlaps %q at %s", texts[i].Text, boxString(a), texts[j].Text, boxString(b)))
			}
		}
	}

	problems = append(problems, rec.cut...)
	problems = append(problems, sameStyles("series", rec.series)...)
	var entries []SeriesStyle
	for _, e := range f.Legend {
		if e.Header {
			continue
		}
		for _, t := range e.Thumbs {
			if s, ok := t.(Styled); ok {
				for _, st := range s.SeriesStyles() {
					st.Name = e.Label
					entries = append(entries, st)
				}
			}
		}
	}
	problems = append(problems, sameStyles("legend entries", entries)...)
	return problems, texts, nil
}

// sameStyles reports the pairs of differently named styles that look the same. A name may come
// several times with one look (a series drawn in every panel).
func sameStyles(what string, styles []SeriesStyle) []string {
	var out []string
	seen := map[string]SeriesStyle{}
	for _, s := range styles {
		key := styleKey(s)
		o, ok := seen[key]
		switch {
		case !ok:
			seen[key] = s
		case o.Name != s.Name:
			out = append(out, fmt.Sprintf("%s %q and %q look the same (%s)", what, o.Name, s.Name, key))
		}
	}
	return out
}

func styleKey(s SeriesStyle) string {
	r, g, b, a := color.Gray{}.RGBA()
	if s.Color != nil {
		r, g, b, a = s.Color.RGBA()
	}
	shape := "no marker"
	if s.Shape != nil {
		shape = reflect.TypeOf(s.Shape).Name()
	}
	key := fmt.Sprintf("colour #%02x%02x%02x%02x, %s", r>>8, g>>8, b>>8, a>>8, shape)
	if s.Shape == nil && len(s.Dashes) > 0 {
		key += fmt.Sprintf(", dashes %v", s.Dashes)
	}
	return key
}

func boxString(b vg.Rectangle) string {
	return fmt.Sprintf("[%.0f,%.0f]–[%.0f,%.0f]", float64(b.Min.X), float64(b.Min.Y), float64(b.Max.X), float64(b.Max.Y))
}

// affine maps x, y to a·x + c·y + e, b·x + d·y + f.
type affine struct{ a, b, c, d, e, f float64 }

var identity = affine{a: 1, d: 1}

func (m affine) then(n affine) affine { // m applied after n: points go through n first
	return affine{
		a: m.a*n.a + m.c*n.b, b: m.b*n.a + m.d*n.b,
		c: m.a*n.c + m.c*n.d, d: m.b*n.c + m.d*n.d,
		e: m.a*n.e + m.c*n.f + m.e, f: m.b*n.e + m.d*n.f + m.f,
	}
}

func (m affine) apply(x, y float64) (float64, float64) {
	return m.a*x + m.c*y + m.e, m.b*x + m.d*y + m.f
}

// recorder is a canvas that draws onto another and records each string drawn with the box its
// letters cover (from the descender to the capital height: what a reader sees collide), through
// the transforms in force.
type recorder struct {
	vg.CanvasSizer
	m      affine
	stack  []affine
	texts  []TextBox
	series []SeriesStyle
	cut    []string // markers left out or cut by the image's edge
}

func (r *recorder) Rotate(rad float64) {
	s, c := math.Sincos(rad)
	r.m = r.m.then(affine{a: c, b: s, c: -s, d: c})
	r.CanvasSizer.Rotate(rad)
}

func (r *recorder) Translate(pt vg.Point) {
	r.m = r.m.then(affine{a: 1, d: 1, e: float64(pt.X), f: float64(pt.Y)})
	r.CanvasSizer.Translate(pt)
}

func (r *recorder) Scale(x, y float64) {
	r.m = r.m.then(affine{a: x, d: y})
	r.CanvasSizer.Scale(x, y)
}

func (r *recorder) Push() {
	r.stack = append(r.stack, r.m)
	r.CanvasSizer.Push()
}

func (r *recorder) Pop() {
	if n := len(r.stack); n > 0 {
		r.m, r.stack = r.stack[n-1], r.stack[:n-1]
	}
	r.CanvasSizer.Pop()
}

func (r *recorder) FillString(f font.Face, pt vg.Point, text string) {
	r.CanvasSizer.FillString(f, pt, text)
	if text == "" || f.Font.Size == 0 {
		return
	}
	size := float64(f.Font.Size)
	x0, x1 := float64(pt.X), float64(pt.X+f.Width(text))
	y0, y1 := float64(pt.Y)-0.2*size, float64(pt.Y)+0.72*size
	var xs, ys []float64
	for _, c := range [][2]float64{{x0, y0}, {x1, y0}, {x0, y1}, {x1, y1}} {
		x, y := r.m.apply(c[0], c[1])
		xs, ys = append(xs, x), append(ys, y)
	}
	r.texts = append(r.texts, TextBox{Text: text, Box: vg.Rectangle{
		Min: vg.Point{X: vg.Length(slices.Min(xs)), Y: vg.Length(slices.Min(ys))},
		Max: vg.Point{X: vg.Length(slices.Max(xs)), Y: vg.Length(slices.Max(ys))},
	}})
}

// SeriesStyles implements Styled: the look of the legend entry.
func (t LineThumb) SeriesStyles() []SeriesStyle {
	st := SeriesStyle{Color: t.Line.Color, Dashes: t.Line.Dashes}
	if t.Glyph != nil {
		st.Color, st.Shape = t.Glyph.Color, t.Glyph.Shape
	}
	return []SeriesStyle{st}
}
