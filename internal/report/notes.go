package report

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// notes gathers the warnings of one section's cells into one note per cause, each naming the cells
// it applies to: a hundred cells with "high variance" make one note, not a hundred.
type notes struct {
	byKey map[string]*noteCause
	order []*noteCause
}

type noteCause struct {
	ref     int
	summary string
	// detail collects what varies between the cells (a CV, a load), shown as a range or a list.
	nums   []float64
	unit   string
	cells  []string
	single string // the warning itself, when one cell has it: shown whole
}

// causes are the kinds of warning a note gathers across cells: the key of the cause (kinds with one
// key share a note), its summary, and the pattern of the warning's text whose first submatch is the
// number that varies between cells (nil = none). A warning of another kind, or whose number the
// pattern does not find, is a note in its own words.
var causes = map[result.WarningKind]struct {
	key     string
	summary string
	num     *regexp.Regexp
	unit    string
}{
	result.WarnNoisy: {"noisy", "noisy machine: the load average was above the CPU count while these were measured",
		regexp.MustCompile(`^noisy machine: load ([0-9.]+) on`), "load "},
	result.WarnHighVariance: {"cv", "high variance: the samples' coefficient of variation is above 20%",
		regexp.MustCompile(`^high variance: CV ([0-9]+)%`), "CV %"},
	result.WarnNoInterval: {"few", fewSamples,
		regexp.MustCompile(`^need >= [0-9]+ samples for confidence interval.*\(interval shown is min\.\.max, ([0-9]+)% confidence\)`), "%"},
	result.WarnFewSamples: {"few", fewSamples, nil, ""},
	result.WarnRatioFew: {"ratiofew", "too few samples for the ratio's 95% interval: a bootstrap from fewer than 6 samples on a side reaches less than the level it aims at",
		regexp.MustCompile(`^few samples for the ratio's interval: ([0-9]+) on a side`), "fewest samples on a side: "},
	result.WarnEviction: {"evict", "eviction did not take: some of the file stayed in the page cache, so the sample is partly warm", nil, ""},
}

const fewSamples = "too few samples for a 95% interval: the interval shown is the samples' range, at the confidence their number allows"

// busyPressure finds the CPU pressure in a busy machine's warning.
var busyPressure = regexp.MustCompile(`^busy machine: CPU pressure ([0-9]+)%`)

// ref records warnings of the cell named cell and returns the marks to append to it: " [1]",
// " [1,3]", or "" without warnings. A busy machine is no cell's note: it is a property of the run,
// said once in its header (busyLine).
func (n *notes) ref(cell string, warnings []result.Warning) string {
	warnings = slices.DeleteFunc(slices.Clone(warnings), func(w result.Warning) bool { return w.Kind == result.WarnBusy })
	if len(warnings) == 0 {
		return ""
	}
	if n.byKey == nil {
		n.byKey = map[string]*noteCause{}
	}
	var refs []int
	for _, w := range warnings {
		key, summary, num, unit := w.Text, w.Text, "", ""
		if c, ok := causes[w.Kind]; ok {
			if c.num == nil {
				key, summary, unit = c.key, c.summary, c.unit
			} else if m := c.num.FindStringSubmatch(w.Text); m != nil {
				key, summary, num, unit = c.key, c.summary, m[1], c.unit
			}
		}
		c := n.byKey[key]
		if c == nil {
			c = &noteCause{ref: len(n.order) + 1, summary: summary, unit: unit, single: w.Text}
			n.byKey[key] = c
			n.order = append(n.order, c)
		}
		if v, err := strconv.ParseFloat(num, 64); err == nil {
			c.nums = append(c.nums, v)
		}
		if !slices.Contains(c.cells, cell) {
			c.cells = append(c.cells, cell)
		}
		if !slices.Contains(refs, c.ref) {
			refs = append(refs, c.ref)
		}
	}
	slices.Sort(refs)
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = strconv.Itoa(r)
	}
	return " [" + strings.Join(s, ",") + "]"
}

// maxNamedCells is how many cells a note names before it counts the rest.
const maxNamedCells = 4

// list returns the notes, numbered as the cells mark them.
func (n *notes) list() []Note {
	out := make([]Note, 0, len(n.order))
	for _, c := range n.order {
		text := c.summary
		if len(c.cells) == 1 && c.single != c.summary {
			text = c.single // one cell: its own words say more than the summary
		} else if len(c.nums) > 0 {
			lo, hi := slices.Min(c.nums), slices.Max(c.nums)
			r := strconv.FormatFloat(lo, 'f', -1, 64)
			if hi != lo {
				r += "–" + strconv.FormatFloat(hi, 'f', -1, 64)
			}
			before, after, _ := strings.Cut(c.unit, "%")
			if strings.Contains(c.unit, "%") {
				after = "%" + after
			}
			text += " (" + before + r + after + ")"
		}
		names := c.cells
		more := ""
		if len(names) > maxNamedCells {
			names, more = names[:maxNamedCells], fmt.Sprintf(" and %d more", len(c.cells)-maxNamedCells)
		}
		cells := "1 cell"
		if len(c.cells) > 1 {
			cells = fmt.Sprintf("%d cells", len(c.cells))
		}
		out = append(out, Note{Ref: c.ref, Text: fmt.Sprintf("%s. %s: %s%s", text, cells, strings.Join(names, "; "), more)})
	}
	return out
}

// busyLine says once for the run what a busy machine's warning would say on each cell: how many of
// the run's metrics were measured while tasks waited for a CPU, how hard, and during what. "" when
// none was.
func busyLine(r *result.Result) string {
	var pressures []float64
	var during []string
	busy, all := 0, 0
	for i := range r.Metrics {
		m := &r.Metrics[i]
		if m.Driver == metric.FloorDriver {
			continue
		}
		all++
		if !m.HasWarning(result.WarnBusy) {
			continue
		}
		busy++
		for _, w := range m.Warnings {
			if w.Kind != result.WarnBusy {
				continue
			}
			if p := busyPressure.FindStringSubmatch(w.Text); p != nil {
				v, _ := strconv.ParseFloat(p[1], 64)
				pressures = append(pressures, v)
			}
			if _, what, ok := strings.Cut(w.Text, ") during "); ok && !slices.Contains(during, what) {
				during = append(during, what)
			}
		}
	}
	if busy == 0 {
		return ""
	}
	s := fmt.Sprintf("busy machine: tasks waited for a CPU (PSI some avg10 above 20%%) while %d of the run's %d metrics were measured", busy, all)
	if len(pressures) > 0 {
		lo, hi := slices.Min(pressures), slices.Max(pressures)
		r := strconv.FormatFloat(lo, 'f', -1, 64) + "%"
		if hi != lo {
			r = strconv.FormatFloat(lo, 'f', -1, 64) + "–" + strconv.FormatFloat(hi, 'f', -1, 64) + "%"
		}
		s += " (CPU pressure " + r + ")"
	}
	if len(during) > 0 {
		more := ""
		if len(during) > maxNamedCells {
			during, more = during[:maxNamedCells], fmt.Sprintf(" and %d more", len(during)-maxNamedCells)
		}
		s += ", during " + strings.Join(during, ", ") + more
	}
	return s + ": their intervals are wider for it, and the gate leaves them out of its noise floors (said here once for the run, not on each cell)"
}
