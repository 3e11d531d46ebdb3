// Package gate is the regression gate: it learns how much each kind of measurement moves between two
// runs of the same plan on the same machine when nothing changed (A/A runs: the noise floors), and
// judges a new run against a base run with those floors (Compare).
//
// A time is judged by class: a driver's metric at one mode (op.lookup of hits on a fresh mount,
// copy-ups that append to files of 1 MiB or more, …). A class's statistic is the median, over its
// points, of the log ratio of the two runs' medians, divided by the same ratio of the floor (the
// same syscall pattern on a plain filesystem, measured in the same rounds) when the two runs test
// the same stack: a shift of the whole machine moves a metric and its floor alike and cancels. The
// noise floor of a class is the spread of that statistic over pairs of A/A runs.
//
// A deterministic quantity (disk and page cache bytes, inodes, a diff's bytes, the bytes and
// flushes of a backing device) repeats on the same plan: it is judged exactly, within the deviation
// A/A runs showed.
package gate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// NoiseSchema identifies a noise file.
const NoiseSchema = "seedbench/noise/v1"

// Noise is what A/A runs of one plan on one kind of machine showed: per driver and class, the spread
// of the class statistic between two runs (Sigma, on a log scale; absolute and floor-relative), the
// spread of a single point's log ratio (PointSigma, for a re-run's interval), and for quantities the
// largest relative deviation seen (Tol).
type Noise struct {
	Schema      string   `json:"schema"`
	Scenario    string   `json:"scenario"`
	Plan        string   `json:"plan"` // the scenario file's sha256, quick or not
	Fingerprint string   `json:"fingerprint"`
	MeasureCode string   `json:"measure_code,omitempty"`
	Runs        []string `json:"runs"` // the run IDs learnt from
	Classes     []Class  `json:"classes"`
}

// Class is one driver's noise at one class.
type Class struct {
	Driver string `json:"driver"`
	Class  string `json:"class"`
	// Pairs is how many pairs of runs the figures come from; Runs how many runs (the degrees of
	// freedom of Sigma are Runs−1).
	Pairs int `json:"pairs"`
	Runs  int `json:"runs"`
	// Sigma and RelSigma are the root mean square of the class statistic over the pairs: absolute,
	// and against the floor (0 without floors).
	Sigma    float64 `json:"sigma,omitempty"`
	RelSigma float64 `json:"rel_sigma,omitempty"`
	// PointSigma is the root mean square of one point's log ratio, for a re-run's interval.
	PointSigma float64 `json:"point_sigma,omitempty"`
	// Tol is, for a quantity, the largest relative deviation between two runs (at most 1: from nothing
	// to something counts as 100%).
	Tol float64 `json:"tol,omitempty"`
	// Largest and LargestRel are the largest moves of the class statistic (|log ratio|, absolute and
	// against the floor) over the pairs, at most tailKeep of them, largest first: how far A/A runs
	// moved it. A move that A/A runs made too is no evidence of a change, however many σ it is (a
	// class whose runs now and then land ×3 off, as fuse-overlayfs's fresh-mount lookups do).
	Largest    []float64 `json:"largest,omitempty"`
	LargestRel []float64 `json:"largest_rel,omitempty"`
}

// tailKeep is how many of a class's largest A/A moves a noise file keeps.
const tailKeep = 32

// largest returns the n largest |x|, largest first.
func largest(xs []float64, n int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = math.Abs(x)
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out[:min(n, len(out))]
}

