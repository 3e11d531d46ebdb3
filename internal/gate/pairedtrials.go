package gate

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/seedbench/seedbench/internal/fault"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// PairedTrialsSchema identifies a paired-trials file: the paired gate, measured on this machine.
const PairedTrialsSchema = "seedbench/paired-trials/v1"

// PairedTrials is the paired gate measured over runs of one plan, each holding pairs of drivers
// (result.Pairs): a pair whose new side no fault names is an A/A trial (a false alarm when it would
// fail a build), a pair whose new side the run's faults slow (fault.Fault.Driver) a power trial for
// every class they slow.
type PairedTrials struct {
	Schema   string `json:"schema"`
	Scenario string `json:"scenario"`
	Command  string `json:"command"`
	Runs     int    `json:"runs"`
	// RunSeconds is the median wall time of a run: the machine time one paired verdict takes.
	RunSeconds  float64       `json:"run_seconds"`
	AAPairs     int           `json:"aa_pairs"`
	FalseAlarms int           `json:"false_alarms"`
	AlarmDetail []string      `json:"alarm_detail,omitempty"`
	Classes     []PairedTrial `json:"classes"`
	MinEffect   float64       `json:"min_effect"`
	Alpha       float64       `json:"alpha"`
	Spurious    int           `json:"spurious"` // regressions, in faulted pairs, of classes no fault slowed
	// WithSpread is the same trials with each class judged also against the A/A pairs' spread of
	// its ratio from run to run (Options.PairedSpread), learnt from the other runs.
	WithSpread *PairedTrials `json:"with_spread,omitempty"`
	// Between is the between-run gate measured on the same runs (BetweenRuns), one per slowed driver.
	Between []*Trials      `json:"between,omitempty"`
	byKey   map[string]int // class → index in Classes
}

// PairedTrial is one class over the trials.
type PairedTrial struct {
	Class string `json:"class"`
	// AA: A/A trials of the class, those whose interval held 1, and the median half-width of the
	// interval (relative: e^(width/2) − 1 on the log scale).
	AATrials  int           `json:"aa_trials"`
	AACovered int           `json:"aa_covered"`
	HalfWidth float64       `json:"half_width"`
	Pairs     int           `json:"pairs"` // median pairs of samples per trial
	Power     []PairedPower `json:"power"`
	widths    []float64
	pairs     []int
}

// PairedPower is a class's detection of one injected slowdown over its trials.
type PairedPower struct {
	Effect string `json:"effect"` // "+10%"
	Trials int    `json:"trials"`
	Caught int    `json:"caught"` // found as a regression
	// Covered: trials whose interval held the injected ratio.
	Covered int `json:"covered"`
}

// MeasurePairedTrials judges every declared pair of every run and counts what the gate did.
func MeasurePairedTrials(runs []*result.Result, opt Options) (*PairedTrials, error) {
	t, err := measurePaired(runs, opt, false)
	if err != nil {
		return nil, err
	}
	if t.WithSpread, err = measurePaired(runs, opt, true); err != nil {
		return nil, err
	}
	return t, nil
}

