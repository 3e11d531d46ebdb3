package gate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// pairedRun makes one run of a base and a new driver, 40 rounds: each round's machine speed
// (drifting ±15%, shared by the two sides of the round) × per-sample noise of 15% (its own); new's
// warm lookups cost slow × base's, and new writes disk × base's bytes.
func pairedRun(seed uint64, slow, disk float64) *result.Result {
	rng := rand.New(rand.NewPCG(seed, 7))
	r := &result.Result{Run: result.Run{ID: "r" + strconv.FormatUint(seed, 10)}, Pairs: []result.Pair{{Base: "a", New: "b"}}}
	for _, d := range []string{"a", "b"} {
		r.Drivers = append(r.Drivers, result.DriverResult{Name: d, Status: result.StatusOK})
	}
	const rounds = 40
	machine := make([]float64, rounds)
	for i := range machine {
		machine[i] = math.Exp(0.15 * rng.NormFloat64())
	}
	for depth := 1; depth <= 3; depth++ {
		params := map[string]string{"kind": "hit", "cache": "warm", "depth": strconv.Itoa(depth)}
		for _, d := range []string{"a", "b"} {
			f := 1.0
			if d == "b" {
				f = slow
			}
			m := result.Metric{Driver: d, Name: metric.OpLookup, Unit: metric.NS, Better: metric.Lower, Params: params}
			for i := range rounds {
				m.Samples = append(m.Samples, 2000*f*machine[i]*math.Exp(0.15*rng.NormFloat64()))
			}
			r.Metrics = append(r.Metrics, m)
		}
	}
	for _, d := range []string{"a", "b"} {
		used := 1e9
		if d == "b" {
			used *= disk
		}
		r.Metrics = append(r.Metrics, result.Metric{Driver: d, Name: metric.DiskUsed, Unit: metric.Bytes, Better: metric.Lower,
			Params: map[string]string{"images": "1", "containers": "1"}, Samples: []float64{used}})
	}
	return r
}

// A paired comparison finds +10% on lookups that the machine's round-to-round drift of 15% would
// hide between runs, leaves an A/A pair unchanged, and judges a quantity exactly.
func TestComparePaired(t *testing.T) {
	for _, tc := range []struct {
		name       string
		slow, disk float64
		want       Verdict
		wantQ      Verdict
	}{
		{"A/A", 1, 1, Unchanged, Unchanged},
		{"+10% lookups", 1.10, 1, Regression, Unchanged},
		{"-10% lookups", 1 / 1.10, 1, Improvement, Unchanged},
		{"+3% lookups: below the minimum effect", 1.03, 1, Unchanged, Unchanged},
		{"+1% disk", 1, 1.01, Unchanged, Regression},
	} {
		rep, err := ComparePaired(pairedRun(3, tc.slow, tc.disk), "a", "b", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Classes) != 1 || len(rep.Quantities) != 1 || !rep.Declared {
			t.Fatalf("%s: %d classes, %d quantities, declared %v; want 1, 1, true", tc.name, len(rep.Classes), len(rep.Quantities), rep.Declared)
		}
		c := rep.Classes[0]
		if c.Verdict != tc.want || rep.Quantities[0].Verdict != tc.wantQ {
			t.Errorf("%s: lookups %s (×%.3f [%.3f, %.3f] q %.3g), disk %s; want %s and %s", tc.name, c.Verdict, c.Ratio, c.Lo, c.Hi, c.Q,
				rep.Quantities[0].Verdict, tc.want, tc.wantQ)
		}
		if c.Pairs != 120 || !(c.Lo <= c.Ratio && c.Ratio <= c.Hi) || c.Level != PairedLevel {
			t.Errorf("%s: %d pairs, ×%.3f [%.3f, %.3f] at %v", tc.name, c.Pairs, c.Ratio, c.Lo, c.Hi, c.Level)
		}
		if c.Lo > tc.slow || tc.slow > c.Hi {
			t.Errorf("%s: the interval [%.3f, %.3f] misses the true ratio %.3f", tc.name, c.Lo, c.Hi, tc.slow)
		}
	}
}

