package report

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// breakEvenResult: a full pull taking 10 s whatever the share, a lazy one 1 s + 0.2 s per percent
// read (slower from 45% on) over one network, and faster at every share over another.
func breakEvenResult() *result.Result {
	r := &result.Result{Drivers: []result.DriverResult{
		{Name: "overlayfs", Status: result.StatusOK},
		{Name: "stargz", Status: result.StatusOK, Capabilities: result.Capabilities{Remote: true}},
	}}
	add := func(driver, net string, pct int, secs ...float64) {
		var ss []float64
		for _, s := range secs {
			ss = append(ss, s*1e9)
		}
		r.Metrics = append(r.Metrics, result.Metric{Driver: driver, Name: metric.BreakEvenDone, Unit: "ns",
			Params: map[string]string{metric.PImage: "web", metric.PNetwork: net, metric.PReadPct: strconv.Itoa(pct)}, Samples: ss})
	}
	for _, pct := range []int{2, 5, 10, 25, 50, 100} {
		add("overlayfs", "slow", pct, 10, 10.1, 9.9)
		l := 1 + 0.2*float64(pct)
		add("stargz", "slow", pct, l, l*1.01, l*0.99)
		add("overlayfs", "fast", pct, 100, 101, 99)
		add("stargz", "fast", pct, l, l, l)
	}
	return r
}

func TestBreakEvenCrossing(t *testing.T) {
	b := newBreakEven(breakEvenResult())
	if b == nil || b.full != "overlayfs" || len(b.lazy) != 1 {
		t.Fatalf("breakEven = %+v", b)
	}
	if got := b.crossing("slow", "stargz"); !strings.HasPrefix(got, "4") || !strings.Contains(got, "between 25% and 50%") {
		t.Errorf("slow crossing = %q, want 4x%% between 25%% and 50%%", got)
	}
	if got := b.crossing("fast", "stargz"); !strings.HasPrefix(got, "never") {
		t.Errorf("fast crossing = %q, want never", got)
	}
	secs := breakEvenSections(breakEvenResult())
	if len(secs) != 2 || len(secs[0].Table.Rows) != 12 || len(secs[1].Table.Rows) != 2 {
		t.Fatalf("sections %d, rows %d / %d", len(secs), len(secs[0].Table.Rows), len(secs[1].Table.Rows))
	}
	// No lazy driver: no map.
	r := breakEvenResult()
	r.Drivers[1].Capabilities.Remote = false
	if breakEvenSections(r) != nil {
		t.Error("a break-even map without a lazy driver")
	}
}

func TestBreakEvenFigure(t *testing.T) {
	f := breakEvenFigure(newPlotData(breakEvenResult()))
	if f == nil {
		t.Fatal("no figure")
	}
	base := filepath.Join(t.TempDir(), "break-even")
	if err := WriteFigure(f, base); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(base + ".png"); err != nil || st.Size() < 1000 {
		t.Fatalf("png: %v %v", st, err)
	}
	if out := os.Getenv("BREAKEVEN_PNG"); out != "" {
		WriteFigure(f, out)
	}
}
