package gate

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/seedbench/seedbench/internal/fault"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// PairedLevel is the confidence of a paired class's interval.
const PairedLevel = 0.95

// PairedReport judges one driver of a run against another of the same run, on the ratios of
// samples taken side by side: sample i of each point of New against sample i of Base, which the
// same round measured (one right after the other when the scenario declared the pair).
type PairedReport struct {
	Run      RunID  `json:"run"`
	Base     string `json:"base"`
	New      string `json:"new"`
	Declared bool   `json:"declared"` // the scenario declared the pair: its sides were adjacent in every round
	// Spread is set when the classes were judged also against the A/A pairs' spread of their ratio
	// from run to run (Options.PairedSpread): the most A/A pairs a class's spread was learnt from.
	Spread    int     `json:"spread_pairs,omitempty"`
	Alpha     float64 `json:"alpha"`
	MinEffect float64 `json:"min_effect"`
	// Faults injected into the run (a trial of the gate, not a measurement).
	Faults     []string          `json:"faults,omitempty"`
	Classes    []PairedClass     `json:"classes"`
	Quantities []QuantityVerdict `json:"quantities"`
	Counts     map[Verdict]int   `json:"counts"`
	OnlyOne    int               `json:"only_in_one"` // metrics one of the two drivers has
}

// PairedClass is one class of times, judged on its paired ratios.
type PairedClass struct {
	Class  string `json:"class"`
	Better string `json:"better"`
	Points int    `json:"points"`
	Pairs  int    `json:"pairs"` // pairs of samples with a non-zero difference
	// Ratio is the Hodges–Lehmann estimate of new ÷ base over the class's pairs (exp of the
	// pseudo-median of ln(new_i ÷ base_i)), [Lo, Hi] its distribution-free interval at Level.
	Ratio float64 `json:"ratio"`
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Level float64 `json:"level"`
	// Unpaired is the median over the points of the ratio of medians, as compare between runs
	// computes it: beside Ratio it shows what pairing changed.
	Unpaired float64 `json:"unpaired"`
	P        float64 `json:"p"` // Wilcoxon's signed-rank test, two-sided (or the A/A spread's, if larger)
	// Spread is the A/A pairs' spread of the class's ratio from run to run (relative, 1σ) it was
	// also judged against; 0: none learnt.
	Spread  float64 `json:"spread,omitempty"`
	Q       float64 `json:"q"` // the Benjamini–Hochberg adjusted p over the classes
	Verdict Verdict `json:"verdict"`
	Note    string  `json:"note,omitempty"`
}

// Regressions counts the regressions.
func (r *PairedReport) Regressions() int { return r.Counts[Regression] }

