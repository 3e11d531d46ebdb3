package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/seedbench/seedbench/internal/gate"
)

// CompareDoc is a comparison as a report: what the environments differ in, what the times were
// judged by, then a row per class of times and per quantity whose verdict is not "unchanged" (all
// of them with all), and the counts.
func CompareDoc(rep *gate.Report, all bool) *Doc {
	d := &Doc{}
	head := &Section{Title: fmt.Sprintf("compare %s (base) with %s (new)", rep.Base.ID, rep.New.ID), Level: 1, Bullets: true}
	if rep.Machine != nil {
		head.Lines = append(head.Lines, "MACHINE: "+rep.Machine.Text)
	}
	if rep.NoNoise != "" {
		head.Lines = append(head.Lines, "NO NOISE FILE: "+strings.TrimPrefix(rep.NoNoise, "no noise file: "))
	}
	for _, e := range rep.Tested {
		head.Lines = append(head.Lines, fmt.Sprintf("tested: %s %s → %s", e.Field, e.Base, e.New))
	}
	for _, e := range rep.Incomparable {
		head.Lines = append(head.Lines, fmt.Sprintf("NOT COMPARABLE (forced): %s %s → %s", e.Field, e.Base, e.New))
	}
	for _, f := range rep.Faults {
		head.Lines = append(head.Lines, "fault injected on purpose (a trial of the gate, not a measurement): "+f)
	}
	basis := "times judged against the floors measured in the same rounds (the same stack: a shift of the whole machine cancels)"
	if rep.Basis == "absolute" {
		basis = "times judged as they are (the stack differs, or a run has no floors: the floors' own ratio is shown beside)"
	}
	head.Lines = append(head.Lines, basis,
		fmt.Sprintf("noise floors: %s; a regression needs a Benjamini–Hochberg q < %.2f over the classes and a move above %.0f%%",
			rep.NoiseFrom, rep.Alpha, 100*rep.MinEffect))
	d.Sections = append(d.Sections, head)

	t := &Table{Header: []string{"driver", "class", "points", "new/base", "absolute", "floor", "noise (1σ)", "q", "verdict"}, Key: 2}
	for _, c := range rep.Classes {
		if !all && c.Verdict == gate.Unchanged {
			continue
		}
		floor := "-"
		if c.Floor > 0 {
			floor = ratioText(c.Floor)
		}
		verdict := string(c.Verdict)
		if c.Note != "" {
			verdict += " (" + c.Note + ")"
		}
		t.Rows = append(t.Rows, []string{c.Driver, c.Class, fmt.Sprint(c.Points), ratioText(c.Ratio), ratioText(c.Absolute), floor,
			fmt.Sprintf("×/÷%.3f", math.Exp(c.Sigma)), fmt.Sprintf("%.3g", c.Q), verdict})
	}
	ts := &Section{Title: "times, by class", Level: 2}
	if len(t.Rows) > 0 {
		ts.Table = t
	} else {
		ts.Lines = []string{"every class unchanged"}
	}
	d.Sections = append(d.Sections, ts)

	d.Sections = append(d.Sections, quantitiesSection(rep.Quantities, all))

	d.Sections = append(d.Sections, countsSection(rep.Counts, len(rep.Classes), len(rep.Quantities), rep.OnlyOne, "in one run only"))
	return d
}

// countsSection is a comparison's last line: how many classes and quantities got each verdict, and
// how many metrics only one side had (onlyWhat says what that means).
func countsSection(n map[gate.Verdict]int, classes, quantities, only int, onlyWhat string) *Section {
	var counts []string
	for _, v := range []gate.Verdict{gate.Regression, gate.Noisy, gate.Improvement, gate.Inconclusive, gate.Unchanged} {
		counts = append(counts, fmt.Sprintf("%d %s", n[v], v))
	}
	line := fmt.Sprintf("%d classes of times and %d quantities: %s", classes, quantities, strings.Join(counts, ", "))
	if only > 0 {
		line += fmt.Sprintf("; %d metrics %s", only, onlyWhat)
	}
	return &Section{Lines: []string{line}}
}

