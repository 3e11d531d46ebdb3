package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// RESULTS.md is a Page: it opens with the answer — which driver to pick for what, each pick's
// median against overlayfs's in the same run with the ratio's interval — and the facts every run
// shares (the machine), then a table of contents, then every run's report in full, each section
// with an anchor the contents link to.

// PageEntry is one file behind a page: a result and its report, or a trials file's report alone
// (Result nil).
type PageEntry struct {
	Result *result.Result
	Doc    *Doc
}

// topic is a question a reader brings to the results, answered by one metric: at one point (the
// largest value of most), or over every point the drivers share (a build's layers, the network
// profiles of a pull), matched between drivers by their params.
type topic struct {
	what   string
	short  string
	name   metric.ID
	params map[string]string
	most   string
	// local: only drivers whose layers are all on the machine answer it (a remote snapshotter's
	// lazily pulled layers are not on its disk until read: its disk use is no answer to the question).
	local bool
}

var topics = []topic{
	{"create (rule 1): a new 4KiB file", "create", metric.OpCreate, map[string]string{metric.PSize: "4KiB"}, "", false},
	{"lookup (rule 2): stat, warm, deepest layer", "stat warm", metric.OpLookup,
		map[string]string{metric.PKind: metric.LookupHit, metric.PCache: metric.CacheWarm}, metric.PDepth, false},
	{"lookup (rule 2): stat, cold caches, deepest layer", "stat cold", metric.OpLookup,
		map[string]string{metric.PKind: metric.LookupHit, metric.PCache: metric.CacheCold}, metric.PDepth, false},
	{"copy-up (rule 3): first append to the largest lower file", "copy-up append", metric.CopyupLatency,
		map[string]string{metric.PHow: metric.HowAppend, metric.PWrite: metric.WriteFirst, metric.PCache: metric.CacheWarm}, metric.PSize, false},
	{"copy-up (rule 3): chmod of the largest lower file", "copy-up chmod", metric.CopyupLatency,
		map[string]string{metric.PHow: metric.HowChmod, metric.PWrite: metric.WriteFirst, metric.PCache: metric.CacheWarm}, metric.PSize, false},
	{"delete (rule 4): unlink a lower file (whiteout)", "unlink", metric.OpDelete, map[string]string{metric.PKind: metric.DeleteFile}, "", false},
	{"build: apply each layer of the image", "build", metric.LayerApply, nil, "", false},
	{"start a container: snapshot prepare", "prepare", metric.SnapshotPrepare, map[string]string{metric.PContainer: ""}, metric.PContainer, false},
	{"disk: images and every container, ÷ the unique layers", "disk", metric.DiskVsUnique, nil, metric.PContainers, true},
	{"memory: page cache when every container read the working set", "page cache", metric.PagecacheResident, nil, metric.PContainers, false},
	{"pull: until the container is ready, over the network profiles", "pull ready", metric.PullReady, nil, "", false},
	{"pull: until its workload is done, over the network profiles", "pull done", metric.PullDone, nil, "", false},
}

// points are driver d's metrics for t in r: the one at the largest value of t.most, or every one
// matching t's params (a param given as "" must be present, with any value).
func (t topic) points(r *result.Result, d string) []*result.Metric {
	params := map[string]string{}
	var present []string
	for k, v := range t.params {
		if v == "" {
			present = append(present, k)
		} else {
			params[k] = v
		}
	}
	var ms []*result.Metric
	for _, m := range r.Find(d, t.name, params) {
		if m.Summary.N == 0 || slices.ContainsFunc(present, func(k string) bool { return m.Params[k] == "" }) {
			continue
		}
		ms = append(ms, m)
	}
	if t.most == "" || len(ms) == 0 {
		return ms
	}
	best := ms[0]
	for _, m := range ms[1:] {
		if paramValue(t.most, m.Params[t.most]) > paramValue(t.most, best.Params[t.most]) {
			best = m
		}
	}
	return []*result.Metric{best}
}

