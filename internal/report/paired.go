package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/gate"
)

// PairedDoc is a paired comparison as a report: how the pair was measured, a row per class of
// times (the paired ratio with its interval, the unpaired ratio beside it) and per quantity whose
// verdict is not "unchanged" (all of them with all), and the counts.
func PairedDoc(reps []*gate.PairedReport, all bool) *Doc {
	d := &Doc{}
	for _, rep := range reps {
		head := &Section{Title: fmt.Sprintf("compare %s (new) with %s (base), paired, in run %s", rep.New, rep.Base, rep.Run.ID), Level: 1, Bullets: true}
		if rep.Declared {
			head.Lines = append(head.Lines, "the scenario paired them: every round measured the two one right after the other, in a random order")
		} else {
			head.Lines = append(head.Lines, "not a pair the scenario declared: sample i of each was taken in round i, but other drivers may have run between them")
		}
		for _, f := range rep.Faults {
			head.Lines = append(head.Lines, "fault injected on purpose (a trial of the gate, not a measurement): "+f)
		}
		if rep.Spread > 0 {
			head.Lines = append(head.Lines, fmt.Sprintf("each class judged also against how far its ratio spread between A/A pairs of other runs (up to %d pairs; Student's t): two instances of one driver differ by a few percent of their own", rep.Spread))
		}
		head.Lines = append(head.Lines, fmt.Sprintf("each class judged on ln(new ÷ base) of its pairs of samples: Wilcoxon's signed-rank test, a Benjamini–Hochberg q < %.2f over the classes, and a move above %.0f%%; the ratio is the Hodges–Lehmann estimate with its %.0f%% interval",
			rep.Alpha, 100*rep.MinEffect, 100*gate.PairedLevel))
		d.Sections = append(d.Sections, head)

		t := &Table{Header: []string{"class", "pairs", "new/base", "interval", "unpaired", "q", "verdict"}, Key: 1}
		ts := &Section{Title: "times, by class (paired)", Level: 2}
		refs := map[string]int{}
		busy := 0
		for _, c := range rep.Classes {
			if !all && c.Verdict == gate.Unchanged {
				continue
			}
			verdict := string(c.Verdict)
			var notes []string
			for _, n := range strings.Split(c.Note, "; ") {
				switch {
				case n == "":
				case n == "a busy machine measured it":
					busy++
				default:
					if refs[n] == 0 {
						refs[n] = len(ts.Notes) + 1
						ts.Notes = append(ts.Notes, Note{Ref: refs[n], Text: n})
					}
					notes = append(notes, strconv.Itoa(refs[n]))
				}
			}
			if len(notes) > 0 {
				verdict += " [" + strings.Join(notes, ",") + "]"
			}
			interval := fmt.Sprintf("[%.3f, %.3f]", c.Lo, c.Hi)
			if math.Abs(c.Level-gate.PairedLevel) > 0.005 {
				interval += fmt.Sprintf(" at %.0f%%", 100*c.Level)
			}
			t.Rows = append(t.Rows, []string{c.Class, fmt.Sprint(c.Pairs), ratioText(c.Ratio), interval, ratioText(c.Unpaired), fmt.Sprintf("%.3g", c.Q), verdict})
		}
		if busy > 0 {
			ts.After = append(ts.After, fmt.Sprintf("%d of these classes were measured while the machine was busy (CPU pressure), which slowed both sides of each round alike", busy))
		}
		ts.After = append(ts.After, fmt.Sprintf("pairs: pairs of samples (sample i of new and of base at a point, from round i); interval: %.0f%% unless said; unpaired: the median over the points of the ratio of medians, as between runs", 100*gate.PairedLevel))
		if len(t.Rows) > 0 {
			ts.Table = t
		} else {
			ts.Lines = []string{"every class unchanged"}
		}
		d.Sections = append(d.Sections, ts, quantitiesSection(rep.Quantities, all))
		d.Sections = append(d.Sections, countsSection(rep.Counts, len(rep.Classes), len(rep.Quantities), rep.OnlyOne, "of one driver only"))
	}
	return d
}

