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
)

// Verdicts, per class of times and per quantity.
type Verdict string

const (
	// Regression: significant after the false-discovery control, above the class's noise floor
	// and above the minimum effect, in the bad direction. The only verdict that fails a build.
	Regression Verdict = "regression"
	// Improvement: the same in the good direction.
	Improvement Verdict = "improvement"
	// Unchanged: within the minimum effect, or within the noise floor.
	Unchanged Verdict = "unchanged"
	// Inconclusive: a move larger than the minimum effect that the noise floor cannot tell from
	// noise (or a class no A/A runs measured).
	Inconclusive Verdict = "inconclusive"
	// Noisy: it would be a regression, but either run measured it on a busy machine, or, with
	// nothing tested changed, the same kind of measurement moved alike on most drivers (the machine
	// moved).
	Noisy Verdict = "noisy"
)

// Defaults of Options.
const (
	// DefaultAlpha is the false discovery rate the Benjamini–Hochberg procedure holds the time
	// classes of one comparison to; under A/A (no change anywhere) it bounds the chance of any
	// false alarm.
	DefaultAlpha = 0.05
	// DefaultMinEffect is the smallest slowdown a build fails on, however significant: 5%.
	DefaultMinEffect = 0.05
	// DefaultTol is a quantity's tolerance when no A/A runs learnt one: 0.5%.
	DefaultTol = 0.005
	// maxExactTol is the largest tolerance a quantity is gated with: one that varies more between A/A
	// runs is reported, not gated.
	maxExactTol = 0.10
	// A device's written bytes and flushes per step (io.write_bytes, io.flushes) repeat only
	// roughly: a journal commit or a snapshotter's metadata sync lands in one step or the next. A/A
	// runs on these machines moved them by up to 5% (flushes) and 26% (btrfs's writes at teardown):
	// they are judged within ioTol (or twice what A/A runs showed), beyond ioSlackBytes and
	// ioSlackFlushes, and not gated when A/A runs moved them by more than maxIOTol. Bytes a device
	// reads follow what the page cache held: reported, never gated.
	ioTol          = 0.30
	maxIOTol       = 0.50
	ioSlackBytes   = 1 << 20
	ioSlackFlushes = 4
	// ratioTol is a ratio's tolerance (disk or page cache saved by sharing, a trace's share of an
	// image), which is judged by its change in points: 0.01.
	ratioTol = 0.01
	// defaultSigma is a class's noise floor when no A/A runs learnt one: 15% on a log scale, the
	// upper end of what consecutive runs of the flagship moved by on these machines (lookups 2–7%,
	// copy-ups 10–15%, creates 8–33%). Classes judged with it say so.
	defaultSigma = 0.15
)

// Options tune Compare.
type Options struct {
	Noise     *Noise // learnt from A/A runs of the same plan (nil: defaults, said in the report)
	Alpha     float64
	MinEffect float64
	// Force compares runs the environment check calls incomparable.
	Force bool
	// PairedSpread, by class, is how far an A/A pair's ratio spreads from run to run
	// (PairedSpreads): a paired comparison also judges each class against it.
	PairedSpread map[string]Spread
}

// Report is a comparison of a new run with a base run.
type Report struct {
	Base RunID `json:"base"`
	New  RunID `json:"new"`
	// Tested are the environment fields that differ and are what a comparison tests (a kernel, a
	// containerd, a snapshotter, a driver's options); Incomparable those that make two runs not
	// comparable (a machine, a backing, a plan, the measuring code): Compare refuses them without
	// Force.
	Tested       []EnvDiff `json:"tested,omitempty"`
	Incomparable []EnvDiff `json:"incomparable,omitempty"`
	// Faults injected into either run (a trial of the gate, not a measurement).
	Faults []string `json:"faults,omitempty"`
	// Basis is what times are judged by: "floor-relative" (the same stack: a shift of the machine
	// cancels against the floors) or "absolute" (the stack differs, or a run has no floors).
	Basis      string            `json:"basis"`
	NoiseFrom  string            `json:"noise_from"`
	Alpha      float64           `json:"alpha"`
	MinEffect  float64           `json:"min_effect"`
	Classes    []ClassVerdict    `json:"classes"`
	Quantities []QuantityVerdict `json:"quantities"`
	Counts     map[Verdict]int   `json:"counts"`
	OnlyOne    int               `json:"only_in_one"` // metrics in one run only
	// Machine is set when the floors moved and the drivers with them: the machine or its kernel
	// changed under every driver (a verdict of its own, which a floor-relative judgement would
	// otherwise cancel into silence).
	Machine *MachineShift `json:"machine,omitempty"`
	// NoNoise is set when no A/A runs taught the floors: what compare cannot judge, and the fix.
	NoNoise string `json:"no_noise,omitempty"`
}

