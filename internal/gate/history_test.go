package gate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// series makes n runs on a machine wandering ±10% from run to run; from run `from` (1-based; 0 =
// never) overlayfs's large copy-ups are 20% slower and its disk.used 5% larger.
func series(n, from int, seed uint64) []*result.Result {
	rng := rand.New(rand.NewPCG(seed, 3))
	var rs []*result.Result
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		slow, disk := 1.0, 1.0
		if from > 0 && i >= from {
			slow, disk = 1.2, 1.05
		}
		r := synth("h"+strconv.Itoa(i), seed*100+uint64(i), math.Exp(0.1*rng.NormFloat64()), slow, disk)
		r.Run.Started = t0.Add(time.Duration(i) * 24 * time.Hour)
		rs = append(rs, r)
	}
	// Any order in: history orders by run time.
	rs[0], rs[n-1] = rs[n-1], rs[0]
	return rs
}

func TestHistory(t *testing.T) {
	n := learn(t)
	h, err := BuildHistory(series(8, 5, 7), Options{Noise: n})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Groups) != 1 || len(h.Groups[0].Runs) != 8 || h.Groups[0].Runs[0].ID != "h1" {
		t.Fatalf("groups %+v: want one of 8 runs, oldest first", h.Groups)
	}
	var found, disk bool
	for _, c := range h.Groups[0].Classes {
		for _, cp := range c.Changes {
			if c.Driver == "overlayfs" && strings.Contains(c.Class, "size>=1MiB") && cp.At == 4 && cp.Verdict == Regression && math.Abs(cp.Ratio-1.2) < 0.05 {
				found = true
			} else {
				t.Errorf("spurious change point: %s %s at run %d: %+v", c.Driver, c.Class, cp.At+1, cp)
			}
		}
	}
	for _, q := range h.Groups[0].Quantities {
		switch {
		case q.Driver == "overlayfs" && q.Name == metric.DiskUsed:
			disk = len(q.Steps) == 1 && q.Steps[0] == 4
		case len(q.Steps) > 0:
			t.Errorf("quantity %s %s stepped at %v", q.Driver, q.Name, q.Steps)
		}
	}
	if !found || !disk {
		t.Errorf("the slowdown from run 5: copy-ups found %v, disk.used step %v", found, disk)
	}
	// A/A: no change point.
	for seed := uint64(10); seed < 20; seed++ {
		h, err := BuildHistory(series(8, 0, seed), Options{Noise: n})
		if err != nil {
			t.Fatal(err)
		}
		if _, all := h.Changes(); all > 0 {
			t.Errorf("A/A series %d: %d change points", seed, all)
		}
	}
	if _, err := BuildHistory(series(1, 0, 1), Options{Noise: n}); err == nil {
		t.Error("one run: want an error")
	}
	rs := series(3, 0, 1)
	rs[1].Scenario.Name = "other"
	if _, err := BuildHistory(rs, Options{Noise: n}); err == nil || !strings.Contains(err.Error(), "one scenario") {
		t.Errorf("two scenarios: %v", err)
	}
}