// verdict is a driver's cost on a topic against the reference's, in one run.
type verdict struct {
	driver string
	ratio  stats.Ratio
	few    int // the fewest samples on a side, for a bootstrap's interval
}

// below is whether the driver measurably costs less than the reference: its ratio's interval is
// below 1 (for a quantity, which a repeat reproduces exactly, the ratio itself).
func (v verdict) below(quantity bool) bool {
	if quantity {
		return v.ratio.Ratio < 0.995
	}
	return v.ratio.Confidence > 0 && v.ratio.Hi < 1
}

func (v verdict) above(quantity bool) bool {
	if quantity {
		return v.ratio.Ratio > 1.005
	}
	return v.ratio.Confidence > 0 && v.ratio.Lo > 1
}

// answer is a topic answered from one run: every driver's verdict, cheapest first.
type answer struct {
	topic    topic
	entry    int
	ref      []*result.Metric
	verdicts []verdict
	quantity bool
}

// answerTopic answers t from the entry where the most drivers measured it beside the reference
// (the later on a tie): every driver's median as a multiple of the reference's, point by point.
func answerTopic(t topic, entries []PageEntry) *answer {
	var best *answer
	for i, e := range entries {
		r := e.Result
		if r == nil {
			continue
		}
		ref := t.points(r, Reference)
		if len(ref) == 0 {
			continue
		}
		a := &answer{topic: t, entry: i, ref: ref}
		if d, ok := metric.Lookup(t.name); ok {
			a.quantity = d.Kind == metric.Quantity
		}
		for _, dr := range r.Drivers {
			if dr.Name == Reference || dr.Status != result.StatusOK || (t.local && dr.Capabilities.Remote) {
				continue
			}
			var xa, xb [][]float64
			few := math.MaxInt
			for _, m := range t.points(r, dr.Name) {
				for _, b := range ref {
					if FormatParams(b.Params) == FormatParams(m.Params) {
						xa, xb = append(xa, m.Samples), append(xb, b.Samples)
						few = min(few, len(m.Samples), len(b.Samples))
					}
				}
			}
			if len(xa) == 0 {
				continue
			}
			rt := stats.MedianRatio(xa, xb, r.Run.ID+" "+dr.Name+" "+t.what)
			if math.IsNaN(rt.Ratio) {
				continue
			}
			a.verdicts = append(a.verdicts, verdict{driver: dr.Name, ratio: rt, few: few})
		}
		if len(a.verdicts) == 0 {
			continue
		}
		slices.SortStableFunc(a.verdicts, func(x, y verdict) int { return cmp.Compare(x.ratio.Ratio, y.ratio.Ratio) })
		if best == nil || len(a.verdicts) >= len(best.verdicts) {
			best = a
		}
	}
	return best
}

// refCell is the reference's figure for a topic: its cell at one point, the median over its points
// otherwise.
func (a *answer) refCell() string {
	if len(a.ref) == 1 {
		return Cell(a.ref[0])
	}
	return FormatValue(a.ref[0].Unit, sideMedian(a.ref)) + fmt.Sprintf(" (median of %d points)", len(a.ref))
}

// warnings are the warnings a verdict's ratio carries: a bootstrap from too few samples a side.
func (v verdict) warnings() []result.Warning {
	if v.ratio.Method == stats.RatioBootstrap && v.ratio.Confidence > 0 && v.few < ratioMinSamples {
		return []result.Warning{result.Warnf(result.WarnRatioFew, "few samples for the ratio's interval: %d on a side", v.few)}
	}
	return nil
}

