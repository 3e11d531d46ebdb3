package report

import (
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// rule is one line of the rules table: a labelled metric point. Among the metrics matching name and
// params, the one with the largest value of param `most` is taken (the bottom layer, the largest
// file, the most containers).
type rule struct {
	label  string
	short  string // the column header when drivers are rows
	name   metric.ID
	params map[string]string
	most   string
}

var rules = []rule{
	{"new file: create 4KiB in the container layer", "create 4KiB", metric.OpCreate, map[string]string{metric.PSize: "4KiB"}, ""},
	{"read path: stat, warm, deepest layer", "stat warm", metric.OpLookup,
		map[string]string{metric.PKind: metric.LookupHit, metric.PCache: metric.CacheWarm}, metric.PDepth},
	{"read path: stat on a fresh mount, deepest layer", "stat mount", metric.OpLookup,
		map[string]string{metric.PKind: metric.LookupHit, metric.PCache: metric.CacheMount}, metric.PDepth},
	{"read path: stat, cold caches, deepest layer", "stat cold", metric.OpLookup,
		map[string]string{metric.PKind: metric.LookupHit, metric.PCache: metric.CacheCold}, metric.PDepth},
	{"read path: stat of a missing file, fresh mount", "miss mount", metric.OpLookup,
		map[string]string{metric.PKind: metric.LookupMiss, metric.PCache: metric.CacheMount}, metric.PLayers},
	{"copy-up: first append to a 4KiB lower file", "copy-up 4KiB", metric.CopyupLatency,
		map[string]string{metric.PSize: "4KiB", metric.PHow: metric.HowAppend, metric.PWrite: metric.WriteFirst, metric.PCache: metric.CacheWarm}, ""},
	{"copy-up: first append to the largest lower file", "copy-up big", metric.CopyupLatency,
		map[string]string{metric.PHow: metric.HowAppend, metric.PWrite: metric.WriteFirst, metric.PCache: metric.CacheWarm}, metric.PSize},
	{"copy-up: chmod of the largest lower file", "chmod big", metric.CopyupLatency,
		map[string]string{metric.PHow: metric.HowChmod, metric.PWrite: metric.WriteFirst, metric.PCache: metric.CacheWarm}, metric.PSize},
	{"after copy-up: second append to it", "2nd write", metric.CopyupLatency,
		map[string]string{metric.PHow: metric.HowAppend, metric.PWrite: metric.WriteSecond, metric.PCache: metric.CacheWarm}, metric.PSize},
	{"delete: unlink a lower file (whiteout)", "unlink", metric.OpDelete, map[string]string{metric.PKind: metric.DeleteFile}, ""},
	{"start a container: snapshot prepare", "prepare", metric.SnapshotPrepare, nil, metric.PContainer},
	{"disk: images and every container, × the unique layers", "disk ×uniq", metric.DiskVsUnique, nil, metric.PContainers},
	{"page cache: every container read the working set", "page cache", metric.PagecacheResident, nil, metric.PContainers},
}

// manyDrivers is how many drivers make the rules table turn, drivers becoming its rows.
const manyDrivers = 4

// rulesSection is the table a reader takes in at a glance: what each rule of layered storage cost on
// each driver, one representative measurement per rule. With a few drivers, rules are rows and
// drivers columns; with more, drivers are rows and each rule a column (its label and point in the
// legend), so the table reads down a terminal instead of across it. Rules whose metric the result
// lacks are left out; nil when none is present.
func rulesSection(r *result.Result) *Section {
	var drivers []string
	for _, d := range driverOrder(r) {
		for _, ru := range rules {
			if pick(r, d, ru) != nil {
				drivers = append(drivers, d)
				break
			}
		}
	}
	type line struct {
		rule  rule
		point string
		cells []*result.Metric
	}
	var lines []line
	for _, ru := range rules {
		l := line{rule: ru}
		any := false
		for _, d := range drivers {
			m := pick(r, d, ru)
			l.cells = append(l.cells, m)
			if m == nil {
				continue
			}
			if !any {
				l.point = describePoint(m, ru)
			} else if describePoint(m, ru) != l.point {
				l.point = "varies"
			}
			any = true
		}
		if any {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	var ns notes
	cell := func(d string, l line, m *result.Metric) string {
		if m == nil {
			return "-"
		}
		return Cell(m) + ns.ref(d+" "+l.rule.short, m.Warnings)
	}
	s := &Section{Title: "what each rule costs", Level: 2}
	if len(drivers) <= manyDrivers {
		t := &Table{Header: append([]string{"rule", "at"}, drivers...), Key: 2}
		for _, l := range lines {
			row := []string{l.rule.label, l.point}
			for i, d := range drivers {
				row = append(row, cell(d, l, l.cells[i]))
			}
			t.Rows = append(t.Rows, row)
		}
		s.Table = t
	} else {
		t := &Table{Header: []string{"driver"}, Key: 1}
		for _, l := range lines {
			t.Header = append(t.Header, l.rule.short)
			legend := l.rule.short + ": " + l.rule.label
			if l.point != "" {
				legend += " (" + l.point + ")"
			}
			s.After = append(s.After, legend)
		}
		for i, d := range drivers {
			row := []string{d}
			for _, l := range lines {
				row = append(row, cell(d, l, l.cells[i]))
			}
			t.Rows = append(t.Rows, row)
		}
		s.Table = t
	}
	s.Notes = ns.list()
	return s
}

// pick returns driver d's metric for rule ru, or nil.
func pick(r *result.Result, d string, ru rule) *result.Metric {
	var best *result.Metric
	bestV := -1.0
	for _, m := range r.Find(d, ru.name, ru.params) {
		if m.Summary.N == 0 || (ru.most != "" && m.Params[ru.most] == "") {
			continue
		}
		v := 0.0
		if ru.most != "" {
			v = paramValue(ru.most, m.Params[ru.most])
		}
		if best == nil || v > bestV {
			best, bestV = m, v
		}
	}
	return best
}

// paramValue orders parameter values: sizes by bytes, numbers as numbers, the rest as equal.
func paramValue(key, v string) float64 {
	f, _ := metric.Number(v)
	return f
}

// describePoint names the point a cell was picked at, when the rule chose one.
func describePoint(m *result.Metric, ru rule) string {
	switch ru.most {
	case metric.PDepth:
		return "depth " + m.Params[metric.PDepth] + " of " + m.Params[metric.PLayers]
	case metric.PLayers:
		return m.Params[metric.PLayers] + " layers"
	case metric.PSize:
		return m.Params[metric.PSize]
	case metric.PContainer:
		return m.Params[metric.PContainer]
	case metric.PContainers:
		return m.Params[metric.PContainers] + " containers"
	}
	return ""
}
