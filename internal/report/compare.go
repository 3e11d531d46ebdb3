package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"golang.org/x/perf/benchmath"

	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// Verdicts of a comparison.
const (
	VerdictSame   = "~"      // no significant difference
	VerdictBetter = "better" // significantly better
	VerdictWorse  = "worse"  // significantly worse: a regression
	VerdictNoTest = ""       // too few samples on one side to test (a single measurement)
)

// CompareAlpha is the significance level of the Mann-Whitney U test (benchstat's default).
const CompareAlpha = 0.05

// Comparison is one metric measured in two runs.
type Comparison struct {
	Driver  string            `json:"driver"`
	Name    string            `json:"name"`
	Unit    string            `json:"unit"`
	Params  map[string]string `json:"params"`
	Better  string            `json:"better"`
	Base    result.Summary    `json:"base"`
	New     result.Summary    `json:"new"`
	Ratio   float64           `json:"ratio"`  // new median / base median (NaN when base's is 0)
	P       float64           `json:"p"`      // Mann-Whitney U (benchmath AssumeNothing); 1 when untested
	Inside  bool              `json:"inside"` // one run's median lies inside the other's CI
	Verdict string            `json:"verdict"`
	Note    string            `json:"note,omitempty"`
}

// CompareSummary counts a comparison's verdicts over the metrics with 2 samples or more in both runs.
type CompareSummary struct {
	Tested  int  `json:"tested"`
	Inside  int  `json:"inside"`
	Same    int  `json:"same"`
	Better  int  `json:"better"`
	Worse   int  `json:"worse"`
	OnlyOne int  `json:"only_in_one"` // metrics measured in one run only
	SameEnv bool `json:"same_env"`    // both runs on one kind of machine (env fingerprint)
}

// Compare matches the metrics of base and next by driver, name and parameters. A metric is
// significantly better or worse when the U test rejects "same distribution" at CompareAlpha AND
// neither run's median lies inside the other's 95% CI (which holds the run's drift): a shift the
// test sees but that the machine's own wandering explains is not called a change. Comparisons are
// in base's metric order, then next's new metrics.
func Compare(base, next *result.Result) ([]Comparison, CompareSummary) {
	key := func(m *result.Metric) string { return m.Driver + "\x00" + m.Name + "\x00" + result.ParamsKey(m.Params) }
	nextBy := map[string]*result.Metric{}
	for i := range next.Metrics {
		nextBy[key(&next.Metrics[i])] = &next.Metrics[i]
	}
	sum := CompareSummary{SameEnv: base.Env.Fingerprint != "" && base.Env.Fingerprint == next.Env.Fingerprint}
	var cs []Comparison
	seen := map[string]bool{}
	for i := range base.Metrics {
		b := &base.Metrics[i]
		k := key(b)
		seen[k] = true
		n := nextBy[k]
		if n == nil || n.Summary.N == 0 || b.Summary.N == 0 {
			sum.OnlyOne++
			continue
		}
		c := compareMetric(b, n)
		if c.Verdict != VerdictNoTest {
			sum.Tested++
			if c.Inside {
				sum.Inside++
			}
			switch c.Verdict {
			case VerdictSame:
				sum.Same++
			case VerdictBetter:
				sum.Better++
			case VerdictWorse:
				sum.Worse++
			}
		}
		cs = append(cs, c)
	}
	for i := range next.Metrics {
		if !seen[key(&next.Metrics[i])] {
			sum.OnlyOne++
		}
	}
	return cs, sum
}

