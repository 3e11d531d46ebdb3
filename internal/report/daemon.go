package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// A daemon driver measures a snapshotter inside a daemon (containerd's, reached over its socket);
// its DriverResult's Options name the in-process driver measuring the same snapshotter
// (InProcessOption). The report sets the two side by side, rule by rule, as ratios of medians with
// their intervals: what the daemon costs. Daemon drivers of one snapshotter and different daemon
// versions are set side by side too: what changed between the versions.

// InProcessOption is the driver option naming a daemon driver's in-process pair.
const InProcessOption = "in_process"

// ratioRule is a row of a comparison of two drivers (or a row per point): a metric's points whose
// params match (a value matches an equal one or a missing key; "*" any value of a key the point
// has), a row for each, or one row over them all when over names the key they differ in (the
// layers of a build, the containers).
type ratioRule struct {
	label  string
	name   metric.ID
	params map[string]string
	over   string
	fileOp bool // a file operation through the mount: where the daemon should cost nothing
}

var ratioRules = []ratioRule{
	{"snapshot prepare, container", metric.SnapshotPrepare, map[string]string{metric.PContainer: "*"}, metric.PContainer, false},
	{"snapshot prepare, build", metric.SnapshotPrepare, map[string]string{metric.PLayer: "*"}, metric.PLayer, false},
	{"snapshot commit, container", metric.SnapshotCommit, map[string]string{metric.PContainer: "*"}, metric.PContainer, false},
	{"snapshot commit, build", metric.SnapshotCommit, map[string]string{metric.PLayer: "*"}, metric.PLayer, false},
	{"snapshot mount, container", metric.SnapshotMount, map[string]string{metric.PContainer: "*"}, metric.PContainer, false},
	{"snapshot mount, build", metric.SnapshotMount, map[string]string{metric.PLayer: "*"}, metric.PLayer, false},
	{"snapshot remove, container", metric.SnapshotRemove, map[string]string{metric.PContainer: "*"}, metric.PContainer, false},
	{"snapshot remove, image", metric.SnapshotRemove, map[string]string{metric.PLayer: "*"}, metric.PLayer, false},
	{"lookup", metric.OpLookup, map[string]string{metric.PKind: metric.LookupHit}, "", true},
	{"lookup miss", metric.OpLookup, map[string]string{metric.PKind: metric.LookupMiss}, "", true},
	{"create", metric.OpCreate, nil, "", true},
	{"delete", metric.OpDelete, nil, "", true},
	// The copy-up is the first write; a file from before the second write was timed has no write key.
	{"copy-up", metric.CopyupLatency, map[string]string{metric.PWrite: metric.WriteFirst}, "", true},
	{"read", metric.OpRead, nil, "", true},
}

// summaryRules are the rows of a comparison's summary: the snapshot calls, by label and over, and
// the file operations together.
var summaryRules = []struct{ label, over string }{
	{"snapshot prepare, container", metric.PContainer},
	{"snapshot prepare, build", metric.PLayer},
	{"snapshot commit, build", metric.PLayer},
	{"snapshot mount, container", metric.PContainer},
	{"snapshot remove, container", metric.PContainer},
}

func (ru *ratioRule) match(m *result.Metric) bool {
	if m.Name != ru.name {
		return false
	}
	for k, v := range ru.params {
		got, has := m.Params[k]
		if v == "*" && !has || v != "*" && has && got != v {
			return false
		}
	}
	return true
}

// ratioRow is a rule at a point, or over several: each side's metrics, point by point, and the
// ratio of A's medians to B's.
type ratioRow struct {
	rule  *ratioRule
	at    string
	a, b  []*result.Metric
	ratio stats.Ratio
}

// median is a side's median: the point's, or over several points the median of theirs.
func sideMedian(ms []*result.Metric) float64 {
	var vs []float64
	for _, m := range ms {
		vs = append(vs, m.Summary.Median)
	}
	return stats.Summarize(vs).Median
}

// ratioMinSamples is how many samples a side needs for a bootstrap's interval to reach about the
// 95% it aims at: as many as a median's own 95% interval needs.
const ratioMinSamples = 6