// MachineShift is a move of the whole machine between two runs: the floors' (the same syscalls on a
// plain filesystem, outside every driver) and the drivers' alike.
type MachineShift struct {
	Floor   float64 `json:"floor"`   // the median over the floor points of new ÷ base
	Drivers float64 `json:"drivers"` // the median over the classes of times of their absolute ratio
	Share   float64 `json:"share"`   // of the classes, those that moved beyond the minimum effect the floors' way
	Text    string  `json:"text"`
}

// RunID names a run in a report.
type RunID struct {
	ID      string `json:"id"`
	Started string `json:"started"`
}

// EnvDiff is one environment field that differs between the runs.
type EnvDiff struct {
	Field string `json:"field"`
	Base  string `json:"base"`
	New   string `json:"new"`
}

// ClassVerdict is one driver's class of times.
type ClassVerdict struct {
	Driver string `json:"driver"`
	Class  string `json:"class"`
	Better string `json:"better"`
	Points int    `json:"points"`
	// Ratio is exp of the class statistic on the basis judged (the median over the points of
	// new ÷ base, against the floor when floor-relative); Absolute and Floor are the plain ratio
	// and the floors' own.
	Ratio    float64 `json:"ratio"`
	Absolute float64 `json:"absolute"`
	Floor    float64 `json:"floor,omitempty"`
	// Sigma is the noise floor used (on a log scale), Df its degrees of freedom (0: the default).
	Sigma   float64 `json:"sigma"`
	Df      int     `json:"df"`
	P       float64 `json:"p"`
	Q       float64 `json:"q"` // the Benjamini–Hochberg adjusted p
	Verdict Verdict `json:"verdict"`
	Note    string  `json:"note,omitempty"`
	kind    string  // the metric in its cache mode (kindOf)
	busy    bool    // a busy machine measured it
}

// QuantityVerdict is one deterministic quantity.
type QuantityVerdict struct {
	Driver  string            `json:"driver"`
	Name    metric.ID         `json:"name"`
	Params  map[string]string `json:"params"`
	Unit    string            `json:"unit"`
	Better  string            `json:"better"`
	Base    float64           `json:"base"`
	New     float64           `json:"new"`
	Change  float64           `json:"change"` // relative; a ratio's in points (new − base)
	Tol     float64           `json:"tol"`
	Verdict Verdict           `json:"verdict"`
	Note    string            `json:"note,omitempty"`
}

// Regressions counts the regressions.
func (r *Report) Regressions() int { return r.Counts[Regression] }