// PairedTrialsDoc is the paired gate measured on a machine, as a report: false alarms over the A/A
// pairs, and per class its interval's half-width and coverage under A/A, and the share of the
// injected slowdowns it caught.
func PairedTrialsDoc(t *gate.PairedTrials) *Doc {
	head := &Section{Title: "the paired regression gate, measured: " + t.Scenario, Level: 1, Bullets: true, Lines: []string{
		fmt.Sprintf("plan: `%s`, %d runs; a run takes %.0f s, and gives one paired verdict per pair", t.Command, t.Runs, t.RunSeconds),
		fmt.Sprintf("false alarms: %d of %d A/A pairs would have failed a build (exit 3)", t.FalseAlarms, t.AAPairs),
		fmt.Sprintf("regressions, in slowed pairs, of classes no fault slowed: %d", t.Spurious),
		fmt.Sprintf("a regression needs a Benjamini–Hochberg q < %.2f over the classes of a pair and a move above %.0f%%", t.Alpha, 100*t.MinEffect),
	}}
	head.Lines = append(head.Lines, t.AlarmDetail...)
	var effects []string
	for _, c := range t.Classes {
		for _, p := range c.Power {
			if !slices.Contains(effects, p.Effect) {
				effects = append(effects, p.Effect)
			}
		}
	}
	header := []string{"class", "pairs", "A/A half-width", "A/A coverage"}
	for _, e := range effects {
		header = append(header, e+" caught", e+" coverage")
	}
	tb := &Table{Header: header, Key: 1}
	for _, c := range t.Classes {
		if c.Pairs < 6 {
			continue // too few pairs per run for any test: listed below
		}
		row := []string{c.Class, fmt.Sprint(c.Pairs), fmt.Sprintf("%.1f%%", 100*c.HalfWidth), pctOf(c.AACovered, c.AATrials)}
		for _, e := range effects {
			i := slices.IndexFunc(c.Power, func(p gate.PairedPower) bool { return p.Effect == e })
			if i < 0 {
				row = append(row, "-", "-")
				continue
			}
			p := c.Power[i]
			row = append(row, pctOf(p.Caught, p.Trials), pctOf(p.Covered, p.Trials))
		}
		tb.Rows = append(tb.Rows, row)
	}
	var few []string
	for _, c := range t.Classes {
		if c.Pairs < 6 {
			few = append(few, fmt.Sprintf("%s (%d)", c.Class, c.Pairs))
		}
	}
	after := []string{
		"pairs: the median pairs of samples per run; A/A half-width: the median over the A/A pairs of the 95% interval's half-width (a move the interval cannot exclude); coverage: how often the interval held the true ratio (1 under A/A, the injected one else); caught: found as a regression",
	}
	if len(few) > 0 {
		after = append(after, "too few pairs per run for a test at 5%: "+strings.Join(few, ", "))
	}
	d := &Doc{Sections: []*Section{head, {Title: "detection by class", Level: 2, Table: tb, After: after}}}
	if w := t.WithSpread; w != nil {
		wd := PairedTrialsDoc(w)
		wd.Sections[0].Title = "the same runs, each class judged also against the A/A pairs' spread of its ratio from run to run (learnt from the other runs)"
		wd.Sections[0].Level = 2
		wd.Sections[0].Lines = wd.Sections[0].Lines[1:] // the plan, said above
		wd.Sections[1].Level = 3
		d.Sections = append(d.Sections, wd.Sections...)
	}
	for _, b := range t.Between {
		bd := TrialsDoc(b)
		for _, s := range bd.Sections {
			s.Level++
		}
		d.Sections = append(d.Sections, bd.Sections...)
	}
	return d
}

// pctOf is "n of total (p%)".
func pctOf(n, total int) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%d of %d (%.0f%%)", n, total, 100*float64(n)/float64(total))
}