// AnswerSection is the page's first table: for each topic, the driver to pick (the cheapest, when
// its interval is below overlayfs's median; overlayfs otherwise), its ratio, overlayfs's own figure,
// the costliest driver, and the run it comes from; then, for each pick, where it costs measurably
// more than overlayfs (the trade it makes). Nil when no entry answers any topic.
func AnswerSection(entries []PageEntry, anchors []string) *Section {
	var as []*answer
	for _, t := range topics {
		if a := answerTopic(t, entries); a != nil {
			as = append(as, a)
		}
	}
	if len(as) == 0 {
		return nil
	}
	var ns notes
	t := &Table{Header: []string{"for", "pick", "its median ÷ overlayfs's", "overlayfs", "costliest", "run"}, Key: 2, Left: 2}
	var picks []string
	for _, a := range as {
		cheapest, costliest := a.verdicts[0], a.verdicts[len(a.verdicts)-1]
		pick, vs := Reference, "no driver measurably cheaper; cheapest "+cheapest.driver+" "+RatioText(cheapest.ratio)
		if cheapest.above(a.quantity) {
			vs = "every other driver costs more; the least " + cheapest.driver + " " + RatioText(cheapest.ratio)
		}
		if cheapest.below(a.quantity) {
			pick, vs = "**"+cheapest.driver+"**", RatioText(cheapest.ratio)
			if !slices.Contains(picks, cheapest.driver) {
				picks = append(picks, cheapest.driver)
			}
		}
		vs += ns.ref(cheapest.driver+" "+a.topic.what, cheapest.warnings())
		worst := "-"
		if costliest.above(a.quantity) {
			worst = costliest.driver + " " + RatioText(costliest.ratio) + ns.ref(costliest.driver+" "+a.topic.what, costliest.warnings())
		}
		run := entryName(entries[a.entry].Result)
		if anchors != nil {
			run = "[" + run + "](#" + anchors[a.entry] + ")"
		}
		t.Rows = append(t.Rows, []string{a.topic.what, pick, vs, a.refCell(), worst, run})
	}
	s := &Section{Title: "which driver for what", Level: 1, Anchor: "answer", Table: t}
	s.Lines = []string{"Each pick is the driver whose median costs least against overlayfs's (containerd's default) in the run that measured the most drivers on it; " +
		"a pick needs its ratio's interval below ×1 (a byte count, which a repeat reproduces, its ratio alone); else overlayfs stays. " +
		"Ratios are of medians within one run, [lo, hi] their 95% bootstrap interval (over a build's layers or the network profiles: the interval over the points, at the level stated)."}
	for _, p := range picks {
		var costs []string
		for _, a := range as {
			for _, v := range a.verdicts {
				if v.driver == p && v.above(a.quantity) && v.ratio.Ratio >= 1.5 {
					costs = append(costs, a.topic.short+" "+RatioText(v.ratio))
				}
			}
		}
		if len(costs) > 0 {
			s.After = append(s.After, "**"+p+"** pays for it in: "+strings.Join(costs, ", "))
		}
	}
	s.Notes = ns.list()
	return s
}

// entryName names a result on a page: its scenario and when its run started.
func entryName(r *result.Result) string {
	name := r.Scenario.Name
	if name == "" {
		name = "(unnamed)"
	}
	if !r.Run.Started.IsZero() {
		name += ", " + r.Run.Started.UTC().Format("2006-01-02 15:04")
	}
	return name
}

