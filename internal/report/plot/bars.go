package plot

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// GroupedBars draws a group of bars per x position 0, 1, …, a bar per name in Bars (drivers), each
// labelled with its value. With LogY the axis is log10 of the values and bars rise from its minimum.
type GroupedBars struct {
	Bars   []string               // the bars of a group, in order
	Colors map[string]color.Color // by bar
	Groups []map[string]float64   // a group's values by bar; a bar without one is left out
	LogY   bool                   // the y axis is log10 of the values
	Format func(v float64) string // the label of a bar of value v
}

// Plot implements plot.Plotter.
func (b *GroupedBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	const groupWidth = 0.8
	w := groupWidth / float64(len(b.Bars))
	label := TextStyle(SansFont, 9)
	label.Rotation = math.Pi / 2
	label.XAlign = draw.XLeft
	label.YAlign = draw.YCenter
	for g, values := range b.Groups {
		for i, bar := range b.Bars {
			v, ok := values[bar]
			if !ok || (b.LogY && v <= 0) {
				continue
			}
			x0 := trX(float64(g) - groupWidth/2 + float64(i)*w)
			x1 := trX(float64(g) - groupWidth/2 + float64(i+1)*w)
			y0, y1 := c.Min.Y, trY(b.axis(v))
			if !b.LogY {
				y0 = trY(0)
			}
			r := vg.Rectangle{Min: vg.Point{X: x0 + 1, Y: y0}, Max: vg.Point{X: x1 - 1, Y: y1}}
			c.SetColor(b.Colors[bar])
			c.Fill(r.Path())
			c.FillText(label, vg.Point{X: (x0 + x1) / 2, Y: y1 + 3}, b.Format(v))
		}
	}
}

func (b *GroupedBars) axis(v float64) float64 {
	if b.LogY {
		return math.Log10(v)
	}
	return v
}

// DataRange implements plot.DataRanger.
func (b *GroupedBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	ymin, ymax = math.Inf(1), math.Inf(-1)
	for _, values := range b.Groups {
		for _, v := range values {
			if b.LogY && v <= 0 {
				continue
			}
			ymin, ymax = min(ymin, b.axis(v)), max(ymax, b.axis(v))
		}
	}
	return -0.5, float64(len(b.Groups)) - 0.5, ymin, ymax
}