// quantitiesSection is the table of the quantities judged exactly: those whose verdict is not
// "unchanged" (every one with all).
func quantitiesSection(vs []gate.QuantityVerdict, all bool) *Section {
	q := &Table{Header: []string{"driver", "metric", "params", "base", "new", "change", "verdict"}, Key: 3}
	for _, v := range vs {
		if !all && v.Verdict == gate.Unchanged {
			continue
		}
		verdict := string(v.Verdict)
		if v.Note != "" {
			verdict += " (" + v.Note + ")"
		}
		q.Rows = append(q.Rows, []string{v.Driver, string(v.Name), FormatParams(v.Params), FormatValue(v.Unit, v.Base), FormatValue(v.Unit, v.New),
			changeText(v), verdict})
	}
	qs := &Section{Title: "quantities (exact, within the A/A tolerance)", Level: 2}
	if len(q.Rows) > 0 {
		qs.Table = q
	} else {
		qs.Lines = []string{"every quantity unchanged"}
	}
	return qs
}

func ratioText(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "-"
	}
	return fmt.Sprintf("×%.3f", r)
}

// WriteCompareJSON writes a comparison as JSON (non-finite numbers as null).
func WriteCompareJSON(w io.Writer, rep *gate.Report) error { return writeIndented(w, rep) }

// WritePairedJSON writes paired comparisons as JSON.
func WritePairedJSON(w io.Writer, reps []*gate.PairedReport) error { return writeIndented(w, reps) }

func writeIndented(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// TrialsDoc is the gate measured on a machine, as a report: false alarms over A/A pairs, each
// injected fault's detection, and each family's floor, minimum detectable effect and the coverage
// of a re-run's interval.
func TrialsDoc(t *gate.Trials) *Doc {
	head := &Section{Title: "the regression gate, measured: " + t.Scenario, Level: 1, Bullets: true, Lines: []string{
		fmt.Sprintf("plan: `%s`", t.Command),
		trialsFloors(t),
		fmt.Sprintf("false alarms: %d of %d A/A pairs would have failed a build (exit 3)", t.FalseAlarms, t.AAPairs),
	}}
	head.Lines = append(head.Lines, t.AlarmDetail...)
	pw := &Table{Header: []string{"fault injected", "trials flagged", "only noisy", "classes caught", "regressions elsewhere"}, Key: 1}
	for _, p := range t.Faults {
		pw.Rows = append(pw.Rows, []string{"`" + p.Fault + "`", fmt.Sprintf("%d of %d (%.0f%%)", p.Flagged, p.Trials, pct100(p.Flagged, p.Trials)),
			fmt.Sprint(p.Noisy), fmt.Sprintf("%d of %d", p.Caught, p.Classes), fmt.Sprint(p.Spurious)})
	}
	power := &Section{Title: "detection power", Level: 2, Table: pw,
		After: []string{"a trial is flagged when a class the fault slows (or the quantity it grows) is a regression; only noisy: the fault's classes moved, but on a busy machine, which makes a move noisy, not a regression; classes caught counts them over every driver"}}
	ft := &Table{Header: []string{"family", "noise floor (1σ)", "smallest change flagged", "re-run interval coverage"}, Key: 1}
	for _, f := range t.Families {
		cov := "-"
		if f.Points > 0 {
			cov = fmt.Sprintf("%.0f%% of %d", pct100(f.Covered, f.Points), f.Points)
		}
		floor, mde := "-", "-"
		if f.Sigma > 0 {
			floor, mde = fmt.Sprintf("%.1f%%", 100*math.Expm1(f.Sigma)), fmt.Sprintf("%.0f%%", 100*f.MDE)
		}
		ft.Rows = append(ft.Rows, []string{f.Family, floor, mde, cov})
	}
	fams := &Section{Title: "noise floors by family", Level: 2, Table: ft, After: []string{
		"noise floor: the median over the family's drivers of the class statistic's spread between A/A runs (against the floors where they were measured)",
		"smallest change flagged: in one class alone, at the false discovery rate over every class (a family moving together is found sooner)",
		"re-run interval coverage: how often the next A/A run's median fell within a point's 95% interval for a re-run (aim: 90–98%)",
	}}
	return &Doc{Sections: []*Section{head, power, fams}}
}

// changeText shows a quantity's change: relative, or for a ratio in points.
func changeText(v gate.QuantityVerdict) string {
	if v.Unit == "ratio" {
		return fmt.Sprintf("%+.4f", v.Change)
	}
	return fmt.Sprintf("%+.2f%%", 100*v.Change)
}

// trialsFloors says what the trials' noise floors were learnt from.
func trialsFloors(t *gate.Trials) string {
	if t.AARuns == 0 {
		return fmt.Sprintf("noise floors learnt from %d A/A runs; the trials are other runs", len(t.LearnRuns))
	}
	return fmt.Sprintf("each comparison judged under noise floors learnt from the other A/A runs (%d in all: %d that only teach, and the other trials), never from a run it compares", t.AARuns, len(t.LearnRuns))
}

func pct100(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
