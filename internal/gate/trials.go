package gate

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/seedbench/seedbench/internal/fault"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// TrialsSchema identifies a trials file: what the gate did on this machine, measured.
const TrialsSchema = "seedbench/trials/v1"

// Trials is the gate measured on one machine: A/A runs compared pair by pair (false alarms, and how
// often a point's re-run interval covered the next run's median), then runs with faults injected
// compared with the A/A run before each (detection power), and each family's minimum detectable
// effect from its floors. Each comparison is judged under noise floors learnt from every other A/A
// run — the learning runs and the other trials — never from a run it compares (leave-out): as a
// nightly job judges each night by what the nights before it showed.
type Trials struct {
	Schema    string   `json:"schema"`
	Scenario  string   `json:"scenario"`
	Command   string   `json:"command"`
	LearnRuns []string `json:"learn_runs"`
	// AARuns is how many A/A runs the floors were learnt from in all (each trial leaves its own out).
	AARuns int `json:"aa_runs,omitempty"`
	// AA: consecutive A/A pairs compared; FalseAlarms: those that would have failed a build.
	AAPairs     int      `json:"aa_pairs"`
	FalseAlarms int      `json:"false_alarms"`
	AlarmDetail []string `json:"alarm_detail,omitempty"`
	Families    []Family `json:"families"`
	Faults      []Power  `json:"faults"`
}

// Family is one family of classes (a metric and mode over every driver).
type Family struct {
	Family string `json:"family"`
	// Coverage: of the points, how often the next A/A run's median fell within this run's 95%
	// re-run interval (median × e^(±1.96·PointSigma)).
	Covered int `json:"covered"`
	Points  int `json:"points"`
	// MDE is the median over the family's classes of the smallest change the gate flags: the
	// noise floor times the t quantile at alpha over the classes (Bonferroni's worst case: a
	// change in that class alone), or the minimum effect when that is larger.
	MDE float64 `json:"mde"`
	// Sigma is the median of its classes' floors (floor-relative where learnt).
	Sigma float64 `json:"sigma"`
}

// Power is one injected fault over its trials.
type Power struct {
	Fault    string `json:"fault"`
	Trials   int    `json:"trials"`
	Flagged  int    `json:"flagged"`  // trials in which the faulted family was a regression
	Noisy    int    `json:"noisy"`    // trials in which it was not, but moved on a busy machine (noisy)
	Classes  int    `json:"classes"`  // faulted classes over the trials
	Caught   int    `json:"caught"`   // of those, found as regressions
	Spurious int    `json:"spurious"` // regressions elsewhere
}