// warnings are the warnings of both sides' metrics, and the ratio's own: a bootstrap from fewer than
// ratioMinSamples samples on a side (which replaces the sides' own warnings of too few samples for
// their 95% intervals).
func (rw *ratioRow) warnings() []result.Warning {
	var ws []result.Warning
	fewest := math.MaxInt
	for _, m := range append(slices.Clone(rw.a), rw.b...) {
		fewest = min(fewest, m.Summary.N)
		for _, w := range m.Warnings {
			if w.Kind != result.WarnNoInterval && w.Kind != result.WarnFewSamples && !slices.Contains(ws, w) {
				ws = append(ws, w)
			}
		}
	}
	if rw.ratio.Method == stats.RatioBootstrap && rw.ratio.Confidence > 0 && fewest < ratioMinSamples {
		ws = append(ws, result.Warnf(result.WarnRatioFew, "few samples for the ratio's interval: %d on a side", fewest))
	}
	return ws
}

// compareDrivers sets driver a against driver b rule by rule: the rows, and the points left out for
// want of one side's data (a point measured on one side only is no ratio, and not a zero).
func compareDrivers(ms []*result.Metric, a, b string) (rows []*ratioRow, missing []string) {
	for i := range ratioRules {
		ru := &ratioRules[i]
		byPoint := map[string][2]*result.Metric{}
		var points []map[string]string
		var keys []string
		for _, m := range ms {
			side := slices.Index([]string{a, b}, m.Driver)
			if side < 0 || !ru.match(m) || m.Summary.N == 0 {
				continue
			}
			k := result.ParamsKey(m.Params)
			p, seen := byPoint[k]
			if !seen {
				points = append(points, m.Params)
				keys = append(keys, k)
			}
			if p[side] == nil {
				p[side] = m
			}
			byPoint[k] = p
		}
		if len(points) == 0 {
			continue
		}
		order := make([]int, len(points))
		for j := range order {
			order[j] = j
		}
		slices.SortStableFunc(order, func(x, y int) int { return compareParams(points[x], points[y]) })
		shown := shownParams(ru, points)
		var pooled *ratioRow
		var left []string
		for _, j := range order {
			p := byPoint[keys[j]]
			at := pointText(p, shown)
			if p[0] == nil || p[1] == nil {
				who := a
				if p[1] == nil {
					who = b
				}
				left = append(left, strings.TrimSpace(ru.label+" "+at)+": no samples from "+who)
				continue
			}
			if ru.over != "" {
				if pooled == nil {
					pooled = &ratioRow{rule: ru}
				}
				pooled.a, pooled.b = append(pooled.a, p[0]), append(pooled.b, p[1])
				continue
			}
			rw := &ratioRow{rule: ru, at: at, a: []*result.Metric{p[0]}, b: []*result.Metric{p[1]}}
			if rw.compute(a, b) {
				rows = append(rows, rw)
			} else {
				left = append(left, strings.TrimSpace(ru.label+" "+at)+": no positive median from "+b)
			}
		}
		if pooled != nil {
			n := len(pooled.a)
			pooled.at = "over " + strconv.Itoa(n) + " " + ru.over + "s"
			if n == 1 {
				pooled.at = pointText(pooled.a[0].Params, []string{ru.over})
			}
			if pooled.compute(a, b) {
				rows = append(rows, pooled)
				if len(left) > 0 { // the pooled row stands, over the points both sides have
					left = []string{fmt.Sprintf("%s: %d %ss measured on one side only (%s), left out of its row", ru.label, len(left), ru.over, strings.Join(left, "; "))}
				}
			} else {
				left = append(left, ru.label+": no positive median from "+b)
			}
		}
		missing = append(missing, left...)
	}
	return rows, missing
}

// compute sets the row's ratio; false when there is none (B's medians are not positive).
func (rw *ratioRow) compute(a, b string) bool {
	var sa, sb [][]float64
	var keys []string
	for i := range rw.a {
		sa, sb = append(sa, rw.a[i].Samples), append(sb, rw.b[i].Samples)
		keys = append(keys, result.PointKey(rw.a[i].Name, rw.a[i].Params))
	}
	rw.ratio = stats.MedianRatio(sa, sb, a+"÷"+b+"\x00"+strings.Join(keys, "\x00"))
	return !math.IsNaN(rw.ratio.Ratio)
}

// shownParams are the keys that tell a rule's points apart: those of its points less the ones its
// params fix and those with one value on every point (a single image, the stack's layer count).
func shownParams(ru *ratioRule, points []map[string]string) []string {
	values := map[string]map[string]bool{}
	present := map[string]int{}
	for _, p := range points {
		for k, v := range p {
			if values[k] == nil {
				values[k] = map[string]bool{}
			}
			values[k][v] = true
			present[k]++
		}
	}
	var keys []string
	for k, vs := range values {
		if _, fixed := ru.params[k]; fixed && ru.params[k] != "*" || k == ru.over {
			continue
		}
		if len(vs) > 1 || present[k] < len(points) {
			keys = append(keys, k)
		}
	}
	metric.SortKeys(keys)
	return keys
}