// Compare judges next against base (see the package doc). It refuses, with an error naming the
// fields, runs the environment check calls incomparable, unless opt.Force.
func Compare(base, next *result.Result, opt Options) (*Report, error) {
	if opt.Alpha == 0 {
		opt.Alpha = DefaultAlpha
	}
	if opt.MinEffect == 0 {
		opt.MinEffect = DefaultMinEffect
	}
	rep := &Report{Base: runID(base), New: runID(next), Alpha: opt.Alpha, MinEffect: opt.MinEffect, Counts: map[Verdict]int{}}
	rep.Tested, rep.Incomparable = envDiff(base, next)
	if len(rep.Incomparable) > 0 && !opt.Force {
		var fs []string
		for _, d := range rep.Incomparable {
			fs = append(fs, fmt.Sprintf("%s (%s against %s)", d.Field, d.Base, d.New))
		}
		return rep, fmt.Errorf("the runs are not comparable: %s differ: run both on one kind of machine, with one plan and one build, or pass --force", strings.Join(fs, "; "))
	}
	for _, r := range []*result.Result{base, next} {
		for _, f := range r.Run.Faults {
			rep.Faults = append(rep.Faults, fmt.Sprintf("%s: %s", r.Run.ID, f))
		}
	}
	noise := opt.Noise
	switch {
	case noise == nil:
		rep.NoiseFrom = fmt.Sprintf("no A/A runs: every class at the default floor of %.0f%%", 100*math.Expm1(defaultSigma))
	case noise.Plan != planOf(next) || noise.Fingerprint != next.Env.Fingerprint:
		rep.NoiseFrom = "the noise file is of another plan or machine: ignored, every class at the default floor"
		noise = nil
	default:
		rep.NoiseFrom = fmt.Sprintf("%d A/A runs (%s)", len(noise.Runs), noise.Fingerprint)
	}
	rep.Basis = "absolute"
	if len(rep.Tested) == 0 {
		rep.Basis = "floor-relative"
	}

	for _, c := range classStats(base, next) {
		if !c.time {
			rep.Quantities = append(rep.Quantities, quantityVerdicts(c, noise)...)
			continue
		}
		v := ClassVerdict{Driver: c.Driver, Class: c.Class, Points: len(c.points), Better: c.metrics[0][0].Better,
			Absolute: math.Exp(c.Stat), Ratio: math.Exp(c.Stat), kind: kindOf(c.metrics[0][0]), busy: c.busy}
		stat := c.Stat
		nc := noise.class(c.Driver, c.Class)
		v.Sigma, v.Df = defaultSigma, 0
		if nc != nil {
			v.Sigma, v.Df = nc.Sigma, nc.Runs-1
		}
		if c.hasFloor {
			v.Floor = math.Exp(c.Stat - c.RelStat)
			if rep.Basis == "floor-relative" {
				stat, v.Ratio = c.RelStat, math.Exp(c.RelStat)
				if nc != nil && nc.RelSigma > 0 {
					v.Sigma = nc.RelSigma
				}
			}
		}
		if nc == nil {
			v.Note = "no A/A runs measured this class: judged at the default floor"
		}
		v.P = stats.TwoSidedP(stat, v.Sigma, v.Df)
		relative := c.hasFloor && rep.Basis == "floor-relative"
		if nc != nil {
			top := nc.Largest
			if relative {
				top = nc.LargestRel
			}
			if e := stats.TailP(stat, top, nc.Pairs); e > v.P {
				v.P = e
				v.Note = strings.TrimPrefix(v.Note+fmt.Sprintf("; A/A runs moved it as far in %.1f%% of pairs", 100*e), "; ")
			}
		}
		// A busy machine (CPU or I/O pressure while the samples were taken) does not slow a class
		// and its floor alike: A/A trials here moved warm lookups 6–11% against their floors while
		// the machine was busy. Such a move is noisy, not a regression.
		if c.busy {
			v.Note = strings.TrimPrefix(v.Note+"; a busy machine measured it", "; ")
		}
		rep.Classes = append(rep.Classes, v)
	}
	benjaminiHochberg(rep.Classes)
	for i := range rep.Classes {
		rep.Classes[i].Verdict = verdictOf(&rep.Classes[i], opt)
	}
	if len(rep.Tested) == 0 && slices.Equal(base.Run.Faults, next.Run.Faults) {
		machineWide(rep.Classes)
	}
	rep.Machine = machineShift(base, next, rep, opt)
	if noise == nil && opt.Noise == nil {
		rep.NoNoise = fmt.Sprintf("no noise file: every class is judged at the default floor of %.0f%%, not by this machine's own between-run noise, so a move smaller than about %.0f%% cannot be told from noise and a noisy class may alarm; "+
			"learn the floors from A/A runs of this plan on this kind of machine: seedbench run --repeat 10 SCENARIO.yaml --results DIR && seedbench noise DIR/*/*.json -o noise.json (beside BASE.json, or --noise FILE)",
			100*math.Expm1(defaultSigma), 100*math.Expm1(1.96*defaultSigma))
	}
	for i := range rep.Classes {
		rep.Counts[rep.Classes[i].Verdict]++
	}
	for _, q := range rep.Quantities {
		rep.Counts[q.Verdict]++
	}
	seen := map[string]bool{}
	for i := range base.Metrics {
		seen[base.Metrics[i].Key()] = true
	}
	for i := range next.Metrics {
		if k := next.Metrics[i].Key(); !seen[k] {
			rep.OnlyOne++
		} else {
			delete(seen, k)
		}
	}
	rep.OnlyOne += len(seen)
	sort.SliceStable(rep.Classes, func(i, j int) bool { return verdictRank(rep.Classes[i].Verdict) < verdictRank(rep.Classes[j].Verdict) })
	sort.SliceStable(rep.Quantities, func(i, j int) bool {
		return verdictRank(rep.Quantities[i].Verdict) < verdictRank(rep.Quantities[j].Verdict)
	})
	return rep, nil
}

