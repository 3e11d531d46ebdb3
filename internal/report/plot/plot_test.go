package plot

import (
	"bytes"
	"image/png"
	"math"
	"slices"
	"strconv"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func labels(ticks []plot.Tick) []string {
	var out []string
	for _, tk := range ticks {
		if tk.Label != "" {
			out = append(out, tk.Label)
		}
	}
	return out
}

// scaled writes v/div followed by unit, so the tests read in round numbers.
func scaled(div float64, unit string) func(float64) string {
	return func(v float64) string { return strconv.FormatFloat(v/div, 'f', -1, 64) + unit }
}

func TestTicks(t *testing.T) {
	// Sizes on a log2 axis: a label at each size measured.
	sizes := []float64{4 << 10, 1 << 20, 16 << 20, 64 << 20}
	got := labels(SizeTicks{Sizes: sizes, Format: scaled(1<<10, "K")}.Ticks(math.Log2(sizes[0])-0.5, math.Log2(sizes[3])+0.5))
	if want := []string{"4K", "1024K", "16384K", "65536K"}; !slices.Equal(got, want) {
		t.Errorf("size ticks %v, want %v", got, want)
	}
	// A log10 axis: decades, and 2 and 5 when it spans less than two.
	got = labels(LogTicks{Format: scaled(1, "")}.Ticks(math.Log10(800), math.Log10(2e6)))
	if want := []string{"1000", "10000", "100000", "1000000"}; !slices.Equal(got, want) {
		t.Errorf("log ticks %v, want %v", got, want)
	}
	got = labels(LogTicks{Format: scaled(1, "")}.Ticks(math.Log10(1500), math.Log10(25000)))
	if want := []string{"2000", "5000", "10000", "20000"}; !slices.Equal(got, want) {
		t.Errorf("log ticks %v, want %v", got, want)
	}
	// Less than a decade, with no 1, 2 or 5 inside: every tick is labelled.
	sig3 := func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) } // labelled from 10^log10 v
	got = labels(LogTicks{Format: sig3}.Ticks(math.Log10(6), math.Log10(9)))
	if want := []string{"6", "7", "8", "9"}; !slices.Equal(got, want) {
		t.Errorf("log ticks %v, want %v", got, want)
	}
	// Capped labels in a narrow panel: the 2s and 5s go first, then labels too close to the last.
	got = labels(LogTicks{Format: scaled(1, ""), MaxLabels: 3}.Ticks(math.Log10(800), math.Log10(2e6)))
	if want := []string{"1000", "100000"}; !slices.Equal(got, want) {
		t.Errorf("log ticks, at most 3 labels: %v, want %v", got, want)
	}
	got = labels(LogTicks{Format: scaled(1, ""), MaxLabels: 3}.Ticks(math.Log10(1500), math.Log10(25000)))
	if want := []string{"2000", "10000"}; !slices.Equal(got, want) {
		t.Errorf("log ticks, at most 3 labels: %v, want %v", got, want)
	}
	got = labels(BytesTicks{Format: scaled(1<<20, "M"), MaxLabels: 3}.Ticks(0, 1.1e9))
	if want := []string{"0M", "1024M"}; !slices.Equal(got, want) {
		t.Errorf("bytes ticks, at most 3 labels: %v, want %v", got, want)
	}
	// Bytes at power-of-two steps.
	got = labels(BytesTicks{Format: scaled(1<<20, "M")}.Ticks(0, 1.1e9))
	if want := []string{"0M", "256M", "512M", "768M", "1024M"}; !slices.Equal(got, want) {
		t.Errorf("bytes ticks %v, want %v", got, want)
	}
	// Linear ticks keep gonum's positions and unlabelled minor ticks.
	def := plot.DefaultTicks{}.Ticks(0, 10)
	lin := LinearTicks{Format: scaled(1, " s")}.Ticks(0, 10)
	if len(lin) != len(def) {
		t.Fatalf("linear ticks %v, want the positions of %v", lin, def)
	}
	for i := range lin {
		if lin[i].Value != def[i].Value || (lin[i].Label == "") != (def[i].Label == "") {
			t.Errorf("linear tick %d = %+v, default %+v", i, lin[i], def[i])
		}
	}
	for _, tk := range []plot.Ticker{LogTicks{Format: scaled(1, "")}, BytesTicks{Format: scaled(1, "")}} {
		if got := tk.Ticks(math.NaN(), 1); got != nil {
			t.Errorf("%T over NaN = %v, want none", tk, got)
		}
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{"1.00 µs": "1 µs", "2.50 GiB": "2.5 GiB", "100 ms": "100 ms", "512 B": "512 B"} {
		if got := Compact(in); got != want {
			t.Errorf("Compact(%q) = %q, want %q", in, got, want)
		}
	}
	l := Label(func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " s" })
	if got := l(0); got != "0" {
		t.Errorf("Label(0) = %q, want 0", got)
	}
	if got := l(1.5); got != "1.5 s" {
		t.Errorf("Label(1.5) = %q, want 1.5 s", got)
	}
}