// ComparePaired judges driver next against driver base of one run. Times are judged class by class
// (classOf) on the pooled paired log ratios: Wilcoxon's signed-rank test (exact under A/A, where the
// two sides of a pair are exchangeable; stats.SignedRank says why), Benjamini–Hochberg over the
// classes, and opt's minimum effect, with the verdicts Compare gives. Deterministic quantities are
// judged exactly, as Compare judges them. No noise floor is needed: the machine's drift between the
// two sides of a round is what pairing removes.
func ComparePaired(r *result.Result, base, next string, opt Options) (*PairedReport, error) {
	if opt.Alpha == 0 {
		opt.Alpha = DefaultAlpha
	}
	if opt.MinEffect == 0 {
		opt.MinEffect = DefaultMinEffect
	}
	if base == next {
		return nil, fmt.Errorf("compare: --base and --new both name %q: pair two drivers (for an A/A pair, a plain variant of one)", base)
	}
	var names []string
	status := map[string]string{}
	for _, d := range r.Drivers {
		names = append(names, d.Name)
		status[d.Name] = d.Status
	}
	for _, n := range []string{base, next} {
		st, ok := status[n]
		switch {
		case !ok:
			return nil, fmt.Errorf("compare: run %s has no driver %q (it has %s)", r.Run.ID, n, strings.Join(names, ", "))
		case st != result.StatusOK:
			return nil, fmt.Errorf("compare: driver %q of run %s is %s: nothing to compare", n, r.Run.ID, st)
		}
	}
	rep := &PairedReport{Run: runID(r), Base: base, New: next, Alpha: opt.Alpha, MinEffect: opt.MinEffect, Counts: map[Verdict]int{}}
	for _, p := range r.Pairs {
		if p.Base == base && p.New == next {
			rep.Declared = true
		}
	}
	rep.Faults = append(rep.Faults, r.Run.Faults...)

	// Two views of the run, one per side, both under next's name: classStats pairs them point by
	// point as it pairs two runs.
	bv, nv := &result.Result{}, &result.Result{}
	for _, m := range r.Metrics {
		switch m.Driver {
		case base:
			m.Driver = next
			bv.Metrics = append(bv.Metrics, m)
		case next:
			nv.Metrics = append(nv.Metrics, m)
		}
	}
	for _, c := range classStats(bv, nv) {
		if !c.time {
			rep.Quantities = append(rep.Quantities, quantityVerdicts(c, nil)...)
			continue
		}
		pc := PairedClass{Class: c.Class, Better: c.metrics[0][0].Better, Points: len(c.points), Unpaired: math.Exp(c.Stat)}
		var d []float64
		uneven := 0
		for _, pm := range c.metrics {
			b, n := pm[0].Samples, pm[1].Samples
			if len(b) != len(n) {
				uneven++
			}
			for i := range min(len(b), len(n)) {
				if b[i] > 0 && n[i] > 0 {
					d = append(d, math.Log(n[i]/b[i]))
				}
			}
		}
		sr := stats.SignedRank(d, PairedLevel)
		pc.Pairs, pc.P, pc.Level = sr.N, sr.P, sr.Level
		pc.Ratio, pc.Lo, pc.Hi = math.Exp(sr.Estimate), math.Exp(sr.Lo), math.Exp(sr.Hi)
		var notes []string
		// Two instances of one driver differ by a few percent of their own, which no pairing of
		// samples removes: where A/A pairs measured how far their ratio spreads from run to run,
		// the ratio must also stand out against that spread (Student's t at their df).
		if sp := opt.PairedSpread[c.Class]; sp.Sigma > 0 && sp.Runs > 1 {
			if p := stats.TwoSidedP(sr.Estimate, sp.Sigma, sp.Runs-1); p > pc.P {
				pc.P = p
			}
			// and the interval holds that spread too: the wider of the two.
			if h := stats.THalfWidth(sp.Sigma, sp.Runs-1, PairedLevel); h > 0 {
				pc.Lo = min(pc.Lo, math.Exp(sr.Estimate-h))
				pc.Hi = max(pc.Hi, math.Exp(sr.Estimate+h))
			}
			pc.Spread = math.Expm1(sp.Sigma)
			rep.Spread = max(rep.Spread, sp.Runs)
		}
		if uneven > 0 {
			notes = append(notes, fmt.Sprintf("%d points with unequal sample counts: paired up to the shorter", uneven))
		}
		if sr.N < 6 {
			notes = append(notes, "fewer than 6 pairs: too few for a test at 5%")
		}
		if c.busy {
			notes = append(notes, "a busy machine measured it")
		}
		pc.Note = strings.Join(notes, "; ")
		rep.Classes = append(rep.Classes, pc)
	}
	ps := make([]float64, len(rep.Classes))
	for i := range rep.Classes {
		ps[i] = rep.Classes[i].P
	}
	for i, q := range stats.BenjaminiHochberg(ps, len(ps)) {
		rep.Classes[i].Q = q
	}
	for i := range rep.Classes {
		pc := &rep.Classes[i]
		// A busy machine is noted, not held against the pair: it slowed both sides of each round
		// alike, where between runs it slows one run only.
		v := ClassVerdict{Ratio: pc.Ratio, Better: pc.Better, Q: pc.Q}
		pc.Verdict = verdictOf(&v, opt)
		rep.Counts[pc.Verdict]++
	}
	for _, q := range rep.Quantities {
		rep.Counts[q.Verdict]++
	}
	seen := map[string]int{}
	for _, m := range r.Metrics {
		if m.Driver == base || m.Driver == next {
			seen[result.PointKey(m.Name, m.Params)]++
		}
	}
	for _, n := range seen {
		if n == 1 {
			rep.OnlyOne++
		}
	}
	sort.SliceStable(rep.Classes, func(i, j int) bool { return verdictRank(rep.Classes[i].Verdict) < verdictRank(rep.Classes[j].Verdict) })
	sort.SliceStable(rep.Quantities, func(i, j int) bool {
		return verdictRank(rep.Quantities[i].Verdict) < verdictRank(rep.Quantities[j].Verdict)
	})
	return rep, nil
}

// Spread is how far a class's paired ratio spreads between A/A pairs of different runs: the
// standard deviation of ln(ratio) over Runs A/A pairs.
type Spread struct {
	Sigma float64 `json:"sigma"`
	Runs  int     `json:"runs"`
}

// PairedSpreads learns each class's Spread from the A/A pairs of runs (pairs whose new driver no
// fault names), leaving out the runs in leave.
func PairedSpreads(runs []*result.Result, leave map[string]bool) (map[string]Spread, error) {
	est, err := aaEstimates(runs)
	if err != nil {
		return nil, err
	}
	return spreads(est, leave), nil
}

// aaEstimates are, by run ID and class, the log ratios of the run's A/A pairs.
func aaEstimates(runs []*result.Result) (map[string]map[string][]float64, error) {
	est := map[string]map[string][]float64{}
	for _, r := range runs {
		for _, p := range r.Pairs {
			if len(faultsOn(r, p.New)) > 0 {
				continue
			}
			rep, err := ComparePaired(r, p.Base, p.New, Options{})
			if err != nil {
				return nil, err
			}
			if est[r.Run.ID] == nil {
				est[r.Run.ID] = map[string][]float64{}
			}
			for _, c := range rep.Classes {
				if c.Pairs >= 6 {
					est[r.Run.ID][c.Class] = append(est[r.Run.ID][c.Class], math.Log(c.Ratio))
				}
			}
		}
	}
	return est, nil
}

// spreads is each class's spread over the estimates of the runs not in leave (at least 3).
func spreads(est map[string]map[string][]float64, leave map[string]bool) map[string]Spread {
	by := map[string][]float64{}
	for id, classes := range est {
		if leave[id] {
			continue
		}
		for class, xs := range classes {
			by[class] = append(by[class], xs...)
		}
	}
	out := map[string]Spread{}
	for class, xs := range by {
		if len(xs) >= 3 {
			out[class] = Spread{Sigma: stat.StdDev(xs, nil), Runs: len(xs)}
		}
	}
	return out
}

// faultsOn are the specs of r's faults that name driver.
func faultsOn(r *result.Result, driver string) []string {
	var out []string
	for _, spec := range r.Run.Faults {
		if f, err := fault.Parse(spec); err == nil && f.Driver == driver {
			out = append(out, spec)
		}
	}
	return out
}