// Pairing is what finds it: the same samples judged unpaired (sample i of b against a shuffled
// sample of a) spread by the drift as well, and the interval of the ratio widens.
func TestComparePairedNeedsPairs(t *testing.T) {
	r := pairedRun(5, 1.10, 1)
	paired, _ := ComparePaired(r, "a", "b", Options{})
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range r.Metrics {
		if m := &r.Metrics[i]; m.Driver == "a" {
			rng.Shuffle(len(m.Samples), func(x, y int) { m.Samples[x], m.Samples[y] = m.Samples[y], m.Samples[x] })
		}
	}
	unpaired, _ := ComparePaired(r, "a", "b", Options{})
	pw, uw := math.Log(paired.Classes[0].Hi/paired.Classes[0].Lo), math.Log(unpaired.Classes[0].Hi/unpaired.Classes[0].Lo)
	if !(pw < 0.8*uw) {
		t.Errorf("paired interval width %.3f, shuffled %.3f: pairing must narrow it", pw, uw)
	}
}

// Bad pairs are errors naming the run's drivers.
func TestComparePairedErrors(t *testing.T) {
	r := pairedRun(1, 1, 1)
	r.Drivers = append(r.Drivers, result.DriverResult{Name: "c", Status: result.StatusFailed})
	for _, tc := range []struct{ base, next, want string }{
		{"a", "a", "both name"},
		{"a", "zz", `no driver "zz" (it has a, b, c)`},
		{"a", "c", `driver "c" of run r1 is failed`},
	} {
		if _, err := ComparePaired(r, tc.base, tc.next, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s against %s: %v, want %q", tc.next, tc.base, err, tc.want)
		}
	}
	rep, err := ComparePaired(r, "b", "a", Options{})
	if err != nil || rep.Declared {
		t.Errorf("an undeclared pair: declared %v, %v", rep.Declared, err)
	}
}

