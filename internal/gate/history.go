package gate

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// HistorySchema identifies a history report.
const HistorySchema = "seedbench/history/v1"

// minSegment is the fewest runs on each side of a change point.
const minSegment = 2

// maxDepth bounds binary segmentation's levels of splitting in one class's series.
const maxDepth = 4

// History is a series of results of one plan, ordered by run time and grouped by environment
// fingerprint, with each class's level over the runs and the points where it changed.
type History struct {
	Schema    string         `json:"schema"`
	Scenario  string         `json:"scenario"`
	Method    string         `json:"method"`
	NoiseFrom string         `json:"noise_from"`
	Alpha     float64        `json:"alpha"`
	MinEffect float64        `json:"min_effect"`
	Groups    []HistoryGroup `json:"groups"`
}

// HistoryGroup is the runs of one environment fingerprint, oldest first.
type HistoryGroup struct {
	Fingerprint string          `json:"fingerprint"`
	Runs        []HistoryRun    `json:"runs"`
	Classes     []ClassSeries   `json:"classes"`
	Quantities  []QuantitySteps `json:"quantities"`
}

// HistoryRun is one run of a series.
type HistoryRun struct {
	RunID
	Commit string   `json:"commit,omitempty"`
	Faults []string `json:"faults,omitempty"`
}

// ClassSeries is one driver's class of times over the runs: its level in each run against the
// first (exp of the class statistic: the median over the points of run ÷ first run), on the basis
// judged, and the change points found.
type ClassSeries struct {
	Driver string `json:"driver"`
	Class  string `json:"class"`
	Better string `json:"better"`
	Basis  string `json:"basis"`
	// Levels has 0 where a run lacks the class (Missing lists those runs).
	Levels  []float64     `json:"levels"`
	Missing []int         `json:"missing,omitempty"`
	Sigma   float64       `json:"sigma"`
	Df      int           `json:"df"`
	Changes []ChangePoint `json:"changes,omitempty"`
	// Intervals are each run's level's interval, run by run as Levels: the order-statistics
	// interval of the median over the class's points (95%, or the level its points reach; none for
	// one point).
	Intervals []LevelInterval `json:"intervals,omitempty"`
	// Segments are the stretches of runs between change points, each with its mean level and the
	// noise band around it: where a run's level falls 95% of the time while the level holds, under
	// the class's noise floor (a run's level varies by Sigma/√2). None when a run lacks the class.
	Segments []Segment `json:"segments,omitempty"`
}

// LevelInterval is a run's level's interval, against run 1; Confidence 0 when there is none.
type LevelInterval struct {
	Lo         float64 `json:"lo"`
	Hi         float64 `json:"hi"`
	Confidence float64 `json:"confidence"`
}

// Segment is runs From..To-1 (indexes into the group's runs) at one level, and its noise band.
type Segment struct {
	From   int     `json:"from"`
	To     int     `json:"to"`
	Level  float64 `json:"level"`
	BandLo float64 `json:"band_lo"`
	BandHi float64 `json:"band_hi"`
}

// ChangePoint is where a series moved: the first run of the new level, the ratio of the mean level
// after to the mean level before (within the segment it split), and its p, adjusted.
type ChangePoint struct {
	At      int     `json:"at"` // index into the group's runs
	Ratio   float64 `json:"ratio"`
	P       float64 `json:"p"`
	Verdict Verdict `json:"verdict"` // regression or improvement, by the metric's direction
}

// QuantitySteps is a deterministic quantity's value in each run and the runs where it stepped
// beyond its tolerance.
type QuantitySteps struct {
	Driver string            `json:"driver"`
	Name   metric.ID         `json:"name"`
	Params map[string]string `json:"params"`
	Unit   string            `json:"unit"`
	// Values has 0 where a run lacks the quantity (Missing lists those runs).
	Values  []float64 `json:"values"`
	Missing []int     `json:"missing,omitempty"`
	Steps   []int     `json:"steps,omitempty"`
}