func TestFinite(t *testing.T) {
	if Finite(math.Inf(1)) || Finite(math.NaN()) || !Finite(0) {
		t.Error("Finite")
	}
}

// lineFigure is a line with a legend of n entries under a header.
func lineFigure(t *testing.T, n int) *Figure {
	t.Helper()
	p := New("A title", "x", "y")
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 1}, {X: 1, Y: 3}})
	if err != nil {
		t.Fatal(err)
	}
	p.Add(l)
	f := &Figure{Title: "A title", Plot: p, Legend: []LegendEntry{{Label: "series", Header: true}}}
	for i := range n {
		st := VariantStyles[i%len(VariantStyles)]
		thumb := LineThumb{
			Line:  draw.LineStyle{Color: Palette[i%len(Palette)], Width: vg.Points(1.5), Dashes: st.Dashes},
			Glyph: &draw.GlyphStyle{Color: Palette[i%len(Palette)], Radius: vg.Points(3.5), Shape: st.Shape},
		}
		f.Legend = append(f.Legend, LegendEntry{Label: "entry " + strconv.Itoa(i), Thumbs: []plot.Thumbnailer{thumb}})
	}
	return f
}

// render renders f, checking the SVG is the same twice over, and returns it with the PNG's size.
func render(t *testing.T, f *Figure) (svg []byte, w, h int) {
	t.Helper()
	svg, pngData, err := f.Render()
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	again, _, err := f.Render()
	if err != nil || !bytes.Equal(svg, again) {
		t.Errorf("a second Render gave another SVG (err %v)", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(pngData))
	if err != nil {
		t.Fatalf("PNG: %v", err)
	}
	return svg, cfg.Width, cfg.Height
}

func TestRender(t *testing.T) {
	svg, w, h := render(t, lineFigure(t, 3))
	// 800×500 px for the plot, and the heading's line above it.
	if w != 800 || h != 533 {
		t.Errorf("PNG is %d×%d, want 800×533", w, h)
	}
	for _, s := range []string{">A title<", ">series<", ">entry 2<"} {
		if !bytes.Contains(svg, []byte(s)) {
			t.Errorf("SVG lacks %q", s)
		}
	}
	// A legend longer than the plot makes the figure taller, not cut off.
	if _, w, h := render(t, lineFigure(t, 40)); w != 800 || h <= 533 {
		t.Errorf("PNG with 40 legend entries is %d×%d, want 800 wide and taller than 533", w, h)
	}

	// gonum's panic on impossible geometry comes back as an error.
	f := lineFigure(t, 1)
	f.Plot.Y.Scale = plot.LogScale{}
	f.Plot.Y.Min = -1
	if _, _, err := f.Render(); err == nil {
		t.Error("Render of a log axis from -1: no error")
	}
}
