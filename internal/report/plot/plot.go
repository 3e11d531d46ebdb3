// Package plot holds the drawing primitives of seedbench's figures, on top of gonum/plot: a
// colour-blind-safe palette and the dash and marker styles that tell series of one colour apart,
// fonts and text styles, a plot with the house look (New), a Figure that draws its heading,
// caption and legend around a plot or a row of panels and renders to SVG and PNG, named series
// (Series), dot plots in panels for many drivers (Dots), tick markers for log, linear, file-size
// and byte axes, and a check of a rendered figure (Figure.Check: texts outside the image or
// overlapping, series drawn alike). It knows nothing of seedbench's metrics: callers hand it numbers, strings, colours
// and the functions that write a value as a label. Rendering is deterministic: the same figure
// renders to a byte-identical SVG.
package plot

import (
	"image/color"
	"math"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Palette is Okabe and Ito's colour-blind-safe palette (yellow last: it is hard to see on white).
var Palette = []color.Color{
	RGB(0x0072B2), // blue
	RGB(0xD55E00), // vermillion
	RGB(0x009E73), // bluish green
	RGB(0xCC79A7), // reddish purple
	RGB(0xE69F00), // orange
	RGB(0x56B4E9), // sky blue
	RGB(0x000000), // black
	RGB(0xF0E442), // yellow
}

// RGB is the opaque colour 0xRRGGBB.
func RGB(v uint32) color.Color {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// Fade lightens c (for error bars, drawn under the lines).
func Fade(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8)*6/10 + 255*4/10) }
	return color.RGBA{R: mix(r), G: mix(g), B: mix(b), A: 0xff}
}

// VariantStyle tells apart series of one colour: dash pattern and marker.
type VariantStyle struct {
	Dashes []vg.Length
	Shape  draw.GlyphDrawer
}

// VariantStyles are the styles to cycle through, solid with circles first.
var VariantStyles = []VariantStyle{
	{nil, draw.CircleGlyph{}},
	{[]vg.Length{vg.Points(6), vg.Points(3)}, draw.TriangleGlyph{}},
	{[]vg.Length{vg.Points(2), vg.Points(2)}, draw.SquareGlyph{}},
	{[]vg.Length{vg.Points(7), vg.Points(2), vg.Points(2), vg.Points(2)}, draw.PyramidGlyph{}},
	{[]vg.Length{vg.Points(10), vg.Points(3)}, draw.RingGlyph{}},
	{[]vg.Length{vg.Points(3), vg.Points(4)}, draw.CrossGlyph{}},
	{[]vg.Length{vg.Points(5), vg.Points(2), vg.Points(1), vg.Points(2)}, draw.BoxGlyph{}},
	{[]vg.Length{vg.Points(1), vg.Points(3)}, draw.PlusGlyph{}},
}

// Fonts: Liberation Sans (bundled with gonum, so rendering needs no system fonts).
var (
	SansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	BoldFont = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

// TextStyle is black text in f at size, anchored at its bottom left.
func TextStyle(f font.Font, size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(f, size),
		XAlign:  draw.XLeft,
		YAlign:  draw.YBottom,
		Handler: plot.DefaultTextHandler,
	}
}

// New is a plot with a title, axis labels and a light grid, in the figures' fonts.
func New(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(BoldFont, 14)
	p.Title.Padding = vg.Points(10)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(SansFont, 12)
		a.Tick.Label.Font = font.From(SansFont, 11)
		a.Label.Padding = vg.Points(4)
		a.Padding = vg.Points(6)
	}
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xdd}
	grid.Horizontal.Color = color.Gray{Y: 0xdd}
	p.Add(grid)
	return p
}

// Finite reports whether v is neither NaN nor infinite.
func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