// HistoryMethod says how change points are found.
const HistoryMethod = "binary segmentation: each class's level per run (the median over its points of the log ratio to the first run, against the floors where every run has them, as compare judges the same stack), split where the two segments' mean levels differ most in units of their standard error under the class's A/A noise floor (Student's t, df = A/A runs − 1); a split counts when its p, Bonferroni-adjusted over the splits tried, then Benjamini–Hochberg over the classes, is below alpha and the effect exceeds the minimum; each segment is split again (at most 4 levels of splitting, at least 2 runs a side). Quantities: any step between consecutive runs beyond the gate's tolerance."

// BuildHistory analyses rs (one scenario; any order) under the A/A noise floors opt.Noise (nil: the
// default floor).
func BuildHistory(rs []*result.Result, opt Options) (*History, error) {
	opt.Alpha, opt.MinEffect = opt.alpha(), opt.minEffect()
	noise := opt.Noise
	if len(rs) < 2 {
		return nil, fmt.Errorf("history needs 2 results at least, got %d", len(rs))
	}
	var errs []string
	for _, r := range rs[1:] {
		if r.Scenario.Name != rs[0].Scenario.Name {
			errs = append(errs, fmt.Sprintf("%s is of scenario %s, not %s", r.Run.ID, r.Scenario.Name, rs[0].Scenario.Name))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("history is of one scenario: %s: give the results of one", strings.Join(errs, "; "))
	}
	h := &History{Schema: HistorySchema, Scenario: rs[0].Scenario.Name, Method: HistoryMethod, Alpha: opt.Alpha, MinEffect: opt.MinEffect}
	h.NoiseFrom = fmt.Sprintf("no A/A runs: every class at the default floor of %.0f%%", 100*math.Expm1(defaultSigma))
	if noise != nil {
		h.NoiseFrom = fmt.Sprintf("%d A/A runs (%s)", len(noise.Runs), noise.Fingerprint)
	}
	sorted := slices.Clone(rs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Run.Started.Before(sorted[j].Run.Started) })
	var fps []string
	byFP := map[string][]*result.Result{}
	for _, r := range sorted {
		fp := r.Env.Fingerprint
		if _, ok := byFP[fp]; !ok {
			fps = append(fps, fp)
		}
		byFP[fp] = append(byFP[fp], r)
	}
	for _, fp := range fps {
		nz := noise
		if nz != nil && nz.Fingerprint != fp {
			nz = nil
		}
		h.Groups = append(h.Groups, historyGroup(fp, byFP[fp], nz, opt))
	}
	return h, nil
}