// machineShift says whether the machine moved as a whole between base and next: the floors moved
// beyond the minimum effect, the median class of times moved the same way beyond it, and so did at
// least half of the classes. Then every floor-relative verdict is the drivers against a machine
// that changed, and the report says so first (a kernel upgraded under a nightly job).
func machineShift(base, next *result.Result, rep *Report, opt Options) *MachineShift {
	bf, nf := floors(base), floors(next)
	var fl []float64
	for id, ms := range nf {
		for _, n := range ms {
			for _, b := range bf[id] {
				if result.ParamsKey(b.Params) != result.ParamsKey(n.Params) {
					continue
				}
				mb, mn := stats.Summarize(b.Samples).Median, stats.Summarize(n.Samples).Median
				if mb > 0 && mn > 0 {
					fl = append(fl, math.Log(mn/mb))
				}
			}
		}
	}
	var cs []float64
	for _, c := range rep.Classes {
		if c.Absolute > 0 {
			cs = append(cs, math.Log(c.Absolute))
		}
	}
	if len(fl) == 0 || len(cs) == 0 {
		return nil
	}
	limit := math.Log1p(opt.MinEffect)
	f, d := stats.Median(fl), stats.Median(cs)
	if math.Abs(f) <= limit || math.Abs(d) <= limit || (f > 0) != (d > 0) {
		return nil
	}
	same := 0
	for _, l := range cs {
		if math.Abs(l) > limit && (l > 0) == (f > 0) {
			same++
		}
	}
	share := float64(same) / float64(len(cs))
	if share < 0.5 {
		return nil
	}
	ms := &MachineShift{Floor: math.Exp(f), Drivers: math.Exp(d), Share: share}
	what := "the machine or its kernel changed"
	for _, e := range rep.Tested {
		if e.Field == "kernel" {
			what = fmt.Sprintf("the kernel changed (%s → %s)", e.Base, e.New)
		}
	}
	ms.Text = fmt.Sprintf("%s: the floors moved ×%.3f and the drivers with them (median ×%.3f; %.0f%% of the classes of times moved beyond %.0f%% the same way)",
		what, ms.Floor, ms.Drivers, 100*share, 100*opt.MinEffect)
	return ms
}

func verdictRank(v Verdict) int {
	return slices.Index([]Verdict{Regression, Noisy, Improvement, Inconclusive, Unchanged}, v)
}

// benjaminiHochberg sets each class's Q: its p adjusted by the Benjamini–Hochberg step-up procedure
// over all the classes of the comparison.
//
// Why BH: under A/A no class changed, and then BH bounds the chance of any false alarm by alpha, as
// Holm does; when something does change, it moves a family of classes together (every driver's
// copy-ups, say), and BH's threshold grows with each discovery where Holm's shrinks, so it finds
// the family with far fewer runs. The classes are positively dependent (a machine that slows slows
// them all), which BH tolerates.
func benjaminiHochberg(cs []ClassVerdict) {
	ps := make([]float64, len(cs))
	for i := range cs {
		ps[i] = cs[i].P
	}
	for i, q := range stats.BenjaminiHochberg(ps, len(ps)) {
		cs[i].Q = q
	}
}

// quantityVerdicts judges each point of a quantity exactly: beyond the tolerance A/A runs showed
// (at least DefaultTol), a change is a regression or an improvement by the metric's direction.
func quantityVerdicts(c *classStat, noise *Noise) []QuantityVerdict {
	learnt := 0.0
	if nc := noise.class(c.Driver, c.Class); nc != nil {
		learnt = nc.Tol
	}
	var out []QuantityVerdict
	for i, pm := range c.metrics {
		b, n := pm[0], pm[1]
		tol, most, slack := quantityTol(b.Name, b.Unit, learnt)
		v := QuantityVerdict{Driver: b.Driver, Name: b.Name, Params: b.Params, Unit: b.Unit, Better: b.Better, Change: c.points[i], Tol: tol}
		if math.IsInf(v.Change, 0) {
			v.Change = math.Copysign(1e9, v.Change) // from nothing to something: JSON holds no infinity
		}
		if len(b.Samples) > 0 && len(n.Samples) > 0 {
			v.Base, v.New = b.Samples[0], n.Samples[0]
		}
		switch {
		case math.Abs(v.Change) <= tol || math.Abs(v.New-v.Base) <= slack:
			v.Verdict = Unchanged
		case b.Name == metric.IOReadBytes:
			v.Verdict = Inconclusive
			v.Note = "follows what the page cache held: reported, not gated"
		case learnt > most:
			v.Verdict = Inconclusive
			v.Note = fmt.Sprintf("varies by up to %.0f%% between A/A runs: not gated", 100*learnt)
		case (v.Change > 0) == (v.Better != metric.Higher):
			v.Verdict = Regression
		default:
			v.Verdict = Improvement
		}
		out = append(out, v)
	}
	return out
}

