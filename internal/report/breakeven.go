package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// breakEven is what the break-even sweep measured (breakeven.done): per network and share read,
// each driver's metric; the full-pull driver the lazy ones are held against.
type breakEven struct {
	networks []string
	shares   []int
	full     string                                       // the first driver that is not a remote snapshotter
	lazy     []string                                     // the remote ones, in result order
	done     map[string]map[string]map[int]*result.Metric // network → driver → share
}

// newBreakEven collects r's breakeven.done points, or nil when the run has none or lacks either a
// full-pull or a lazy driver.
func newBreakEven(r *result.Result) *breakEven {
	b := &breakEven{done: map[string]map[string]map[int]*result.Metric{}}
	remote, ok := map[string]bool{}, map[string]bool{}
	for _, d := range r.Drivers {
		remote[d.Name] = d.Capabilities.Remote
		ok[d.Name] = d.Status != result.StatusSkipped && d.Status != result.StatusFailed
	}
	for _, m := range summarized(r.Metrics) {
		if m.Name != metric.BreakEvenDone || !ok[m.Driver] || m.Summary.N == 0 {
			continue
		}
		pct, err := strconv.Atoi(m.Params[metric.PReadPct])
		if err != nil {
			continue
		}
		net := m.Params[metric.PNetwork]
		if !slices.Contains(b.networks, net) {
			b.networks = append(b.networks, net)
		}
		if !slices.Contains(b.shares, pct) {
			b.shares = append(b.shares, pct)
		}
		if b.done[net] == nil {
			b.done[net] = map[string]map[int]*result.Metric{}
		}
		if b.done[net][m.Driver] == nil {
			b.done[net][m.Driver] = map[int]*result.Metric{}
		}
		b.done[net][m.Driver][pct] = m
	}
	for _, name := range driverOrder(r) {
		if !ok[name] || !slices.ContainsFunc(b.networks, func(n string) bool { return b.done[n][name] != nil }) {
			continue
		}
		if remote[name] {
			b.lazy = append(b.lazy, name)
		} else if b.full == "" {
			b.full = name
		}
	}
	if b.full == "" || len(b.lazy) == 0 {
		return nil
	}
	slices.Sort(b.shares)
	return b
}

// ratio is lazy's median ÷ the full pull's at (net, pct), with the interval the two medians'
// intervals bound it by ([lo_lazy ÷ hi_full, hi_lazy ÷ lo_full]; NaN ends when either has none).
func (b *breakEven) ratio(net, lazy string, pct int) (x, lo, hi float64, ok bool) {
	l, f := b.done[net][lazy][pct], b.done[net][b.full][pct]
	if l == nil || f == nil || f.Summary.Median <= 0 {
		return 0, 0, 0, false
	}
	x = l.Summary.Median / f.Summary.Median
	lo, hi = math.NaN(), math.NaN()
	if l.Summary.N >= 2 && f.Summary.N >= 2 {
		llo, lhi := l.Summary.SampleCI()
		flo, fhi := f.Summary.SampleCI()
		if fhi > 0 && flo > 0 {
			lo, hi = llo/fhi, lhi/flo
		}
	}
	return x, lo, hi, true
}

// crossing is the share at which lazy's median start-done time reaches the full pull's over net:
// interpolated (in log share) between the last share where lazy is faster and the next; "below
// N%" when it is slower at the smallest share, "never (×R at N%)" when it is faster at every one.
func (b *breakEven) crossing(net, lazy string) string {
	var prevPct int
	var prevX float64
	seen := false
	for _, pct := range b.shares {
		x, _, _, ok := b.ratio(net, lazy, pct)
		if !ok {
			continue
		}
		if x >= 1 {
			if !seen {
				return fmt.Sprintf("below %d%% (×%.2f there)", pct, x)
			}
			// log-linear interpolation of log(ratio) against log(share)
			l0, l1 := math.Log(float64(prevPct)), math.Log(float64(pct))
			y0, y1 := math.Log(prevX), math.Log(x)
			s := math.Exp(l0 + (0-y0)*(l1-l0)/(y1-y0))
			out := fmt.Sprintf("%.0f%% (between %d%% and %d%%)", s, prevPct, pct)
			var again []string
			for _, later := range b.shares {
				if x, _, _, ok := b.ratio(net, lazy, later); ok && later > pct && x < 1 {
					again = append(again, fmt.Sprintf("%d%%", later))
				}
			}
			if len(again) > 0 {
				out += "; faster again at " + strings.Join(again, ", ") + ": within the noise"
			}
			return out
		}
		prevPct, prevX, seen = pct, x, true
	}
	if !seen {
		return "-"
	}
	return fmt.Sprintf("never: ×%.2f at %d%%", prevX, prevPct)
}

