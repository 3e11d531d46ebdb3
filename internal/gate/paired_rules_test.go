package gate

import (
	"math"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// The tests in this file pin ComparePaired's and MeasurePairedTrials' rules on pairs whose log
// ratios are set exactly.

// twelve are 12 log ratios of magnitudes 0.02, 0.04, … 0.24, the four smallest negative: the signed
// rank statistic W⁻ is 1+2+3+4 = 10, and of the 2¹² sign patterns 43 have W⁻ ≤ 10 (subsets of
// 1…12 summing to 10 or less), so the exact two-sided p is 86/4096.
var twelve = []float64{-0.02, -0.04, -0.06, -0.08, 0.10, 0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.24}

const twelveP = 86.0 / 4096

// sideBySide is driver a's samples of a point and driver b's, b's sample i being a's × e^d[i].
func sideBySide(name metric.ID, params map[string]string, d []float64) []result.Metric {
	var as, bs []float64
	for i := range d {
		a := 1000 * (1 + 0.01*float64(i))
		as, bs = append(as, a), append(bs, a*math.Exp(d[i]))
	}
	return []result.Metric{point("a", name, params, as), point("b", name, params, bs)}
}

// pairedOf is a run of drivers a and b, the pair (a, b) declared, holding ms.
func pairedOf(id string, ms ...result.Metric) *result.Result {
	r := runOf(id, ms...)
	r.Drivers = []result.DriverResult{{Name: "a", Status: result.StatusOK}, {Name: "b", Status: result.StatusOK}}
	r.Pairs = []result.Pair{{Base: "a", New: "b"}}
	return r
}

func lookupAt(cache, kind string) map[string]string {
	return map[string]string{"cache": cache, "kind": kind, "depth": "1"}
}

func comparePaired(t *testing.T, r *result.Result) *PairedReport {
	t.Helper()
	rep, err := ComparePaired(r, "a", "b", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestPairedRules: significance by the signed-rank test, Benjamini–Hochberg over the classes, too few
// pairs, unequal sample counts, a busy machine, and metrics one driver lacks.
func TestPairedRules(t *testing.T) {
	alone := comparePaired(t, pairedOf("r", sideBySide(metric.OpLookup, lookupAt("warm", "hit"), twelve)...))
	c := alone.Classes[0]
	if math.Abs(c.P-twelveP) > 1e-12 || c.Q != c.P || c.Verdict != Regression || c.Pairs != 12 || !(c.Ratio > 1.05) {
		t.Errorf("one class: %s p %v q %v ×%.3f (%d pairs), want a regression at p = q = 86/4096", c.Verdict, c.P, c.Q, c.Ratio, c.Pairs)
	}

	// Among eleven classes, ten of them unmoved: q = 11 p.
	ms := sideBySide(metric.OpLookup, lookupAt("warm", "hit"), twelve)
	flat := make([]float64, 12)
	for _, p := range []map[string]string{lookupAt("warm", "miss"), lookupAt("mount", "hit"), lookupAt("mount", "miss"), lookupAt("cold", "hit"),
		lookupAt("cold", "miss"), {"cache": "warm", "size": "4KiB"}, {"cache": "cold", "size": "4KiB"}} {
		name := metric.OpLookup
		if _, ok := p["size"]; ok {
			name = metric.OpRead
		}
		ms = append(ms, sideBySide(name, p, flat)...)
	}
	ms = append(ms, sideBySide(metric.OpCreate, map[string]string{"size": "4KiB"}, flat)...)
	ms = append(ms, sideBySide(metric.OpDelete, map[string]string{"kind": "file"}, flat)...)
	ms = append(ms, sideBySide(metric.OpDelete, map[string]string{"kind": "dir"}, flat)...)
	among := comparePaired(t, pairedOf("r", ms...))
	if len(among.Classes) != 11 {
		t.Fatalf("%d classes, want 11", len(among.Classes))
	}
	for _, c := range among.Classes {
		switch {
		case c.Class == warmHits && (c.Verdict != Inconclusive || math.Abs(c.Q-11*twelveP) > 1e-12):
			t.Errorf("among 11: %s q %v, want inconclusive at q = 11p", c.Verdict, c.Q)
		case c.Class != warmHits && (c.Verdict != Unchanged || c.P != 1):
			t.Errorf("%s: %s p %v, want unchanged at p 1", c.Class, c.Verdict, c.P)
		}
	}

	// Five pairs: no test at 5% is possible, however far they moved.
	few := comparePaired(t, pairedOf("r", sideBySide(metric.OpLookup, lookupAt("warm", "hit"), []float64{0.3, 0.31, 0.32, 0.33, 0.34})...)).Classes[0]
	if few.Verdict != Inconclusive || !strings.Contains(few.Note, "fewer than 6 pairs") {
		t.Errorf("five pairs ×1.4: %s (%q), want inconclusive, noted", few.Verdict, few.Note)
	}

	// Unequal counts: paired up to the shorter side, and said.
	ms = sideBySide(metric.OpLookup, lookupAt("warm", "hit"), twelve)
	ms[0].Samples = append(ms[0].Samples, 5000, 6000)
	uneven := comparePaired(t, pairedOf("r", ms...)).Classes[0]
	if uneven.Pairs != 12 || math.Abs(uneven.P-twelveP) > 1e-12 || !strings.Contains(uneven.Note, "1 points with unequal sample counts") {
		t.Errorf("14 samples against 12: %d pairs p %v (%q)", uneven.Pairs, uneven.P, uneven.Note)
	}

	// A busy machine slowed both sides of each pair alike: noted, and the verdict stands.
	busy := comparePaired(t, pairedOf("r", busyNow(sideBySide(metric.OpLookup, lookupAt("warm", "hit"), twelve))...)).Classes[0]
	if busy.Verdict != Regression || !strings.Contains(busy.Note, "a busy machine measured it") {
		t.Errorf("busy: %s (%q), want a regression, noted", busy.Verdict, busy.Note)
	}

	// A metric of one driver only is counted, not judged.
	ms = sideBySide(metric.OpLookup, lookupAt("warm", "hit"), twelve)
	ms = append(ms, point("a", metric.DiskUsed, map[string]string{"images": "1"}, []float64{1e9}))
	if rep := comparePaired(t, pairedOf("r", ms...)); rep.OnlyOne != 1 || len(rep.Quantities) != 0 {
		t.Errorf("a's disk figure alone: only in one %d, quantities %+v", rep.OnlyOne, rep.Quantities)
	}
}

// TestPairedTrialsCounts: over four runs — an A/A pair that stays put, one that alarms, a faulted
// pair caught with its effect inside the interval, and one with a class no fault slows regressing —
// every count, by hand.
func TestPairedTrialsCounts(t *testing.T) {
	var still, up, fault []float64
	for i := 1; i <= 12; i++ {
		s := 1.0
		if i%2 == 1 {
			s = -1
		}
		still = append(still, s*0.02*float64(i))                // signs alternate: no move
		up = append(up, 0.02*float64(i))                        // every pair slower
		fault = append(fault, math.Log(1.2)+s*0.002*float64(i)) // ×1.2, symmetric about it
	}
	warm, read := lookupAt("warm", "hit"), map[string]string{"cache": "warm", "size": "4KiB"}
	mk := func(id string, lookups, reads []float64, faults ...string) *result.Result {
		r := pairedOf(id, append(sideBySide(metric.OpLookup, warm, lookups), sideBySide(metric.OpRead, read, reads)...)...)
		r.Run.Faults = faults
		return r
	}
	slow := "slow:op.lookup,driver=b:+20%"
	runs := []*result.Result{
		mk("still", still, still),
		mk("alarm", up, still),
		mk("caught", fault, still, slow),
		mk("spurious", fault, up, slow),
	}
	tr, err := MeasurePairedTrials(runs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Runs != 4 || tr.AAPairs != 2 || tr.FalseAlarms != 1 || tr.Spurious != 1 || len(tr.AlarmDetail) != 1 || !strings.HasPrefix(tr.AlarmDetail[0], "alarm, b against a: [") {
		t.Errorf("trials %+v", tr)
	}
	byClass := map[string]PairedTrial{}
	for _, c := range tr.Classes {
		byClass[c.Class] = c
	}
	l := byClass[warmHits]
	if l.AATrials != 2 || l.AACovered != 1 || len(l.Power) != 1 || l.Power[0] != (PairedPower{Effect: "+20%", Trials: 2, Caught: 2, Covered: 2}) {
		t.Errorf("lookups %+v", l)
	}
	r := byClass["op.read cache=warm"]
	if r.AATrials != 2 || r.AACovered != 2 || len(r.Power) != 0 || r.Pairs != 12 {
		t.Errorf("reads %+v", r)
	}
	// The half-width is the median over the A/A trials of e^(ln(hi/lo)/2) − 1.
	var ws []float64
	for _, run := range runs[:2] {
		c := comparePaired(t, run).Classes
		for _, x := range c {
			if x.Class == "op.read cache=warm" {
				ws = append(ws, math.Log(x.Hi/x.Lo)/2)
			}
		}
	}
	if len(ws) != 2 || math.Abs(r.HalfWidth-math.Expm1((ws[0]+ws[1])/2)) > 1e-12 || !(r.HalfWidth > 0) {
		t.Errorf("reads' half-width %v from %v", r.HalfWidth, ws)
	}
	runs[1].Pairs = nil
	if _, err := MeasurePairedTrials(runs, Options{}); err == nil || !strings.Contains(err.Error(), "run alarm declares no pairs") {
		t.Errorf("a run without pairs: %v", err)
	}
	if _, err := MeasurePairedTrials(nil, Options{}); err == nil {
		t.Error("no runs: want an error")
	}
}

// TestMachineShiftRules: when the floors and the drivers moved as a whole (beyond the minimum
// effect, the same way), the report says the machine moved.
func TestMachineShiftRules(t *testing.T) {
	mk := func(id string, floor float64, drivers ...float64) *result.Result {
		r := runOf(id, floorStat(floor))
		for i, f := range drivers {
			r.Metrics = append(r.Metrics, lookups(string(rune('a'+i)), f)...)
		}
		return r
	}
	base := mk("x", 1, 1, 1, 1, 1, 1)
	for _, c := range []struct {
		name    string
		next    *result.Result
		want    bool
		share   float64
		drivers float64
	}{
		{"the floors and every driver ×1.2", mk("y", 1.2, 1.2, 1.2, 1.2, 1.2, 1.2), true, 1, 1.2},
		{"four of five the floors' way, one the other", mk("y", 1.2, 1.2, 1.2, 1.2, 1.2, 0.8), true, 0.8, 1.2},
		{"the floors ×1.03 only", mk("y", 1.03, 1.2, 1.2, 1.2, 1.2, 1.2), false, 0, 0},
		{"the drivers ×1.03 only", mk("y", 1.2, 1.03, 1.03, 1.03, 1.03, 1.03), false, 0, 0},
		{"the drivers the other way", mk("y", 1.2, 0.8, 0.8, 0.8, 0.8, 0.8), false, 0, 0},
		// Half the classes beyond the minimum effect the floors' way, but not the median class.
		{"the median driver ×1.03", mk("y", 1.2, 1, 1, math.Exp(0.06), math.Exp(0.06)), false, 0, 0},
		{"the median driver the other way", mk("y", 1.2, math.Exp(-0.3), math.Exp(-0.3), math.Exp(0.06), math.Exp(0.06)), false, 0, 0},
		{"the floor of another mode", func() *result.Result {
			r := mk("y", 1.2, 1.2, 1.2, 1.2, 1.2, 1.2)
			r.Metrics[0].Params = map[string]string{"kind": "hit", "cache": "mount"}
			return r
		}(), false, 0, 0},
	} {
		rep := compare(t, base, c.next, Options{})
		m := rep.Machine
		if (m != nil) != c.want {
			t.Errorf("%s: machine %+v, want %v", c.name, m, c.want)
			continue
		}
		if m != nil && (math.Abs(m.Floor-1.2) > 1e-9 || math.Abs(m.Share-c.share) > 1e-12 || math.Abs(m.Drivers-c.drivers) > 1e-9) {
			t.Errorf("%s: %+v, want floor ×1.2, drivers ×%v, share %v", c.name, m, c.drivers, c.share)
		}
	}
}