func historyGroup(fp string, rs []*result.Result, noise *Noise, opt Options) HistoryGroup {
	g := HistoryGroup{Fingerprint: fp}
	for _, r := range rs {
		g.Runs = append(g.Runs, HistoryRun{RunID: runID(r), Commit: r.Run.Commit, Faults: r.Run.Faults})
	}
	n := len(rs)
	type series struct {
		cs       *ClassSeries
		abs, rel []float64 // rel stays NaN in a run without floors
		// absPts and relPts are each run's points behind abs and rel.
		absPts, relPts [][]float64
	}
	bySeries := map[[2]string]*series{}
	var order []*series
	quantities := map[string]*QuantitySteps{}
	var qorder []string
	for i, r := range rs {
		for _, c := range classStats(rs[0], r) {
			if !c.time {
				for _, pm := range c.metrics {
					m := pm[1]
					k := m.Key()
					q := quantities[k]
					if q == nil {
						q = &QuantitySteps{Driver: m.Driver, Name: m.Name, Params: m.Params, Unit: m.Unit, Values: nanSlice(n)}
						quantities[k] = q
						qorder = append(qorder, k)
					}
					if len(m.Samples) > 0 {
						q.Values[i] = m.Samples[0]
					}
				}
				continue
			}
			k := [2]string{c.Driver, c.Class}
			s := bySeries[k]
			if s == nil {
				s = &series{cs: &ClassSeries{Driver: c.Driver, Class: c.Class, Better: c.metrics[0][0].Better}, abs: nanSlice(n), rel: nanSlice(n),
					absPts: make([][]float64, n), relPts: make([][]float64, n)}
				bySeries[k] = s
				order = append(order, s)
			}
			s.abs[i], s.absPts[i] = c.Stat, c.points
			if c.hasFloor {
				s.rel[i], s.relPts[i] = c.RelStat, c.rel
			}
		}
	}
	type candidate struct {
		s  *series
		cp ChangePoint
	}
	var cands []*candidate
	for _, s := range order {
		nc := noise.class(s.cs.Driver, s.cs.Class)
		sigma, relSigma, df := defaultSigma, defaultSigma, 0
		if nc != nil {
			sigma, df = nc.Sigma, nc.Runs-1
			if nc.RelSigma > 0 {
				relSigma = nc.RelSigma
			}
		}
		// The basis a comparison of the same stack judges by: against the floors where every run has
		// them (a machine that moved as a whole cancels), else absolute.
		xs, pts, sg, basis := s.abs, s.absPts, sigma, "absolute"
		if !floats.HasNaN(s.rel) {
			xs, pts, sg, basis = s.rel, s.relPts, relSigma, "floor-relative"
		}
		s.cs.Intervals = levelIntervals(pts)
		s.cs.Basis, s.cs.Sigma, s.cs.Df = basis, sg, df
		for i, x := range xs {
			if math.IsNaN(x) {
				s.cs.Levels = append(s.cs.Levels, 0)
				s.cs.Missing = append(s.cs.Missing, i)
				continue
			}
			s.cs.Levels = append(s.cs.Levels, math.Exp(x))
		}
		if floats.HasNaN(xs) {
			continue // a class some runs lack: no series to split
		}
		for _, cp := range segment(xs, sg, df, opt, 0, n, 0) {
			cands = append(cands, &candidate{s: s, cp: cp})
		}
	}
	// Benjamini–Hochberg over the classes, every change point found a hypothesis.
	ps := make([]float64, len(cands))
	for i, c := range cands {
		ps[i] = c.cp.P
	}
	qs := stats.BenjaminiHochberg(ps, len(order))
	for i, c := range cands {
		if qs[i] >= opt.Alpha {
			continue
		}
		effect := c.cp.Ratio - 1
		if c.cp.Ratio < 1 {
			effect = 1/c.cp.Ratio - 1
		}
		if effect <= opt.MinEffect {
			continue
		}
		c.cp.Verdict = Improvement
		if (c.cp.Ratio > 1) == (c.s.cs.Better != metric.Higher) {
			c.cp.Verdict = Regression
		}
		c.s.cs.Changes = append(c.s.cs.Changes, c.cp)
	}
	for _, s := range order {
		slices.SortFunc(s.cs.Changes, func(a, b ChangePoint) int { return a.At - b.At })
		if len(s.cs.Missing) == 0 {
			xs := s.abs
			if s.cs.Basis == "floor-relative" {
				xs = s.rel
			}
			s.cs.Segments = segments(xs, s.cs.Changes, s.cs.Sigma, s.cs.Df)
		}
		g.Classes = append(g.Classes, *s.cs)
	}
	for _, k := range qorder {
		q := quantities[k]
		nc := noise.class(q.Driver, result.PointKey(q.Name, q.Params))
		learnt := 0.0
		if nc != nil {
			learnt = nc.Tol
		}
		for i := 1; i < n; i++ {
			a, b := q.Values[i-1], q.Values[i]
			if math.IsNaN(a) || math.IsNaN(b) || a == b {
				continue
			}
			if tol, most, slack := quantityTol(q.Name, q.Unit, learnt); q.Name != metric.IOReadBytes &&
				math.Abs(quantityChange(a, b, q.Unit)) > tol && math.Abs(b-a) > slack && learnt <= most {
				q.Steps = append(q.Steps, i)
			}
		}
		for i, v := range q.Values {
			if math.IsNaN(v) {
				q.Values[i] = 0
				q.Missing = append(q.Missing, i)
			}
		}
		g.Quantities = append(g.Quantities, *q)
	}
	return g
}