// pointText is the point's values of keys, "depth=3 cache=mount"; p is a pair of metrics or params.
func pointText(p any, keys []string) string {
	var params map[string]string
	switch v := p.(type) {
	case [2]*result.Metric:
		if v[0] != nil {
			params = v[0].Params
		} else {
			params = v[1].Params
		}
	case map[string]string:
		params = v
	}
	var parts []string
	for _, k := range keys {
		if v, ok := params[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

// RatioText formats a ratio with its interval, "×1.02 [0.98, 1.07]", and the interval's level when it
// is not 95%: "×11.6 [10.9, 12.3] 50%". Without an interval, the ratio alone; "-" without a ratio.
func RatioText(r stats.Ratio) string {
	if math.IsNaN(r.Ratio) || math.IsInf(r.Ratio, 0) {
		return "-"
	}
	s := "×" + ratioNumber(r.Ratio)
	if math.IsNaN(r.Lo) || math.IsNaN(r.Hi) || r.Confidence == 0 {
		return s
	}
	s += " [" + ratioNumber(r.Lo) + ", " + ratioNumber(r.Hi) + "]"
	if r.Confidence < stats.Confidence-0.005 {
		s += " " + strconv.FormatFloat(100*r.Confidence, 'f', 0, 64) + "%"
	}
	return s
}

// ratioNumber writes a ratio with 3 significant digits, and one below a tenth with 2: "0.012".
func ratioNumber(v float64) string {
	if a := math.Abs(v); a > 0 && a < 0.0995 {
		return strconv.FormatFloat(v, 'f', max(1-int(math.Floor(math.Log10(a))), 2), 64)
	}
	return sig3(v)
}

// daemonPair is a daemon driver and its in-process pair, both of which ran.
type daemonPair struct {
	daemon, inProcess *result.DriverResult
}

// daemonPairs finds r's daemon drivers that ran and their in-process pairs; notes say which daemon
// drivers have no pair to be set against. ok is false when r has no daemon driver that ran.
func daemonPairs(r *result.Result) (pairs []daemonPair, notes []string, ok bool) {
	byName := map[string]*result.DriverResult{}
	for i := range r.Drivers {
		if byName[r.Drivers[i].Name] == nil {
			byName[r.Drivers[i].Name] = &r.Drivers[i]
		}
	}
	for i := range r.Drivers {
		d := &r.Drivers[i]
		in := d.Options[InProcessOption]
		if in == "" || byName[d.Name] != d {
			continue
		}
		if d.Status != result.StatusOK {
			notes = append(notes, fmt.Sprintf("%s: %s, not compared", d.Name, statusText(d.Status)))
			continue
		}
		ok = true
		p := byName[in]
		switch {
		case p == nil:
			notes = append(notes, fmt.Sprintf("%s: its in-process pair %s is not in this run, so there is nothing to set it against (run both: --drivers %s,%s)", d.Name, in, in, d.Name))
		case p.Status != result.StatusOK:
			notes = append(notes, fmt.Sprintf("%s: its in-process pair %s %s, so there is nothing to set it against", d.Name, in, statusText(p.Status)))
		default:
			pairs = append(pairs, daemonPair{daemon: d, inProcess: p})
		}
	}
	return pairs, notes, ok
}

func statusText(status string) string {
	switch status {
	case result.StatusSkipped:
		return "was skipped"
	case result.StatusFailed:
		return "failed"
	case "":
		return "has no status"
	}
	return "is " + status
}

// daemonText names a daemon driver's daemon: "containerd v2.4.2, private /usr/bin/containerd".
func daemonText(d *result.DriverResult) string {
	var parts []string
	if d.Version != "" {
		parts = append(parts, d.Version)
	}
	if s := d.Options["socket"]; s != "" {
		parts = append(parts, "the daemon at "+s)
	} else if s := d.Options["daemon"]; s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// comparison is two drivers set against each other: A ÷ B, rule by rule. The heads name the sides
// in the columns of its table.
type comparison struct {
	a, b         string
	aHead, bHead string
	rows         []*ratioRow
	missing      []string
}

// daemonSections are the report's daemon sections, when r has daemon drivers that ran: each daemon
// driver against its in-process pair, and the daemons of one snapshotter in different versions
// against each other; the summaries, and as details a table per comparison.
func daemonSections(r *result.Result) (summaries, details []*Section) {
	pairs, notes, ok := daemonPairs(r)
	if !ok {
		return nil, nil
	}
	ms := summarized(r.Metrics)
	var cmps []comparison
	for _, p := range pairs {
		rows, missing := compareDrivers(ms, p.daemon.Name, p.inProcess.Name)
		cmps = append(cmps, comparison{p.daemon.Name, p.inProcess.Name, "daemon", "in process", rows, missing})
	}
	head := &Section{Title: "daemon versus in process", Level: 2, Lines: []string{
		"what the daemon costs: each daemon driver's median ÷ the median of the in-process driver measuring the same " +
			"snapshotter in the same run, with the ratio's 95% interval as [lo, hi] (an interval's level is shown beside it when below 95%)",
	}, Bullets: true}
	for _, p := range pairs {
		head.Lines = append(head.Lines, fmt.Sprintf("%s (%s) ÷ %s", p.daemon.Name, daemonText(p.daemon), p.inProcess.Name))
	}
	head.Lines = append(head.Lines, notes...)
	summaries = []*Section{head}
	if len(cmps) > 0 {
		head.Table, head.Notes, head.After = summaryTable(cmps, "daemon ÷ in process")
		for _, c := range cmps {
			details = append(details, comparisonSection(c, "daemon versus in process: "+c.a+" ÷ "+c.b))
		}
	}
	if vs, vd := versionSections(r, ms); vs != nil {
		summaries, details = append(summaries, vs), append(details, vd...)
	}
	return summaries, details
}

// versionSections set the daemon drivers of one snapshotter in different daemon versions against
// each other: the newest ÷ each older one, as daemonSections set a daemon against its pair. nil
// when no two versions of a snapshotter ran.
func versionSections(r *result.Result, ms []*result.Metric) (summary *Section, details []*Section) {
	type daemon struct {
		d   *result.DriverResult
		ver []int
	}
	groups := map[string][]daemon{}
	var order []string
	for i := range r.Drivers {
		d := &r.Drivers[i]
		if d.Options[InProcessOption] == "" || d.Status != result.StatusOK {
			continue
		}
		ver, ok := versionNumbers(d.Version)
		if !ok {
			continue
		}
		k := d.Options["snapshotter"] + "\x00" + d.Options[InProcessOption]
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], daemon{d, ver})
	}
	var cmps []comparison
	head := &Section{Title: "containerd versions", Level: 2, Bullets: true, Lines: []string{
		"what changed between daemon versions: the median of the newer daemon's driver ÷ the older's, on the same " +
			"snapshotter in the same run, with the ratio's 95% interval as [lo, hi]",
	}}
	for _, k := range order {
		g := groups[k]
		slices.SortStableFunc(g, func(x, y daemon) int { return slices.Compare(y.ver, x.ver) })
		newest := g[0]
		for _, old := range g[1:] {
			if slices.Equal(old.ver, newest.ver) {
				continue
			}
			rows, missing := compareDrivers(ms, newest.d.Name, old.d.Name)
			cmps = append(cmps, comparison{newest.d.Name, old.d.Name, newest.d.Version, old.d.Version, rows, missing})
			head.Lines = append(head.Lines, fmt.Sprintf("%s (containerd %s) ÷ %s (containerd %s), %s snapshotter",
				newest.d.Name, newest.d.Version, old.d.Name, old.d.Version, newest.d.Options["snapshotter"]))
		}
	}
	if len(cmps) == 0 {
		return nil, nil
	}
	head.Table, head.Notes, head.After = summaryTable(cmps, "newer ÷ older")
	for _, c := range cmps {
		details = append(details, comparisonSection(c, "containerd versions: "+c.a+" ÷ "+c.b))
	}
	return head, details
}

// versionNumbers reads a version's leading numbers: "v2.4.2" and "1.6.20~ds1" give [2 4 2] and
// [1 6 20]; false when it does not start with one.
func versionNumbers(v string) ([]int, bool) {
	v = strings.TrimPrefix(v, "v")
	var out []int
	for _, part := range strings.Split(v, ".") {
		end := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' })
		if end == 0 {
			break
		}
		if end < 0 {
			end = len(part)
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		out = append(out, n)
		if end < len(part) {
			break
		}
	}
	return out, len(out) > 0
}

// summaryTable is a row per summary rule and one for the file operations together, a column per
// comparison (named by its A driver), each cell A ÷ B; its legend says what the rows are over.
func summaryTable(cmps []comparison, what string) (*Table, []Note, []string) {
	t := &Table{Header: []string{"rule"}, Key: 1}
	for _, c := range cmps {
		t.Header = append(t.Header, c.a)
	}
	var ns notes
	over := map[string]int{} // the most points a row is over, by the key it is over
	for _, sr := range summaryRules {
		line := []string{sr.label}
		at := ""
		for _, c := range cmps {
			i := slices.IndexFunc(c.rows, func(rw *ratioRow) bool { return rw.rule.label == sr.label })
			if i < 0 {
				line = append(line, "-")
				continue
			}
			rw := c.rows[i]
			at = "yes"
			over[sr.over] = max(over[sr.over], len(rw.a))
			line = append(line, RatioText(rw.ratio)+ns.ref(c.a+" "+sr.label, rw.warnings()))
		}
		if at != "" {
			t.Rows = append(t.Rows, line)
		}
	}
	fileOps := []string{"file operations"}
	var points []int
	for _, c := range cmps {
		var ratios []float64
		for _, rw := range c.rows {
			if rw.rule.fileOp {
				ratios = append(ratios, rw.ratio.Ratio)
			}
		}
		points = append(points, len(ratios))
		if len(ratios) == 0 {
			fileOps = append(fileOps, "-")
			continue
		}
		fileOps = append(fileOps, RatioText(stats.PointRatios(ratios)))
	}
	var each []string
	for _, k := range []struct{ key, whose string }{{metric.PContainer, "the run's"}, {metric.PLayer, "the build's"}} {
		if n := over[k.key]; n > 0 {
			each = append(each, fmt.Sprintf("%s %d %ss", k.whose, n, k.key))
		}
	}
	overText := ""
	if len(each) > 0 {
		overText = "; a snapshot call's row is the median of its ratios over " + strings.Join(each, ", or over ")
	}
	after := []string{
		"each column: " + what + ", the median of the column's driver ÷ that of the driver it is set against (above), with its " +
			"interval" + overText + "; the tables after the checks give every rule and point",
	}
	if measured := slices.DeleteFunc(points, func(n int) bool { return n == 0 }); len(measured) > 0 {
		t.Rows = append(t.Rows, fileOps)
		after = append(after, "file operations: the median of the ratios of every lookup, create, delete, copy-up and read point ("+
			countText(measured)+" here), its interval by order statistics over them. A file operation runs on the kernel's mount "+
			"and crosses no daemon: a ratio away from ×1 is the two drivers' mounts or backings differing, or the machine moving "+
			"between them")
	}
	return t, ns.list(), after
}

// countText is a count, or the range of counts: "30", "29–30".
func countText(ns []int) string {
	lo, hi := slices.Min(ns), slices.Max(ns)
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return strconv.Itoa(lo) + "–" + strconv.Itoa(hi)
}

// comparisonSection is a comparison's table (a detail): a row per rule and point, each side's
// median, and A ÷ B with its interval.
func comparisonSection(c comparison, title string) *Section {
	t := &Table{Header: []string{"rule", "at", c.aHead, c.bHead, c.aHead + " ÷ " + c.bHead}, Key: 2}
	var ns notes
	for _, rw := range c.rows {
		unit := rw.a[0].Unit
		t.Rows = append(t.Rows, []string{rw.rule.label, rw.at, FormatValue(unit, sideMedian(rw.a)), FormatValue(unit, sideMedian(rw.b)),
			RatioText(rw.ratio) + ns.ref(strings.TrimSpace(rw.rule.label+" "+rw.at), rw.warnings())})
	}
	s := &Section{Title: title, Level: 3, Detail: true, Notes: ns.list()}
	if len(t.Rows) > 0 {
		s.Table = t
		s.After = append(s.After, fmt.Sprintf("%s: %s; %s: %s", c.aHead, c.a, c.bHead, c.b),
			"medians: over the samples of the point; over several layers or containers, the median of theirs",
			"ratio: the median of "+c.a+" ÷ that of "+c.b+", with its 95% interval as [lo, hi]: a percentile bootstrap, each driver's "+
				"samples resampled apart; a row over layers or containers is the median of their ratios, its interval by order "+
				"statistics over them when a point was measured once, at the level shown when it is below 95%")
	} else {
		s.Lines = []string{"no rule measured on both"}
	}
	if len(c.missing) > 0 {
		s.After = append(s.After, "left out, for want of one side's data: "+strings.Join(c.missing, "; "))
	}
	return s
}