// anchorOf makes s an anchor: lower case, letters and digits kept, every other run of characters
// one hyphen.
func anchorOf(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// Page is RESULTS.md: the title and how it was made (cmdline), the machine every run shares, which
// driver to pick for what, a table of contents, and then each entry's report, its sections
// anchored. The entries' docs are changed in place (titles of results name their run; anchors).
func Page(cmdline string, entries []PageEntry) *Doc {
	anchors := make([]string, len(entries))
	used := map[string]bool{"answer": true, "contents": true, "reading": true}
	unique := func(a string) string {
		base, n := a, 2
		for used[a] {
			a = fmt.Sprintf("%s-%d", base, n)
			n++
		}
		used[a] = true
		return a
	}
	for i, e := range entries {
		if len(e.Doc.Sections) == 0 {
			continue
		}
		head := e.Doc.Sections[0]
		if e.Result != nil {
			head.Title = entryName(e.Result)
		}
		anchors[i] = unique(anchorOf(head.Title))
		head.Anchor = anchors[i]
		for _, s := range e.Doc.Sections[1:] {
			if s.Title != "" {
				title, _, _ := strings.Cut(s.Title, ":")
				s.Anchor = unique(anchors[i] + "-" + anchorOf(title))
			}
		}
	}

	top := &Section{Title: "seedbench results", Level: 0, Lines: []string{
		"Which container storage driver to pick for what, measured on a real kernel with containerd's snapshotters; the answer first, then every run's tables. " +
			"Generated from the result files in results/published; regenerate with `make report`.",
	}}
	facts := &Section{Bullets: true, Lines: machineLines(entries)}
	if l := busyRunsLine(entries); l != "" {
		facts.Lines = append(facts.Lines, l)
	}
	d := &Doc{Sections: []*Section{top, facts}}
	if s := AnswerSection(entries, anchors); s != nil {
		d.Sections = append(d.Sections, s)
	}
	toc := &Section{Title: "contents", Level: 1, Anchor: "contents", Bullets: true}
	toc.Lines = append(toc.Lines, "[which driver for what](#answer) · [how to read the tables](#reading)")
	for i, e := range entries {
		if anchors[i] == "" {
			continue
		}
		var subs []string
		for _, s := range e.Doc.Sections[1:] {
			if s.Anchor != "" && s.Level == 2 {
				title, _, _ := strings.Cut(s.Title, ":")
				subs = append(subs, "["+title+"](#"+s.Anchor+")")
			}
		}
		line := "[" + e.Doc.Sections[0].Title + "](#" + anchors[i] + ")"
		if len(subs) > 0 {
			line += ": " + strings.Join(subs, " · ")
		}
		toc.Lines = append(toc.Lines, line)
	}
	d.Sections = append(d.Sections, toc, &Section{Title: "how to read the tables", Level: 1, Anchor: "reading", Lines: []string{
		"Generated by `" + cmdline + "`. Cells are medians with the confidence interval of the median from the run's samples, as [lo, hi] " +
			"(95%, or the level stated where too few samples reach it); other drivers' cells also give their median as a multiple of overlayfs's (×n); " +
			"[n] points to a note under the table, one note per cause naming the cells it applies to. CPU pressure on the machine is said once per run, in its header, not on each cell.",
	}})
	for _, e := range entries {
		d.Sections = append(d.Sections, e.Doc.Sections...)
	}
	return d
}

// machineLines name each machine the results ran on once (by environment fingerprint), with the
// runs it ran.
func machineLines(entries []PageEntry) []string {
	var fps []string
	runs := map[string][]string{}
	env := map[string]string{}
	for _, e := range entries {
		r := e.Result
		if r == nil {
			continue
		}
		fp := r.Env.Fingerprint
		if _, ok := env[fp]; !ok {
			fps = append(fps, fp)
			env[fp] = strings.TrimPrefix(envLine(r), "env: ")
		}
		runs[fp] = append(runs[fp], entryName(r))
	}
	var out []string
	for _, fp := range fps {
		which := fmt.Sprintf("%d runs", len(runs[fp]))
		switch {
		case len(fps) == 1:
			which = "every run below"
		case len(runs[fp]) == 1:
			which = "the run " + runs[fp][0]
		}
		out = append(out, "machine: "+env[fp]+" ("+which+")")
	}
	return out
}

// busyRunsLine says how many runs ran on a busy machine, once for the page.
func busyRunsLine(entries []PageEntry) string {
	busy, n := 0, 0
	for _, e := range entries {
		if e.Result == nil {
			continue
		}
		n++
		if busyLine(e.Result) != "" {
			busy++
		}
	}
	if busy == 0 {
		return ""
	}
	return fmt.Sprintf("busy machine: %d of the %d runs were measured in part while tasks waited for a CPU (the machine is shared with other work): each run's header says how much, once", busy, n)
}
