package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/result"
)

// readPlotInput reads a result from testdata/plots.
func readPlotInput(t *testing.T, name string) *result.Result {
	t.Helper()
	r, err := result.ReadFile(filepath.Join("testdata", "plots", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// renderPlots renders r into a new temporary directory.
func renderPlots(t *testing.T, prefix string, r *result.Result) (string, []Figure) {
	t.Helper()
	dir := t.TempDir()
	figs, err := Plots(dir, prefix, r)
	if err != nil {
		t.Fatalf("Plots: %v", err)
	}
	return dir, figs
}

func figureNames(figs []Figure) []string {
	var names []string
	for _, f := range figs {
		names = append(names, strings.TrimSuffix(f.SVG, ".svg"))
	}
	return names
}

// checkFiles checks that every figure's SVG and PNG exist: the SVG a complete document, the PNG an
// image at least 800×300 (dot plots of many rows or panels are larger; TestFigureCheck checks what
// is drawn in them).
func checkFiles(t *testing.T, dir string, figs []Figure) {
	t.Helper()
	for _, f := range figs {
		if f.Title == "" {
			t.Errorf("%s: no title", f.SVG)
		}
		svg, err := os.ReadFile(filepath.Join(dir, f.SVG))
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.HasPrefix(svg, []byte("<?xml")) || !bytes.HasSuffix(bytes.TrimSpace(svg), []byte("</svg>")) {
			t.Errorf("%s is not a complete SVG document", f.SVG)
		}
		if !bytes.Contains(svg, []byte(f.Title)) {
			t.Errorf("%s lacks its title %q", f.SVG, f.Title)
		}
		pf, err := os.Open(filepath.Join(dir, f.PNG))
		if err != nil {
			t.Error(err)
			continue
		}
		cfg, err := png.DecodeConfig(pf)
		pf.Close()
		if err != nil {
			t.Errorf("%s: %v", f.PNG, err)
			continue
		}
		if cfg.Width < 800 || cfg.Height < 300 {
			t.Errorf("%s is %d×%d, want at least 800×300", f.PNG, cfg.Width, cfg.Height)
		}
	}
}

func TestPlotsSmall(t *testing.T) {
	r := readPlotInput(t, "small.json")
	dir, figs := renderPlots(t, "small", r)

	// No pagecache.resident in the input: that figure is skipped.
	want := []string{"small-copyup", "small-lookup", "small-disk", "small-lifecycle"}
	if got := figureNames(figs); !slices.Equal(got, want) {
		t.Fatalf("figures %v, want %v", got, want)
	}
	checkFiles(t, dir, figs)

	// Axis labels (with units in the tick labels) and legend entries of each figure.
	contains := map[string][]string{
		"small-copyup": {
			"file size (log scale)", "median latency (log scale)", "4KiB", "1MiB", "16MiB",
			"1 ms", "10 ms", "µs", "driver", "alpha", "beta", "how", "append", "chmod",
		},
		"small-lookup": {
			"layer the file is found in (1 = top image layer)", "median latency", "miss", "(2 layers)",
			"µs", "driver", "alpha", "beta", "cache", "warm", "cold",
		},
		"small-disk": {
			"containers", "disk used on the backing filesystem", "GiB", "MiB", "(1 image)",
			"driver", "alpha", "beta",
		},
		"small-lifecycle": {
			"Median time (log scale", "prepare", "mount", "remove", "(container)", "layer.apply",
			"layer.diff", "commit", "(Σ 2 layers)", "alpha", "beta",
		},
	}
	for _, f := range figs {
		name := strings.TrimSuffix(f.SVG, ".svg")
		svg, err := os.ReadFile(filepath.Join(dir, f.SVG))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range contains[name] {
			if !bytes.Contains(svg, []byte(">"+s)) && !bytes.Contains(svg, []byte(s+"<")) {
				t.Errorf("%s: no text %q", f.SVG, s)
			}
		}
		// gamma failed: it is not plotted, although the result holds metrics for it.
		if bytes.Contains(svg, []byte("gamma")) {
			t.Errorf("%s shows the failed driver gamma", f.SVG)
		}
		// Copy-up plots first writes only (10 µs and up): the second writes, 100× faster,
		// would take the axis down to 100 ns.
		if name == "small-copyup" && bytes.Contains(svg, []byte(">1 µs<")) {
			t.Errorf("%s: y axis reaches down to 1 µs: second writes plotted?", f.SVG)
		}

		checkGolden(t, f.SVG, svg)
	}
}

// checkGolden compares a figure's SVG with testdata/plots/name (rewriting it with -update).
func checkGolden(t *testing.T, name string, svg []byte) {
	t.Helper()
	golden := filepath.Join("testdata", "plots", name)
	if *update {
		if err := os.WriteFile(golden, svg, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(svg, want) {
		t.Errorf("%s differs from %s (run go test -update if intended)", name, golden)
	}
}

// TestPlotsDeterministic renders the same result twice: the SVGs must be byte-identical (PNGs are
// only checked to be written: rasterization may change with gonum's version).
func TestPlotsDeterministic(t *testing.T) {
	r := readPlotInput(t, "quick.json")
	dir1, figs1 := renderPlots(t, "quick", r)
	dir2, figs2 := renderPlots(t, "quick", readPlotInput(t, "quick.json"))

	want := []string{"quick-copyup", "quick-lookup", "quick-disk", "quick-pagecache", "quick-lifecycle"}
	if got := figureNames(figs1); !slices.Equal(got, want) {
		t.Fatalf("figures %v, want %v", got, want)
	}
	if !slices.Equal(figs1, figs2) {
		t.Fatalf("second render listed %v, first %v", figs2, figs1)
	}
	checkFiles(t, dir1, figs1)
	for _, f := range figs1 {
		a, err := os.ReadFile(filepath.Join(dir1, f.SVG))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir2, f.SVG))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two renders of the same result", f.SVG)
		}
		for _, d := range []string{"overlayfs", "native"} {
			if !bytes.Contains(a, []byte(">"+d+"<")) {
				t.Errorf("%s: no legend entry for %s", f.SVG, d)
			}
		}
	}
}

func TestPlotsNothingToPlot(t *testing.T) {
	// No metrics at all.
	dir := filepath.Join(t.TempDir(), "plots")
	figs, err := Plots(dir, "x", &result.Result{Schema: result.Schema})
	if err != nil || len(figs) != 0 {
		t.Fatalf("Plots(empty) = %v, %v; want no figures, no error", figs, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Plots(empty) created %s", dir)
	}

	// Only a skipped driver has metrics.
	r := readPlotInput(t, "small.json")
	for i := range r.Drivers {
		r.Drivers[i].Status = result.StatusSkipped
	}
	figs, err = Plots(t.TempDir(), "x", r)
	if err != nil || len(figs) != 0 {
		t.Fatalf("Plots(all skipped) = %v, %v; want no figures, no error", figs, err)
	}
}

func TestPlotsOnePoint(t *testing.T) {
	// A single point per figure: degenerate axis ranges must still render.
	r := &result.Result{
		Schema:  result.Schema,
		Drivers: []result.DriverResult{{Name: "solo", Status: result.StatusOK}},
		Metrics: []result.Metric{
			{Driver: "solo", Name: "copyup.latency", Unit: "ns", Params: map[string]string{"size": "4KiB", "how": "append"}, Samples: []float64{5000}},
			{Driver: "solo", Name: "op.lookup", Unit: "ns", Params: map[string]string{"kind": "hit", "depth": "1", "layers": "1"}, Samples: []float64{2000}},
			{Driver: "solo", Name: "disk.used", Unit: "bytes", Params: map[string]string{"containers": "0"}, Samples: []float64{0}},
			{Driver: "solo", Name: "pagecache.resident", Unit: "bytes", Params: map[string]string{"containers": "1"}, Samples: []float64{4096}},
			{Driver: "solo", Name: "snapshot.prepare", Unit: "ns", Params: map[string]string{"container": "c"}, Samples: []float64{1e6}},
		},
	}
	dir, figs := renderPlots(t, "", r)
	want := []string{"copyup", "lookup", "disk", "pagecache", "lifecycle"}
	if got := figureNames(figs); !slices.Equal(got, want) {
		t.Fatalf("figures %v, want %v", got, want)
	}
	checkFiles(t, dir, figs)
}

// TestPlotLabels checks the tick labels in seedbench's units that the figures hand to plot's ticks.
func TestPlotLabels(t *testing.T) {
	for _, c := range []struct {
		label func(float64) string
		v     float64
		want  string
	}{
		{sizeLabel, 4 << 10, "4KiB"},
		{sizeLabel, 64 << 20, "64MiB"},
		{sizeLabel, 1536.4, "1.5 KiB"},
		{nanosLabel, 0, "0"},
		{nanosLabel, 1000, "1 µs"},
		{nanosLabel, 2e6, "2 ms"},
		{bytesLabel, 0, "0"},
		{bytesLabel, 256 << 20, "256 MiB"},
		{bytesLabel, 1 << 30, "1 GiB"},
	} {
		if got := c.label(c.v); got != c.want {
			t.Errorf("label(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}
