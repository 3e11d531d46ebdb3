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
	{"new file: create 4KiB in the container layer", "create 4KiB", "op.create", map[string]string{"size": "4KiB"}, ""},
	{"read path: stat, warm, deepest layer", "stat warm", "op.lookup", map[string]string{"kind": "hit", "cache": "warm"}, "depth"},
	{"read path: stat on a fresh mount, deepest layer", "stat mount", "op.lookup", map[string]string{"kind": "hit", "cache": "mount"}, "depth"},
	{"read path: stat, cold caches, deepest layer", "stat cold", "op.lookup", map[string]string{"kind": "hit", "cache": "cold"}, "depth"},
	{"read path: stat of a missing file, fresh mount", "miss mount", "op.lookup", map[string]string{"kind": "miss", "cache": "mount"}, "layers"},
	{"copy-up: first append to a 4KiB lower file", "copy-up 4KiB", "copyup.latency", map[string]string{"size": "4KiB", "how": "append", "write": "first", "cache": "warm"}, ""},
	{"copy-up: first append to the largest lower file", "copy-up big", "copyup.latency", map[string]string{"how": "append", "write": "first", "cache": "warm"}, "size"},
	{"copy-up: chmod of the largest lower file", "chmod big", "copyup.latency", map[string]string{"how": "chmod", "write": "first", "cache": "warm"}, "size"},
	{"after copy-up: second append to it", "2nd write", "copyup.latency", map[string]string{"how": "append", "write": "second", "cache": "warm"}, "size"},
	{"delete: unlink a lower file (whiteout)", "unlink", "op.delete", map[string]string{"kind": "file"}, ""},
	{"start a container: snapshot prepare", "prepare", "snapshot.prepare", nil, "container"},
	{"disk: images and every container, × the unique layers", "disk ×uniq", "disk.vs_unique", nil, "containers"},
	{"page cache: every container read the working set", "page cache", "pagecache.resident", nil, "containers"},
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
	case "depth":
		return "depth " + m.Params["depth"] + " of " + m.Params["layers"]
	case "layers":
		return m.Params["layers"] + " layers"
	case "size":
		return m.Params["size"]
	case "container":
		return m.Params["container"]
	case "containers":
		return m.Params["containers"] + " containers"
	}
	return ""
}