// measurePaired is MeasurePairedTrials with each class judged by the signed-rank test alone, or
// (withSpread) also against the A/A spread learnt from the other runs, never its own.
func measurePaired(runs []*result.Result, opt Options, withSpread bool) (*PairedTrials, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("trials: no runs")
	}
	t := &PairedTrials{Schema: PairedTrialsSchema, Scenario: runs[0].Scenario.Name, Runs: len(runs), Alpha: opt.alpha(), MinEffect: opt.minEffect(), byKey: map[string]int{}}
	est, err := aaEstimates(runs)
	if err != nil {
		return nil, fmt.Errorf("trials: %w", err)
	}
	var secs []float64
	for _, r := range runs {
		if r.Scenario.SHA256 != runs[0].Scenario.SHA256 {
			return nil, fmt.Errorf("trials: run %s is of another scenario file than %s: measure one plan", r.Run.ID, runs[0].Run.ID)
		}
		if len(r.Pairs) == 0 {
			return nil, fmt.Errorf("trials: run %s declares no pairs: its scenario needs pairs", r.Run.ID)
		}
		secs = append(secs, r.Run.Finished.Sub(r.Run.Started).Seconds())
		if t.Command == "" {
			t.Command = commandOf(r)
		}
		var faults []fault.Fault
		for _, spec := range r.Run.Faults {
			f, err := fault.Parse(spec)
			if err != nil {
				return nil, fmt.Errorf("trials: run %s: %w", r.Run.ID, err)
			}
			faults = append(faults, f)
		}
		for _, p := range r.Pairs {
			o := opt
			if withSpread {
				o.PairedSpread = spreads(est, map[string]bool{r.Run.ID: true})
			}
			rep, err := ComparePaired(r, p.Base, p.New, o)
			if err != nil {
				return nil, fmt.Errorf("trials: run %s: %w", r.Run.ID, err)
			}
			var mine []fault.Fault
			for _, f := range faults {
				if f.Driver == p.New {
					mine = append(mine, f)
				}
			}
			t.add(r.Run.ID, p, rep, mine)
		}
	}
	t.RunSeconds = stats.Median(secs)
	for i := range t.Classes {
		c := &t.Classes[i]
		if len(c.widths) > 0 {
			c.HalfWidth = math.Expm1(stats.Median(c.widths))
		}
		if len(c.pairs) > 0 {
			ps := make([]float64, len(c.pairs))
			for j, n := range c.pairs {
				ps[j] = float64(n)
			}
			c.Pairs = int(stats.Median(ps))
		}
		sort.Slice(c.Power, func(a, b int) bool { // +10% before +5%
			ea, eb := c.Power[a].Effect, c.Power[b].Effect
			return len(ea) > len(eb) || len(ea) == len(eb) && ea > eb
		})
	}
	sort.SliceStable(t.Classes, func(a, b int) bool { return t.Classes[a].Class < t.Classes[b].Class })
	return t, nil
}

// add counts one pair's comparison: an A/A trial when no fault slows its new side, else a power
// trial for each class the faults slow.
func (t *PairedTrials) add(run string, p result.Pair, rep *PairedReport, faults []fault.Fault) {
	if len(faults) == 0 {
		t.AAPairs++
		if n := rep.Regressions(); n > 0 {
			t.FalseAlarms++
			var cs []string
			for _, c := range rep.Classes {
				if c.Verdict == Regression {
					cs = append(cs, fmt.Sprintf("%s ×%.3f", c.Class, c.Ratio))
				}
			}
			t.AlarmDetail = append(t.AlarmDetail, fmt.Sprintf("%s, %s against %s: %v", run, p.New, p.Base, cs))
		}
	}
	for _, c := range rep.Classes {
		pt := t.class(c.Class)
		if len(faults) == 0 {
			pt.AATrials++
			if c.Lo <= 1 && 1 <= c.Hi {
				pt.AACovered++
			}
			if c.Lo > 0 && c.Hi > 0 {
				pt.widths = append(pt.widths, math.Log(c.Hi/c.Lo)/2)
			}
			pt.pairs = append(pt.pairs, c.Pairs)
			continue
		}
		effect, spec := 1.0, ""
		for _, f := range faults {
			if hits(f, ClassVerdict{Class: c.Class}) {
				effect *= 1 + f.Slow
				spec = f.Spec
			}
		}
		if spec == "" {
			if c.Verdict == Regression {
				t.Spurious++
			}
			continue
		}
		label := fmt.Sprintf("+%.0f%%", 100*(effect-1))
		i := slices.IndexFunc(pt.Power, func(pw PairedPower) bool { return pw.Effect == label })
		if i < 0 {
			pt.Power = append(pt.Power, PairedPower{Effect: label})
			i = len(pt.Power) - 1
		}
		pw := &pt.Power[i]
		pw.Trials++
		if c.Verdict == Regression {
			pw.Caught++
		}
		if c.Lo <= effect && effect <= c.Hi {
			pw.Covered++
		}
	}
}