func compareMetric(b, n *result.Metric) Comparison {
	c := Comparison{Driver: b.Driver, Name: b.Name, Unit: b.Unit, Params: b.Params, Better: b.Better,
		Base: b.Summary, New: n.Summary, Ratio: math.NaN(), P: 1}
	if b.Summary.Median != 0 {
		c.Ratio = n.Summary.Median / b.Summary.Median
	}
	if b.Summary.N < 2 || n.Summary.N < 2 {
		c.Verdict = VerdictNoTest
		return c
	}
	in := func(v float64, s result.Summary) bool { return s.CILo <= v && v <= s.CIHi }
	c.Inside = in(n.Summary.Median, b.Summary) || in(b.Summary.Median, n.Summary)
	th := benchmath.DefaultThresholds
	cmp := benchmath.AssumeNothing.Compare(benchmath.NewSample(stats.Finite(b.Samples), &th), benchmath.NewSample(stats.Finite(n.Samples), &th))
	c.P = cmp.P
	if len(cmp.Warnings) > 0 {
		c.Note = cmp.Warnings[0].Error()
	}
	c.Verdict = VerdictSame
	if cmp.P < CompareAlpha && !c.Inside {
		higher := n.Summary.Median > b.Summary.Median
		if higher == (b.Better != "higher") {
			c.Verdict = VerdictWorse
		} else {
			c.Verdict = VerdictBetter
		}
	}
	return c
}

// CompareDoc is a comparison as a report: a warning when the machines differ, a row per metric whose
// verdict is not "~" when changesOnly (else every metric), and the summary line.
func CompareDoc(cs []Comparison, sum CompareSummary, changesOnly bool) *Doc {
	d := &Doc{}
	if !sum.SameEnv {
		d.Sections = append(d.Sections, &Section{Lines: []string{"warning: the runs come from different kinds of machine (env fingerprints differ): differences may be the machine's"}})
	}
	t := &Table{Header: []string{"metric", "params", "driver", "base", "new", "new/base", "verdict"}, Key: 3}
	for _, c := range cs {
		if changesOnly && (c.Verdict == VerdictSame || c.Verdict == VerdictNoTest) {
			continue
		}
		ratio := "-"
		if !math.IsNaN(c.Ratio) && !math.IsInf(c.Ratio, 0) && c.Unit != "ratio" {
			ratio = fmt.Sprintf("×%.2f", c.Ratio)
		}
		verdict := c.Verdict
		if verdict != VerdictNoTest {
			verdict += fmt.Sprintf(" (p=%.3f)", c.P)
		}
		bm := &result.Metric{Unit: c.Unit, Summary: c.Base}
		nm := &result.Metric{Unit: c.Unit, Summary: c.New}
		t.Rows = append(t.Rows, []string{c.Name, FormatParams(c.Params), c.Driver, Cell(bm), Cell(nm), ratio, verdict})
	}
	s := &Section{}
	if len(t.Rows) > 0 {
		s.Table = t
	} else if changesOnly {
		s.Lines = append(s.Lines, "no significant change")
	}
	pct := 0.0
	if sum.Tested > 0 {
		pct = 100 * float64(sum.Inside) / float64(sum.Tested)
	}
	line := fmt.Sprintf("%d metrics with 2+ samples in both runs: %d (%.0f%%) with one run's median inside the other's 95%% CI; "+
		"%d unchanged, %d better, %d worse (Mann-Whitney U p < %.2f and outside both CIs)",
		sum.Tested, sum.Inside, pct, sum.Same, sum.Better, sum.Worse, CompareAlpha)
	if sum.OnlyOne > 0 {
		line += fmt.Sprintf("; %d metrics in one run only", sum.OnlyOne)
	}
	d.Sections = append(d.Sections, s, &Section{Lines: []string{line}})
	return d
}

// WriteCompareJSON writes the comparisons and their summary as JSON.
func WriteCompareJSON(w io.Writer, cs []Comparison, sum CompareSummary) error {
	type cmpJSON struct {
		Comparison
		Ratio *float64 `json:"ratio"`
	}
	out := struct {
		Summary     CompareSummary `json:"summary"`
		Comparisons []cmpJSON      `json:"comparisons"`
	}{Summary: sum, Comparisons: []cmpJSON{}}
	for _, c := range cs {
		var r *float64
		if !math.IsNaN(c.Ratio) && !math.IsInf(c.Ratio, 0) {
			r = &c.Ratio
		}
		out.Comparisons = append(out.Comparisons, cmpJSON{Comparison: c, Ratio: r})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