// Paired trials: an A/A pair is a false-alarm trial, a pair whose new side a fault names a power
// trial of each class the fault slows; coverage counts intervals holding the true ratio.
func TestMeasurePairedTrials(t *testing.T) {
	runs := trialRuns(6, 1.10, "slow:op.lookup,driver=b:+10%")
	tr, err := MeasurePairedTrials(runs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.AAPairs != 6 || tr.Runs != 6 || len(tr.Classes) != 1 {
		t.Fatalf("%d A/A pairs over %d runs, %d classes", tr.AAPairs, tr.Runs, len(tr.Classes))
	}
	c := tr.Classes[0]
	if c.AATrials != 6 || len(c.Power) != 1 || c.Power[0].Effect != "+10%" || c.Power[0].Trials != 6 || c.Power[0].Caught < 5 {
		t.Errorf("class %+v", c)
	}
	runs[2].Scenario.SHA256 = "other"
	if _, err := MeasurePairedTrials(runs, Options{}); err == nil || !strings.Contains(err.Error(), "another scenario file") {
		t.Errorf("mixed plans: %v", err)
	}
}

// A machine that moved as a whole (floors and drivers ×1.15) is a verdict of its own, which the
// floor-relative judgement would cancel into silence; a driver's own regression is not one, and a
// comparison without a noise file says what it cannot judge.
func TestMachineShift(t *testing.T) {
	rep, err := Compare(synth("a", 1, 1, 1, 1), synth("b", 2, 1.15, 1, 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Machine == nil || math.Abs(rep.Machine.Floor-1.15) > 0.02 || !strings.Contains(rep.Machine.Text, "the machine or its kernel changed: the floors moved ×1.1") {
		t.Errorf("machine ×1.15: %+v", rep.Machine)
	}
	if rep.Regressions() != 0 {
		t.Errorf("machine ×1.15: %d regressions, want none (floor-relative)", rep.Regressions())
	}
	if !strings.Contains(rep.NoNoise, "seedbench run --repeat") {
		t.Errorf("no noise file: %q", rep.NoNoise)
	}
	b := synth("b", 2, 1.15, 1, 1)
	b.Env.Kernel = "6.19 y"
	if rep, _ := Compare(synth("a", 1, 1, 1, 1), b, Options{}); rep.Machine == nil || !strings.Contains(rep.Machine.Text, "the kernel changed (") {
		t.Errorf("a new kernel: %+v", rep.Machine)
	}
	for _, tc := range []struct {
		name          string
		machine, slow float64
	}{{"a driver's copy-ups ×1.5", 1, 1.5}, {"the machine ×1.03", 1.03, 1}} {
		if rep, _ := Compare(synth("a", 1, 1, 1, 1), synth("b", 2, tc.machine, tc.slow, 1), Options{}); rep.Machine != nil {
			t.Errorf("%s: machine verdict %q", tc.name, rep.Machine.Text)
		}
	}
}

// The between-run gate on paired runs: the A/A driver's consecutive runs are its false-alarm
// trials, each slowed driver's next run a power trial, under its own fault spec without the driver.
func TestBetweenRuns(t *testing.T) {
	runs := trialRuns(5, 1.5, "slow:op.lookup,driver=b:+50%")
	trs, err := BetweenRuns(runs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 1 || trs[0].AAPairs != 4 || len(trs[0].Faults) != 1 || trs[0].Faults[0].Fault != "slow:op.lookup:+50%" || trs[0].Faults[0].Trials != 4 {
		t.Fatalf("between runs: %+v", trs)
	}
	if !strings.Contains(trs[0].Scenario, "c of run i against b of run i+1, each as a") {
		t.Errorf("scenario %q", trs[0].Scenario)
	}
}

// trialRuns makes n runs of a paired plan: b is a slowed by slow (the run's fault spec says so), c
// is a with its own noise (an A/A pair).
func trialRuns(n int, slow float64, spec string) []*result.Result {
	var runs []*result.Result
	for seed := uint64(1); seed <= uint64(n); seed++ {
		r := pairedRun(seed, slow, 1)
		aa := pairedRun(seed+100, 1, 1)
		for _, m := range aa.Metrics {
			if m.Driver == "b" {
				m.Driver = "c"
				r.Metrics = append(r.Metrics, m)
			}
		}
		r.Drivers = append(r.Drivers, result.DriverResult{Name: "c", Status: result.StatusOK})
		r.Pairs = append(r.Pairs, result.Pair{Base: "a", New: "c"})
		r.Run.Faults = []string{spec}
		r.Scenario.SHA256 = "s"
		runs = append(runs, r)
	}
	return runs
}

// A class whose A/A pairs' ratio spreads widely from run to run is judged against that spread too:
// +10% that stands out of the run's own pairs does not stand out of a 20% spread.
func TestComparePairedSpread(t *testing.T) {
	r := pairedRun(3, 1.10, 1)
	alone, _ := ComparePaired(r, "a", "b", Options{})
	class, own := alone.Classes[0].Class, alone.Classes[0]
	for _, tc := range []struct {
		sigma float64
		want  Verdict
	}{{0.01, Regression}, {0.20, Inconclusive}} {
		rep, err := ComparePaired(r, "a", "b", Options{PairedSpread: map[string]Spread{class: {Sigma: tc.sigma, Runs: 40}}})
		if err != nil {
			t.Fatal(err)
		}
		if c := rep.Classes[0]; c.Verdict != tc.want || math.Abs(c.Spread-math.Expm1(tc.sigma)) > 1e-12 {
			t.Errorf("A/A spread %.2f: %s (p %.3g), spread %v; want %s", tc.sigma, c.Verdict, c.P, c.Spread, tc.want)
		}
		// The interval holds the spread: at least the estimate ×/÷ e^(t·σ), t at the spread's df.
		c := rep.Classes[0]
		h := stats.THalfWidth(tc.sigma, 39, PairedLevel)
		if lo, hi := c.Ratio*math.Exp(-h), c.Ratio*math.Exp(h); c.Lo > min(lo, own.Lo)+1e-12 || c.Hi < max(hi, own.Hi)-1e-12 {
			t.Errorf("A/A spread %.2f: interval [%.4f, %.4f], want at least [%.4f, %.4f] and the pairs' own [%.4f, %.4f]", tc.sigma, c.Lo, c.Hi, lo, hi, own.Lo, own.Hi)
		}
	}
	// Spreads are learnt from A/A pairs only, leaving a run out on request.
	runs := trialRuns(4, 1.10, "slow:op.lookup,driver=b:+10%")
	all, err := PairedSpreads(runs, nil)
	if err != nil {
		t.Fatal(err)
	}
	some, _ := PairedSpreads(runs, map[string]bool{runs[0].Run.ID: true})
	if all[class].Runs != 4 || some[class].Runs != 3 {
		t.Errorf("spreads from %d and %d A/A pairs, want 4 and 3", all[class].Runs, some[class].Runs)
	}
}