func (t *PairedTrials) class(name string) *PairedTrial {
	i, ok := t.byKey[name]
	if !ok {
		t.Classes = append(t.Classes, PairedTrial{Class: name})
		i = len(t.Classes) - 1
		t.byKey[name] = i
	}
	return &t.Classes[i]
}

// commandOf is the command line of a run, without its output flags.
func commandOf(r *result.Result) string {
	var args []string
	for i := 1; i < len(r.Run.Args); i++ { // after the binary's own path
		switch a := r.Run.Args[i]; a {
		case "--out", "--results", "-o":
			i++
		default:
			args = append(args, a)
		}
	}
	return "seedbench " + strings.Join(args, " ")
}

// ReadPairedTrials reads a paired-trials file.
func ReadPairedTrials(path string) (*PairedTrials, error) {
	return readJSON[PairedTrials](path, "paired trials", PairedTrialsSchema)
}

// WritePairedTrials writes t as indented JSON.
func WritePairedTrials(path string, t *PairedTrials) error {
	return writeJSON(path, "paired trials", t)
}

// BetweenRuns measures the between-run gate on the same runs, for the same classes and faults: each
// run seen as one driver's run — the A/A pair's new driver (no fault names it), or one whose faults
// slow it — renamed as the pair's base, with the run's floors. Consecutive runs of the A/A driver
// are the false-alarm trials, each judged under floors learnt from the other runs; run i+1 of a
// slowed driver against run i of the A/A driver is a power trial. One Trials per slowed driver.
func BetweenRuns(runs []*result.Result, opt Options) ([]*Trials, error) {
	if len(runs) < 3 || len(runs[0].Pairs) == 0 {
		return nil, fmt.Errorf("trials: the between-run gate needs at least 3 runs with pairs")
	}
	base, aaDrv := runs[0].Pairs[0].Base, ""
	var slowed []string
	for _, p := range runs[0].Pairs {
		if len(faultsOn(runs[0], p.New)) == 0 {
			aaDrv = p.New
		} else {
			slowed = append(slowed, p.New)
		}
	}
	if aaDrv == "" {
		return nil, fmt.Errorf("trials: run %s has no A/A pair (a pair whose new driver no fault names)", runs[0].Run.ID)
	}
	var aa []*result.Result
	for _, r := range runs {
		aa = append(aa, driverView(r, aaDrv, base, nil))
	}
	var out []*Trials
	for _, s := range slowed {
		var faulted []*result.Result
		for _, r := range runs[1:] {
			faulted = append(faulted, driverView(r, s, base, faultsOn(r, s)))
		}
		tr, err := MeasureTrials(nil, aa, faulted, opt)
		if err != nil {
			return nil, fmt.Errorf("trials: between runs, %s: %w", s, err)
		}
		tr.Command = commandOf(runs[0])
		tr.Scenario += fmt.Sprintf(" between runs (%s of run i against %s of run i+1, each as %s)", aaDrv, s, base)
		out = append(out, tr)
	}
	return out, nil
}

// driverView is run r as a run of driver alone, named as, with the run's floors and faults (the
// specs that name driver, which the view no longer needs to).
func driverView(r *result.Result, driver, as string, faults []string) *result.Result {
	v := *r
	v.Run.ID = r.Run.ID + "/" + driver
	v.Run.Faults = nil
	for _, spec := range faults {
		v.Run.Faults = append(v.Run.Faults, strings.Replace(spec, ",driver="+driver, "", 1))
	}
	v.Pairs = nil
	v.Drivers = nil
	for _, d := range r.Drivers {
		if d.Name == driver {
			d.Name = as
			v.Drivers = append(v.Drivers, d)
		}
	}
	v.Metrics = nil
	for _, m := range r.Metrics {
		switch m.Driver {
		case driver:
			m.Driver = as
			v.Metrics = append(v.Metrics, m)
		case metric.FloorDriver:
			v.Metrics = append(v.Metrics, m)
		}
	}
	return &v
}
