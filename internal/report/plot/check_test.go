package plot

import (
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"
)

// problemsOf checks f and returns its problems joined by newlines.
func problemsOf(t *testing.T, f *Figure) string {
	t.Helper()
	problems, texts, err := f.Check()
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if len(texts) == 0 {
		t.Fatal("Check recorded no text")
	}
	return strings.Join(problems, "\n")
}

func TestCheck(t *testing.T) {
	// A tidy figure: no problem, and the recorded boxes are where the texts are drawn.
	f := lineFigure(t, 3)
	if got := problemsOf(t, f); got != "" {
		t.Errorf("a tidy figure: %s", got)
	}
	_, texts, _ := f.Check()
	for _, tb := range texts {
		if tb.Text == "entry 2" {
			// The legend is at the right, below the top.
			if tb.Box.Min.X < f.width()/2 || tb.Box.Max.Y > f.height() || tb.Box.Max.X-tb.Box.Min.X < 20 {
				t.Errorf("legend entry's box %v: not at the right of the %v×%v figure", tb.Box, f.width(), f.height())
			}
		}
	}

	// A word wider than the figure cannot be wrapped: it runs off both sides.
	f = lineFigure(t, 3)
	f.Plot.Title.Text = strings.Repeat("Unwrappable", 12)
	if got := problemsOf(t, f); !strings.Contains(got, "is outside the 600×") {
		t.Errorf("an over-wide title: problems %q, want it outside the image", got)
	}

	// Two labels drawn over each other, one of them rotated.
	f = lineFigure(t, 3)
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: []plotter.XY{{X: 0.5, Y: 2}, {X: 0.52, Y: 2}}, Labels: []string{"one label", "another"}})
	if err != nil {
		t.Fatal(err)
	}
	labels.TextStyle[1].Rotation = 0.3
	f.Plot.Add(labels)
	if got := problemsOf(t, f); !strings.Contains(got, `text "one label"`) || !strings.Contains(got, `overlaps "another"`) {
		t.Errorf("overlapping labels: problems %q", got)
	}

	// Nine legend entries over eight colours and markers: the ninth repeats the first.
	if got := problemsOf(t, lineFigure(t, 9)); !strings.Contains(got, `legend entries "entry 0" and "entry 8" look the same`) {
		t.Errorf("nine entries: problems %q", got)
	}

	// A series reported twice under one name is one series; under two names, two alike.
	same := &styled{styles: []SeriesStyle{{Name: "a", Color: Palette[0]}, {Name: "a", Color: Palette[0]}, {Name: "b", Color: Palette[1]}}}
	f = lineFigure(t, 1)
	f.Plot.Add(same)
	if got := problemsOf(t, f); got != "" {
		t.Errorf("distinct series: %s", got)
	}
	same.styles = append(same.styles, SeriesStyle{Name: "c", Color: Palette[1]})
	if got := problemsOf(t, f); !strings.Contains(got, `series "b" and "c" look the same`) {
		t.Errorf("series b and c alike: problems %q", got)
	}
}

// styled is a plotter that draws nothing and reports series styles, as the figures' plotters do.
type styled struct{ styles []SeriesStyle }

func (s *styled) Plot(c draw.Canvas, _ *plot.Plot) { ReportSeries(c, s.styles...) }

func TestCheckMarkers(t *testing.T) {
	// A point beyond the axes is left out of the drawing: the check says so.
	f := lineFigure(t, 1)
	f.Plot.Add(&Series{Name: "far", XYs: plotter.XYs{{X: 0.5, Y: 2}, {X: 5, Y: 2}}, Glyph: DotGlyphs(1)[0]})
	f.Plot.X.Min, f.Plot.X.Max = 0, 1
	if got := problemsOf(t, f); !strings.Contains(got, `a marker of series "far" at (5, 2) lies beyond its plot's axes`) {
		t.Errorf("a point beyond the axes: problems %q", got)
	}
}