// familyOf names a class's family: its metric and mode, without the driver.
func familyOf(class string) string {
	parts := strings.Fields(class)
	var keep []string
	for _, p := range parts {
		if strings.HasPrefix(p, "how=") || strings.HasPrefix(p, "result=") {
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, " ")
}

// MeasureTrials compares aa's consecutive pairs and each faulted run with the A/A run before it
// (faulted[i] is compared with aa[i]), each under noise floors learnt from the A/A runs (learn and
// aa) other than the runs it compares.
func MeasureTrials(learn, aa, faulted []*result.Result, opt Options) (*Trials, error) {
	all := append(slices.Clone(learn), aa...)
	l, err := newLearner(all)
	if err != nil {
		return nil, err
	}
	noise, err := l.noise(nil)
	if err != nil {
		return nil, err
	}
	leaveOut := func(rs ...*result.Result) (Options, error) {
		leave := map[string]bool{}
		for _, r := range rs {
			leave[r.Run.ID] = true
		}
		n, err := l.noise(leave)
		o := opt
		o.Noise = n
		return o, err
	}
	tr := &Trials{Schema: TrialsSchema, AARuns: len(all)}
	for _, r := range learn {
		tr.LearnRuns = append(tr.LearnRuns, r.Run.ID)
	}
	if len(aa) > 0 {
		tr.Scenario = aa[0].Scenario.Name
		tr.Command = strings.Join(aa[0].Run.Args, " ")
	}
	ids := map[string]bool{}
	for _, r := range all {
		if ids[r.Run.ID] {
			return nil, fmt.Errorf("run %s is given twice", r.Run.ID)
		}
		ids[r.Run.ID] = true
	}
	fams := map[string]*Family{}
	fam := func(name string) *Family {
		if fams[name] == nil {
			fams[name] = &Family{Family: name}
		}
		return fams[name]
	}
	for i := 0; i+1 < len(aa); i++ {
		o, err := leaveOut(aa[i], aa[i+1])
		if err != nil {
			return nil, err
		}
		rep, err := Compare(aa[i], aa[i+1], o)
		if err != nil {
			return nil, err
		}
		tr.AAPairs++
		if rep.Regressions() > 0 {
			tr.FalseAlarms++
			for _, c := range rep.Classes {
				if c.Verdict == Regression {
					tr.AlarmDetail = append(tr.AlarmDetail, fmt.Sprintf("%s→%s: %s %s ×%.3f", aa[i].Run.ID, aa[i+1].Run.ID, c.Driver, c.Class, c.Ratio))
				}
			}
			for _, q := range rep.Quantities {
				if q.Verdict == Regression {
					tr.AlarmDetail = append(tr.AlarmDetail, fmt.Sprintf("%s→%s: %s %s %v %+.2f%%", aa[i].Run.ID, aa[i+1].Run.ID, q.Driver, q.Name, q.Params, 100*q.Change))
				}
			}
		}
		// Coverage of a re-run's interval, point by point.
		for _, c := range classStats(aa[i], aa[i+1]) {
			nc := o.Noise.class(c.Driver, c.Class)
			if !c.time || nc == nil {
				continue
			}
			f := fam(familyOf(c.Class))
			for _, l := range c.points {
				f.Points++
				if math.Abs(l) <= 1.96*nc.PointSigma {
					f.Covered++
				}
			}
		}
	}
	// The minimum detectable effect of each family, from its floors.
	m := 0
	for _, c := range noise.Classes {
		if c.Sigma > 0 {
			m++
		}
	}
	sig := map[string][]float64{}
	mde := map[string][]float64{}
	for _, c := range noise.Classes {
		if !(c.Sigma > 0) {
			continue
		}
		s := c.Sigma
		if c.RelSigma > 0 {
			s = c.RelSigma
		}
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(max(c.Runs-1, 1))}.Quantile(1 - opt.alpha()/float64(2*max(m, 1)))
		name := familyOf(c.Class)
		sig[name] = append(sig[name], s)
		mde[name] = append(mde[name], max(math.Expm1(t*s), opt.minEffect()))
	}
	for name := range sig {
		f := fam(name)
		f.Sigma, f.MDE = stats.Median(sig[name]), stats.Median(mde[name])
	}
	for _, f := range fams {
		tr.Families = append(tr.Families, *f)
	}
	sort.Slice(tr.Families, func(i, j int) bool {
		a, b := tr.Families[i].Family, tr.Families[j].Family
		if ra, rb := metric.Rank(metric.ID(strings.Fields(a)[0])), metric.Rank(metric.ID(strings.Fields(b)[0])); ra != rb {
			return ra < rb
		}
		return a < b
	})
	// Power.
	byFault := map[string]*Power{}
	var order []string
	for i, r := range faulted {
		if i >= len(aa) {
			return nil, fmt.Errorf("faulted run %s has no A/A run to be compared with (%d A/A runs)", r.Run.ID, len(aa))
		}
		if len(r.Run.Faults) == 0 {
			return nil, fmt.Errorf("run %s has no fault injected", r.Run.ID)
		}
		o, err := leaveOut(aa[i])
		if err != nil {
			return nil, err
		}
		rep, err := Compare(aa[i], r, o)
		if err != nil {
			return nil, err
		}
		var faults []fault.Fault
		for _, spec := range r.Run.Faults {
			f, err := fault.Parse(spec)
			if err != nil {
				return nil, err
			}
			faults = append(faults, f)
		}
		for _, f := range faults {
			p := byFault[f.Spec]
			if p == nil {
				p = &Power{Fault: f.Spec}
				byFault[f.Spec] = p
				order = append(order, f.Spec)
			}
			p.Trials++
			flagged, noisy := false, false
			hit := func(v Verdict) { // a class or quantity f moves
				p.Classes++
				if v == Regression {
					p.Caught++
					flagged = true
				}
				noisy = noisy || v == Noisy
			}
			for _, c := range rep.Classes {
				if hits(f, c) {
					hit(c.Verdict)
				} else if c.Verdict == Regression && !anyHits(faults, c) {
					p.Spurious++
				}
			}
			for _, q := range rep.Quantities {
				if hitsQuantity(f, q) {
					hit(q.Verdict)
				}
			}
			if flagged {
				p.Flagged++
			} else if noisy {
				p.Noisy++
			}
		}
	}
	for _, k := range order {
		tr.Faults = append(tr.Faults, *byFault[k])
	}
	return tr, nil
}

func (o Options) alpha() float64 {
	if o.Alpha == 0 {
		return DefaultAlpha
	}
	return o.Alpha
}

func (o Options) minEffect() float64 {
	if o.MinEffect == 0 {
		return DefaultMinEffect
	}
	return o.MinEffect
}

// hits reports whether a class is one fault f slows: its metric, and every parameter the fault
// names among the class's (a fault naming write=first hits the copy-up classes of first writes).
func hits(f fault.Fault, c ClassVerdict) bool {
	if f.Slow == 0 {
		return false
	}
	fields := strings.Fields(c.Class)
	name := metric.ID(fields[0])
	if family, ok := strings.CutSuffix(string(f.Metric), ".*"); ok {
		if metric.FamilyOf(name) != family {
			return false
		}
	} else if name != f.Metric {
		return false
	}
	for k, v := range f.Params {
		if !slices.Contains(fields, k+"="+v) {
			return false
		}
	}
	// A fault on the copy-ups of 1 MiB and more moves the classes of that size bucket.
	if f.MinSize >= 1<<20 && !slices.Contains(fields, "size>=1MiB") {
		return false
	}
	return true
}

// hitsQuantity reports whether a write fault moves q: the bytes its step writes.
func hitsQuantity(f fault.Fault, q QuantityVerdict) bool {
	return f.Bytes != 0 && q.Name == metric.IOWriteBytes && strings.HasPrefix(q.Params[metric.PStep], f.Step)
}

func anyHits(fs []fault.Fault, c ClassVerdict) bool {
	return slices.ContainsFunc(fs, func(f fault.Fault) bool { return hits(f, c) })
}

// ReadTrials reads a trials file.
func ReadTrials(path string) (*Trials, error) { return readJSON[Trials](path, "trials", TrialsSchema) }

// WriteTrials writes t to path as indented JSON.
func WriteTrials(path string, t *Trials) error { return writeJSON(path, "trials", t) }