// quantityTol is how far a quantity may move and still be unchanged: tol (relative; a ratio's in
// points), beyond slack in its own unit, for learnt, twice the largest deviation A/A runs showed;
// most is the largest learnt deviation a quantity is gated at.
func quantityTol(name metric.ID, unit string, learnt float64) (tol, most, slack float64) {
	switch {
	case unit == metric.Ratio:
		return max(ratioTol, 2*learnt), maxExactTol, 0 // in points: a ratio near 0 has no relative change
	case name == metric.IOWriteBytes:
		return max(ioTol, 2*learnt), maxIOTol, ioSlackBytes
	case name == metric.IOFlushes:
		return max(ioTol, 2*learnt), maxIOTol, ioSlackFlushes
	}
	return max(DefaultTol, 2*learnt), maxExactTol, 0
}

// quantityChange is a quantity's change from a to b: in points for a ratio, relative otherwise
// (infinite from nothing to something).
func quantityChange(a, b float64, unit string) float64 {
	switch {
	case a == b:
		return 0
	case unit == metric.Ratio:
		return b - a
	case a == 0:
		return math.Copysign(math.Inf(1), b)
	}
	return (b - a) / math.Abs(a)
}

func runID(r *result.Result) RunID {
	return RunID{ID: r.Run.ID, Started: r.Run.Started.UTC().Format("2006-01-02T15:04:05Z")}
}

// machineWide marks noisy the regressions that are the machine's: with nothing tested changed
// between the runs (no kernel, containerd, snapshotter version or option, no injected fault), the
// software is the same, so a kind of measurement — a metric in one cache mode — that regresses on
// at least three drivers and on at least half of those measuring it moved with the machine, not
// with a driver. (A/A trials on the flagship here: two of the three pairs that went red did so on
// one kind at once — cold lookups ×1.41–1.46 on 4 of 5 drivers, warm lookups ×1.20–1.35 on 3 of 5.)
// A change in a tested field leaves every regression standing: then a move shared by every driver
// is what the comparison is for.
func machineWide(classes []ClassVerdict) {
	measured, regressed := map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, c := range classes {
		if measured[c.kind] == nil {
			measured[c.kind], regressed[c.kind] = map[string]bool{}, map[string]bool{}
		}
		measured[c.kind][c.Driver] = true
		if c.Verdict == Regression {
			regressed[c.kind][c.Driver] = true
		}
	}
	for i := range classes {
		c := &classes[i]
		if n, all := len(regressed[c.kind]), len(measured[c.kind]); c.Verdict == Regression && n >= 3 && 2*n >= all {
			c.Verdict = Noisy
			c.Note = strings.TrimPrefix(c.Note+fmt.Sprintf("; %s regressed on %d of %d drivers with nothing tested changed: the machine moved", c.kind, n, all), "; ")
		}
	}
}

// verdictOf judges a class from its ratio, its q and whether a busy machine measured it.
func verdictOf(v *ClassVerdict, opt Options) Verdict {
	worse := (v.Ratio > 1) == (v.Better != metric.Higher)
	effect := math.Abs(v.Ratio - 1)
	if v.Ratio < 1 {
		effect = math.Abs(1/v.Ratio - 1)
	}
	switch {
	case effect <= opt.MinEffect:
		return Unchanged
	case v.Q >= opt.Alpha:
		return Inconclusive
	case worse && v.busy:
		return Noisy
	case worse:
		return Regression
	}
	return Improvement
}

// kindOf is the kind of measurement m is: its metric in its cache mode ("op.lookup cache=cold").
func kindOf(m *result.Metric) string {
	if c, ok := m.Params[metric.PCache]; ok {
		return string(m.Name) + " " + metric.PCache + "=" + c
	}
	return string(m.Name)
}
