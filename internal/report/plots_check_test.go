package report

import (
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/result"
)

// TestFigureCheck renders every figure of a 16-driver result (the flagship scenario's, with the
// lazy-pull scenario's pulls), of a 2-driver one and of a daemon run, and fails on what a reader
// would see: a text outside the image, texts overlapping, two series or legend entries alike.
func TestFigureCheck(t *testing.T) {
	daemon, err := result.ReadFile("testdata/daemon.json")
	if err != nil {
		t.Fatal(err)
	}
	// Two of the 16 drivers: the same figures for few drivers.
	two := readPlotInput(t, "many.json")
	keep := func(name string) bool { return name == "overlayfs" || name == "stargz" }
	two.Drivers = slices.DeleteFunc(two.Drivers, func(d result.DriverResult) bool { return !keep(d.Name) })
	two.Metrics = slices.DeleteFunc(two.Metrics, func(m result.Metric) bool { return !keep(m.Driver) })
	for _, c := range []struct {
		name string
		r    *result.Result
		want []string // figures that must be made
	}{
		{"many", readPlotInput(t, "many.json"), []string{"copyup", "lookup", "disk", "pagecache", "lifecycle", "pull"}},
		{"two", two, []string{"copyup", "lookup", "disk", "pagecache", "lifecycle", "pull"}},
		{"small", readPlotInput(t, "small.json"), []string{"copyup", "lookup", "disk", "lifecycle"}},
		{"quick", readPlotInput(t, "quick.json"), []string{"copyup", "lookup", "disk", "pagecache", "lifecycle"}},
		{"daemon", daemon, []string{"daemon"}},
	} {
		made := map[string]bool{}
		for _, f := range figures(c.r) {
			made[f.name] = true
			problems, _, err := f.fig.Check()
			if err != nil {
				t.Errorf("%s-%s: %v", c.name, f.name, err)
				continue
			}
			if len(problems) > 0 {
				t.Errorf("%s-%s (%q): %d problems:\n\t%s", c.name, f.name, f.fig.Title, len(problems), strings.Join(problems, "\n\t"))
			}
		}
		for _, w := range c.want {
			if !made[w] {
				t.Errorf("%s: no %s figure", c.name, w)
			}
		}
	}
}