// classOf names the class a metric's point belongs to: its catalogue ID and the parameters that
// change what is measured (a cache mode, a kind, how a file is modified, which write; copy-ups
// split at 1 MiB: below it a copy-up costs its flush, above it its bytes). Quantities are judged
// point by point: their class is the metric's full identity.
func classOf(m *result.Metric) string {
	if !metric.IsTime(m.Name, m.Unit) {
		return result.PointKey(m.Name, m.Params)
	}
	parts := []string{string(m.Name)}
	for _, k := range []string{metric.PCache, metric.PKind, metric.PHow, metric.PWrite, metric.PResult} {
		if v, ok := m.Params[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	switch m.Name {
	case metric.CopyupLatency:
		if n, ok := metric.Number(m.Params[metric.PSize]); ok && n >= 1<<20 {
			parts = append(parts, "size>=1MiB")
		} else {
			parts = append(parts, "size<1MiB")
		}
	case metric.SnapshotPrepare, metric.SnapshotMount, metric.SnapshotUnmount, metric.SnapshotCommit, metric.SnapshotRemove:
		if _, ok := m.Params[metric.PContainer]; ok {
			parts = append(parts, metric.PContainer)
		} else {
			parts = append(parts, metric.PLayer)
		}
	}
	return strings.Join(parts, " ")
}

// planOf identifies a result's plan: the scenario file, quick or not, and the samples per point.
func planOf(r *result.Result) string {
	p := r.Scenario.SHA256
	if r.Run.Quick {
		p += " quick"
	}
	if r.Run.Samples > 0 {
		p += fmt.Sprintf(" samples=%d", r.Run.Samples)
	}
	return p
}

// Learn learns the noise floors from A/A results: runs of one plan on one kind of machine with one
// measuring code, none with faults injected. Every pair of runs counts.
func Learn(rs []*result.Result) (*Noise, error) {
	l, err := newLearner(rs)
	if err != nil {
		return nil, err
	}
	return l.noise(nil)
}

// learner holds the class statistics of every pair of a set of A/A runs, so that noise floors can
// be learnt from any subset of them (leaving out the runs a trial compares) without pairing again.
type learner struct {
	rs    []*result.Result
	pairs map[[2]int][]*classStat
}

func newLearner(rs []*result.Result) (*learner, error) {
	if len(rs) < 3 {
		return nil, fmt.Errorf("learning noise floors takes 3 runs of the same plan at least, got %d", len(rs))
	}
	var errs []error
	for _, r := range rs {
		switch {
		case planOf(r) != planOf(rs[0]):
			errs = append(errs, fmt.Errorf("run %s is of another plan (%s, not %s)", r.Run.ID, planOf(r), planOf(rs[0])))
		case r.Env.Fingerprint != rs[0].Env.Fingerprint:
			errs = append(errs, fmt.Errorf("run %s is of another kind of machine (fingerprint %s, not %s)", r.Run.ID, r.Env.Fingerprint, rs[0].Env.Fingerprint))
		case r.Run.MeasureCode != rs[0].Run.MeasureCode:
			errs = append(errs, fmt.Errorf("run %s was measured by other code (%s, not %s)", r.Run.ID, r.Run.MeasureCode, rs[0].Run.MeasureCode))
		case len(r.Run.Faults) > 0:
			errs = append(errs, fmt.Errorf("run %s had faults injected (%s): it is no A/A run", r.Run.ID, strings.Join(r.Run.Faults, ", ")))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	l := &learner{rs: rs, pairs: map[[2]int][]*classStat{}}
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			l.pairs[[2]int{i, j}] = classStats(rs[i], rs[j])
		}
	}
	return l, nil
}

// noise learns the floors from every run but those in leave (by run ID).
func (l *learner) noise(leave map[string]bool) (*Noise, error) {
	var keep []int
	for i, r := range l.rs {
		if !leave[r.Run.ID] {
			keep = append(keep, i)
		}
	}
	if len(keep) < 3 {
		return nil, fmt.Errorf("learning noise floors takes 3 runs of the same plan at least, got %d", len(keep))
	}
	r0 := l.rs[keep[0]]
	n := &Noise{Schema: NoiseSchema, Scenario: r0.Scenario.Name, Plan: planOf(r0), Fingerprint: r0.Env.Fingerprint,
		MeasureCode: r0.Run.MeasureCode}
	for _, i := range keep {
		n.Runs = append(n.Runs, l.rs[i].Run.ID)
	}
	type acc struct {
		stat, rel, point []float64
		tol              float64
		pairs            int
		time             bool
	}
	accs := map[[2]string]*acc{}
	for x, i := range keep {
		for _, j := range keep[x+1:] {
			for _, c := range l.pairs[[2]int{i, j}] {
				k := [2]string{c.Driver, c.Class}
				a := accs[k]
				if a == nil {
					a = &acc{time: c.time}
					accs[k] = a
				}
				a.pairs++
				if c.time {
					a.stat = append(a.stat, c.Stat)
					if c.hasFloor {
						a.rel = append(a.rel, c.RelStat)
					}
					a.point = append(a.point, c.points...)
				} else {
					// From nothing to something is an unbounded deviation: it counts as 100%,
					// far beyond what is gated (JSON holds no infinity).
					a.tol = max(a.tol, min(math.Abs(c.Stat), 1))
				}
			}
		}
	}
	for k, a := range accs {
		c := Class{Driver: k[0], Class: k[1], Pairs: a.pairs, Runs: len(keep)}
		if a.time {
			c.Sigma, c.RelSigma, c.PointSigma = rms(a.stat), rms(a.rel), rms(a.point)
			c.Largest, c.LargestRel = largest(a.stat, tailKeep), largest(a.rel, tailKeep)
		} else {
			c.Tol = a.tol
		}
		n.Classes = append(n.Classes, c)
	}
	sort.Slice(n.Classes, func(i, j int) bool {
		a, b := n.Classes[i], n.Classes[j]
		if a.Driver != b.Driver {
			return a.Driver < b.Driver
		}
		return a.Class < b.Class
	})
	return n, nil
}

func rms(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x * x
	}
	return math.Sqrt(s / float64(len(xs)))
}

// classStat is one driver's class in a comparison of two runs.
type classStat struct {
	Driver, Class string
	// Stat is the median over the points of ln(new/base); RelStat the same of each point's ratio to
	// its floor's ratio.
	Stat, RelStat float64
	hasFloor      bool
	time          bool
	points        []float64 // each point's ln(new/base) (a quantity's: its relative deviation)
	rel           []float64 // each point's log ratio against its floor's
	metrics       [][2]*result.Metric
	busy          bool // a point's samples were taken on a busy machine in either run
}

// classStats pairs base's and next's metrics point by point and gathers them by driver and class.
func classStats(base, next *result.Result) []*classStat {
	nextBy := map[string]*result.Metric{}
	for i := range next.Metrics {
		nextBy[next.Metrics[i].Key()] = &next.Metrics[i]
	}
	bf, nf := floors(base), floors(next)
	by := map[[2]string]*classStat{}
	var order []*classStat
	for i := range base.Metrics {
		b := &base.Metrics[i]
		n := nextBy[b.Key()]
		if d, known := metric.Lookup(b.Name); n == nil || b.Driver == metric.FloorDriver || !known || d.Kind == metric.Derived {
			continue
		}
		mb, mn := stats.Summarize(b.Samples).Median, stats.Summarize(n.Samples).Median
		isTime := metric.IsTime(b.Name, b.Unit)
		var l float64
		switch {
		case isTime && (!(mb > 0) || !(mn > 0)):
			continue
		case isTime:
			l = math.Log(mn / mb)
		default:
			l = quantityChange(mb, mn, b.Unit) // a ratio's in points, a quantity's relative
		}
		k := [2]string{b.Driver, classOf(b)}
		c := by[k]
		if c == nil {
			c = &classStat{Driver: b.Driver, Class: k[1], time: isTime, hasFloor: true}
			by[k] = c
			order = append(order, c)
		}
		c.points = append(c.points, l)
		c.metrics = append(c.metrics, [2]*result.Metric{b, n})
		if busy(b) || busy(n) {
			c.busy = true
		}
		if c.time {
			fb, fn := bf.of(b), nf.of(n)
			if fb > 0 && fn > 0 {
				c.rel = append(c.rel, l-math.Log(fn/fb))
			} else {
				c.hasFloor = false
			}
		}
	}
	for _, c := range order {
		c.Stat = stats.Median(c.points)
		if c.time && c.hasFloor && len(c.rel) == len(c.points) {
			c.RelStat = stats.Median(c.rel)
		} else {
			c.hasFloor = false
		}
	}
	return order
}

// busy reports whether a metric's samples were taken while the machine was busy (the engine's
// warning).
func busy(m *result.Metric) bool {
	return m.HasWarning(result.WarnBusy) || m.HasWarning(result.WarnNoisy)
}

// floorSet holds a run's floor medians by floor metric.
type floorSet map[metric.ID][]*result.Metric

func floors(r *result.Result) floorSet {
	fs := floorSet{}
	for i := range r.Metrics {
		m := &r.Metrics[i]
		if m.Driver == metric.FloorDriver {
			fs[m.Name] = append(fs[m.Name], m)
		}
	}
	return fs
}

// of returns the median of m's floor: the floor metric's samples at the points that agree with m on
// every parameter both have (0 when the run has none).
func (fs floorSet) of(m *result.Metric) float64 {
	id := metric.FloorOf(m.Name, m.Params)
	if id == "" {
		return 0
	}
	var samples []float64
	for _, f := range fs[id] {
		agree := true
		for k, v := range f.Params {
			if mv, ok := m.Params[k]; ok && mv != v {
				agree = false
				break
			}
		}
		if agree {
			samples = append(samples, f.Samples...)
		}
	}
	return stats.Summarize(samples).Median
}

// ReadNoise reads a noise file.
func ReadNoise(path string) (*Noise, error) { return readJSON[Noise](path, "noise", NoiseSchema) }

// WriteNoise writes n to path as indented JSON.
func WriteNoise(path string, n *Noise) error { return writeJSON(path, "noise", n) }

// class returns the noise of driver's class, or nil.
func (n *Noise) class(driver, class string) *Class {
	if n == nil {
		return nil
	}
	i := sort.Search(len(n.Classes), func(i int) bool {
		c := n.Classes[i]
		return c.Driver > driver || c.Driver == driver && c.Class >= class
	})
	if i < len(n.Classes) && n.Classes[i].Driver == driver && n.Classes[i].Class == class {
		return &n.Classes[i]
	}
	return nil
}
