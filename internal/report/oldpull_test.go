package report

import (
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/report/plot"
	"github.com/seedbench/seedbench/internal/result"
)

// oldBars is the grouped bar chart the pull and lifecycle figures were once drawn with: a bar per
// driver in each group, each labelled with its value, rotated, above it.
type oldBars struct {
	bars   []string
	colors map[string]color.Color
	groups []map[string]float64
}

func (b *oldBars) Plot(c draw.Canvas, p *gplot.Plot) {
	trX, trY := p.Transforms(&c)
	w := 0.8 / float64(len(b.bars))
	label := plot.TextStyle(plot.SansFont, 9)
	label.Rotation = math.Pi / 2
	label.YAlign = draw.YCenter
	for g, values := range b.groups {
		for i, bar := range b.bars {
			v, ok := values[bar]
			if !ok {
				continue
			}
			x0, x1 := trX(float64(g)-0.4+float64(i)*w), trX(float64(g)-0.4+float64(i+1)*w)
			y1 := trY(math.Log10(v))
			c.SetColor(b.colors[bar])
			c.Fill(vg.Rectangle{Min: vg.Point{X: x0 + 1, Y: c.Min.Y}, Max: vg.Point{X: x1 - 1, Y: y1}}.Path())
			c.FillText(label, vg.Point{X: (x0 + x1) / 2, Y: y1 + 3}, FormatNanos(v))
		}
	}
}

// legendBox is a legend sample of a bar, telling Check its colour.
type legendBox struct{ fill color.Color }

func (t legendBox) Thumbnail(c *draw.Canvas) {
	c.SetColor(t.fill)
	c.Fill(c.Rectangle.Path())
}

func (t legendBox) SeriesStyles() []plot.SeriesStyle { return []plot.SeriesStyle{{Color: t.fill}} }

// TestCheckOldPullLayout draws the lazy-pull figure as it was before it became a dot plot (gonum's
// unwrapped title over the plot, the explanation as the x axis label, a group per network and
// state labelled in two lines below, a labelled bar per driver) and checks that the figure check
// sees what a reader saw: the title and the caption cut off, the groups' labels and the values on
// top of each other.
func TestCheckOldPullLayout(t *testing.T) {
	d := newPlotData(readPlotInput(t, "many.json"))
	ready, done := d.named(metric.PullReady), d.named(metric.PullDone)
	bars := &oldBars{colors: d.colors}
	var ticks gplot.ConstantTicks
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, network := range paramValues(ready, metric.PNetwork) {
		for _, g := range []struct {
			what string
			ms   []*result.Metric
		}{{"ready", ready}, {"done", done}} {
			vals := map[string]float64{}
			for _, m := range filterParam(g.ms, metric.PNetwork, network) {
				vals[m.Driver] = m.Summary.Median
				lo, hi = min(lo, m.Summary.Median), max(hi, m.Summary.Median)
			}
			ticks = append(ticks, gplot.Tick{Value: float64(len(bars.groups)), Label: g.what + "\n" + network})
			bars.groups = append(bars.groups, vals)
		}
	}
	for _, drv := range d.drivers {
		if slices.ContainsFunc(ready, func(m *result.Metric) bool { return m.Driver == drv }) {
			bars.bars = append(bars.bars, drv)
		}
	}
	p := plot.New("", "full pull: fetch + decompress + apply every layer · lazy pull: mount each layer from the registry, fetch what the start reads", "median time (log scale)")
	p.Title.Text = "Pulling an image afresh: until the container is ready, and until its start is done (median)"
	p.Title.TextStyle.Font = font.From(plot.BoldFont, 14)
	p.X.Tick.Label.Font = font.From(plot.SansFont, 10)
	p.Add(bars)
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(bars.groups))-0.5
	p.Y.Tick.Marker = plot.LogTicks{Format: nanosLabel}
	p.Y.Min = math.Floor(math.Log10(lo))
	p.Y.Max = math.Log10(hi) + 0.18*(math.Log10(hi)-p.Y.Min)
	legend := []plot.LegendEntry{{Label: "driver", Header: true}}
	for _, drv := range bars.bars {
		legend = append(legend, plot.LegendEntry{Label: drv, Thumbs: []gplot.Thumbnailer{legendBox{d.colors[drv]}}})
	}
	// A panel: its title is drawn as gonum draws it, centred and unwrapped, as it was.
	f := &plot.Figure{Panels: []*gplot.Plot{p}, Legend: legend}
	problems, _, err := f.Check()
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	t.Logf("the old lazy-pull figure: %d problems:\n%s", len(problems), all)
	for _, want := range []string{
		`text "Pulling an image afresh: until the container is ready, and until its start is done (median)" at`,
		`text "full pull: fetch + decompress + apply every layer · lazy pull: mount each layer from the registry, fetch what the start reads" at`,
		`text "ready" at`, // over the next group's "done"
		`overlaps "100Mbit/s 20ms"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the check of the old lazy-pull figure does not report %q", want)
		}
	}
	if !strings.Contains(all, "is outside the") || !strings.Contains(all, " s\" at") {
		t.Error("the check of the old lazy-pull figure reports neither a text outside nor overlapping values")
	}
}