// breakEvenSections are the break-even map: start-done time against the share of the image the
// start reads, per network, the full pull beside each lazy loader (with its ratio), and the share
// at which each lazy loader stops winning.
func breakEvenSections(r *result.Result) []*Section {
	b := newBreakEven(r)
	if b == nil {
		return nil
	}
	header := []string{"network", "share read", b.full + " (full pull)"}
	for _, l := range b.lazy {
		header = append(header, l, l+" ÷ "+b.full)
	}
	t := &Table{Header: header, Key: 2}
	for _, net := range b.networks {
		for _, pct := range b.shares {
			row := []string{net, fmt.Sprintf("%d%%", pct), cellOf(b.done[net][b.full][pct])}
			for _, l := range b.lazy {
				row = append(row, cellOf(b.done[net][l][pct]))
				x, lo, hi, ok := b.ratio(net, l, pct)
				switch {
				case !ok:
					row = append(row, "-")
				case math.IsNaN(lo):
					row = append(row, fmt.Sprintf("×%.2f", x))
				default:
					row = append(row, fmt.Sprintf("×%.2f [%.2f, %.2f]", x, lo, hi))
				}
			}
			t.Rows = append(t.Rows, row)
		}
	}
	ct := &Table{Header: append([]string{"network"}, b.lazy...), Key: 1}
	for _, net := range b.networks {
		row := []string{net}
		for _, l := range b.lazy {
			row = append(row, b.crossing(net, l))
		}
		ct.Rows = append(ct.Rows, row)
	}
	return []*Section{
		{Title: "Break-even: start done against the share of the image read", Level: 2, Anchor: "break-even", Table: t,
			Lines: []string{"A node that never had the image pulls it and reads a share of its bytes (whole files, picked by the seed): " +
				"breakeven.done, median [its interval from the samples, 95% where n allows]; the ratio's interval is bounded by the two " +
				"medians' intervals. One sample has no interval."}},
		{Title: "Break-even: the share at which each lazy loader stops winning", Level: 2, Anchor: "break-even-crossing", Table: ct,
			Lines: []string{"Where the lazy loader's median start-done time reaches the full pull's (" + b.full + "), interpolated in log share " +
				"between the shares measured; it moves with the noise of the two medians there (see the ratios' intervals above)."}},
	}
}

// cellOf is Cell, or "-" for an absent metric.
func cellOf(m *result.Metric) string {
	if m == nil {
		return "-"
	}
	return Cell(m)
}

// pagesSection holds each traced start's page-level bytes (trace.page_bytes, readahead off, and with
// readahead) against its whole-file count (trace.bytes, an mmap whole) and what each lazy driver
// fetched for the same start (pull.fetched_bytes, median over its networks' pulls): fetched ÷ touched.
func pagesSection(r *result.Result) *Section {
	ms := summarized(r.Metrics)
	find := func(driver string, id metric.ID, tr string) []*result.Metric {
		var out []*result.Metric
		for _, m := range ms {
			if m.Name == id && m.Params[metric.PTrace] == tr && (driver == "" || m.Driver == driver) && m.Summary.N > 0 {
				out = append(out, m)
			}
		}
		return out
	}
	var traces []string
	for _, m := range ms {
		if m.Name == metric.TracePageBytes && !slices.Contains(traces, m.Params[metric.PTrace]) {
			traces = append(traces, m.Params[metric.PTrace])
		}
	}
	if len(traces) == 0 {
		return nil
	}
	var lazy []string
	for _, d := range r.Drivers {
		if d.Capabilities.Remote && d.Status != result.StatusSkipped && d.Status != result.StatusFailed {
			lazy = append(lazy, d.Name)
		}
	}
	header := []string{"trace", "files (an mmap whole)", "pages, readahead off", "pages, with readahead", "pages ÷ image"}
	for _, l := range lazy {
		header = append(header, l+" fetched", l+" fetched ÷ pages")
	}
	t := &Table{Header: header, Key: 1}
	first := func(ms []*result.Metric) *result.Metric {
		if len(ms) == 0 {
			return nil
		}
		return ms[0]
	}
	for _, tr := range traces {
		pages := first(find("", metric.TracePageBytes, tr))
		row := []string{tr, cellOf(first(find("", metric.TraceBytes, tr))), cellOf(pages),
			cellOf(first(find("", metric.TracePageRA, tr))), cellOf(first(find("", metric.TracePageShare, tr)))}
		for _, l := range lazy {
			f := first(find(l, metric.PullFetched, tr))
			row = append(row, cellOf(f))
			if f != nil && pages != nil && pages.Summary.Median > 0 {
				row = append(row, fmt.Sprintf("×%.2f", f.Summary.Median/pages.Summary.Median))
			} else {
				row = append(row, "-")
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return &Section{Title: "Pages, not files: what a start touches against what a lazy loader fetched", Level: 2, Anchor: "pages", Table: t,
		Lines: []string{"trace.bytes counts a mapped file whole; trace.page_bytes is the image's files' page cache after the start, " +
			"evicted before it, with readahead off (the pages the start read or faulted in), and with the filesystem's readahead " +
			"(what a node's page cache holds). Fetched is the registry's bytes until the replayed start was done (compressed, " +
			"with the TOCs and HTTP headers): a lazy loader fetches chunks, so it is above the pages touched."}}
}