// segment finds change points in xs[lo:hi] by binary segmentation: the split whose two segments'
// means differ most in units of their standard error under sigma (each run's level has variance
// sigma²/2: sigma is the spread of a pair's statistic), if its p (Student's t with df; Bonferroni
// over the splits tried) is below alpha; then each side again, to maxDepth levels.
func segment(xs []float64, sigma float64, df int, opt Options, lo, hi, depth int) []ChangePoint {
	if hi-lo < 2*minSegment || depth >= maxDepth || !(sigma > 0) {
		return nil
	}
	best, bestT := -1, 0.0
	var bestDiff float64
	for k := lo + minSegment; k <= hi-minSegment; k++ {
		a, b := stat.Mean(xs[lo:k], nil), stat.Mean(xs[k:hi], nil)
		se := sigma / math.Sqrt2 * math.Sqrt(1/float64(k-lo)+1/float64(hi-k))
		if t := math.Abs(b-a) / se; t > bestT {
			best, bestT, bestDiff = k, t, b-a
		}
	}
	if best < 0 {
		return nil
	}
	splits := hi - lo - 2*minSegment + 1
	p := min(1, stats.TwoSidedP(bestT, 1, df)*float64(splits))
	if p >= opt.Alpha {
		return nil
	}
	out := []ChangePoint{{At: best, Ratio: math.Exp(bestDiff), P: p}}
	out = append(out, segment(xs, sigma, df, opt, lo, best, depth+1)...)
	out = append(out, segment(xs, sigma, df, opt, best, hi, depth+1)...)
	return out
}

// levelIntervals is each run's level's interval from its points (log ratios): the order-statistics
// interval of their median, back on the ratio scale.
func levelIntervals(pts [][]float64) []LevelInterval {
	out := make([]LevelInterval, len(pts))
	for i, p := range pts {
		if sm := stats.Summarize(p); sm.N >= 2 && sm.Confidence > 0 {
			out[i] = LevelInterval{Lo: math.Exp(sm.CILo), Hi: math.Exp(sm.CIHi), Confidence: sm.Confidence}
		}
	}
	return out
}

// segments cuts xs (log levels) at the change points and gives each stretch its mean level and
// noise band: the mean ± the 97.5% quantile of Student's t with df (the normal's without A/A runs)
// times a run's spread, sigma/√2, back on the ratio scale.
func segments(xs []float64, changes []ChangePoint, sigma float64, df int) []Segment {
	q := distuv.UnitNormal.Quantile(0.975)
	if df > 0 {
		q = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(0.975)
	}
	half := q * sigma / math.Sqrt2
	var out []Segment
	from := 0
	for k, cp := range append(slices.Clone(changes), ChangePoint{At: len(xs)}) {
		if cp.At <= from && k < len(changes) {
			continue
		}
		m := stat.Mean(xs[from:cp.At], nil)
		out = append(out, Segment{From: from, To: cp.At, Level: math.Exp(m), BandLo: math.Exp(m - half), BandHi: math.Exp(m + half)})
		from = cp.At
	}
	return out
}

func nanSlice(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

// Changes counts the change points of every group: regressions, and all.
func (h *History) Changes() (regressions, all int) {
	for _, g := range h.Groups {
		for _, c := range g.Classes {
			for _, cp := range c.Changes {
				all++
				if cp.Verdict == Regression {
					regressions++
				}
			}
		}
		for _, q := range g.Quantities {
			all += len(q.Steps)
		}
	}
	return regressions, all
}
