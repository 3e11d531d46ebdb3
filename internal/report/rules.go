package report

import (
	"fmt"
	"io"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// rule is one line of the rules table: a labelled metric point. Among the metrics matching name and
// params, the one with the largest value of param `most` is taken (the bottom layer, the largest
// file, the most containers).
type rule struct {
	label  string
	name   string
	params map[string]string
	most   string
}

var rules = []rule{
	{"new file: create 4KiB in the container layer", "op.create", map[string]string{"size": "4KiB"}, ""},
	{"read path: stat, warm, deepest layer", "op.lookup", map[string]string{"kind": "hit", "cache": "warm"}, "depth"},
	{"read path: stat on a fresh mount, deepest layer", "op.lookup", map[string]string{"kind": "hit", "cache": "mount"}, "depth"},
	{"read path: stat, cold caches, deepest layer", "op.lookup", map[string]string{"kind": "hit", "cache": "cold"}, "depth"},
	{"read path: stat of a missing file, fresh mount", "op.lookup", map[string]string{"kind": "miss", "cache": "mount"}, "layers"},
	{"copy-up: first append to a 4KiB lower file", "copyup.latency", map[string]string{"size": "4KiB", "how": "append", "write": "first", "cache": "warm"}, ""},
	{"copy-up: first append to the largest lower file", "copyup.latency", map[string]string{"how": "append", "write": "first", "cache": "warm"}, "size"},
	{"copy-up: chmod of the largest lower file", "copyup.latency", map[string]string{"how": "chmod", "write": "first", "cache": "warm"}, "size"},
	{"after copy-up: second append to it", "copyup.latency", map[string]string{"how": "append", "write": "second", "cache": "warm"}, "size"},
	{"delete: unlink a lower file (whiteout)", "op.delete", map[string]string{"kind": "file"}, ""},
	{"start a container: snapshot prepare", "snapshot.prepare", nil, "container"},
	{"disk: images and every container, × the unique layers", "disk.vs_unique", nil, "containers"},
	{"page cache: every container read the working set", "pagecache.resident", nil, "containers"},
}

// Rules writes the table a reader takes in at a glance: what each rule of layered storage cost on
// each driver, one representative measurement per line, drivers as columns. Lines whose metric the
// result lacks are left out; nothing is written when none is present.
func Rules(w io.Writer, r *result.Result, md bool) error {
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
		label, point string
		cells        []string
	}
	var lines []line
	for _, ru := range rules {
		var cells []string
		point := ""
		any := false
		for _, d := range drivers {
			m := pick(r, d, ru)
			if m == nil {
				cells = append(cells, "-")
				continue
			}
			if !any {
				point = describePoint(m, ru)
			} else if describePoint(m, ru) != point {
				point = "varies"
			}
			any = true
			cells = append(cells, Cell(m))
		}
		if any {
			lines = append(lines, line{ru.label, point, cells})
		}
	}
	if len(lines) == 0 {
		return nil
	}
	ew := &errWriter{w: w}
	if md {
		fmt.Fprintf(ew, "\n### what each rule costs\n\n")
	} else {
		fmt.Fprintf(ew, "\nwhat each rule costs\n")
	}
	t := newTable(ew, append([]string{"rule", "at"}, drivers...), md)
	for _, l := range lines {
		if err := t.Append(append([]string{l.label, l.point}, l.cells...)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	return ew.err
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
