package bench

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// Merge joins the results of the shards of one run (seedbench run --shard i/n, i = 1..n) into the
// result of the whole run: every shard's metrics (a metric several shards measured gets all their
// samples, as one run would), the checks (one per driver and check, failed if it failed in any
// shard), the drivers (the worst status, the times summed) and the calibration readings; then every
// summary, the drift and the fits are computed again from the raw samples. It refuses results that
// are not shards, shards of different runs (another plan, machine, measuring code or shard count),
// a shard given twice and a missing shard, naming them.
func Merge(rs []*result.Result, names []string) (*result.Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("merge: name the shards' result files")
	}
	name := func(i int) string {
		if i < len(names) {
			return names[i]
		}
		return rs[i].Run.ID
	}
	var errs []string
	for i, r := range rs {
		if r.Run.Shard == nil {
			errs = append(errs, fmt.Sprintf("%s is not a shard (run it with --shard I/N)", name(i)))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("merge: %s", strings.Join(errs, "; "))
	}
	first := rs[0]
	n := first.Run.Shard.Count
	same := []struct {
		field string
		of    func(*result.Result) string
	}{
		{"shard count", func(r *result.Result) string { return fmt.Sprint(r.Run.Shard.Count) }},
		{"scenario", func(r *result.Result) string { return r.Scenario.Name + " " + r.Scenario.SHA256 }},
		{"seed", func(r *result.Result) string { return fmt.Sprint(r.Run.Seed) }},
		{"quick", func(r *result.Result) string { return fmt.Sprint(r.Run.Quick) }},
		{"samples", func(r *result.Result) string { return fmt.Sprint(r.Run.Samples) }},
		{"machine fingerprint", func(r *result.Result) string { return r.Env.Fingerprint }},
		{"measuring code", func(r *result.Result) string { return r.Run.MeasureCode }},
		{"faults", func(r *result.Result) string { return strings.Join(r.Run.Faults, ", ") }},
		{"drivers", func(r *result.Result) string {
			var ds []string
			for _, d := range r.Drivers {
				ds = append(ds, d.Name)
			}
			slices.Sort(ds)
			return strings.Join(ds, ",")
		}},
	}
	for i, r := range rs[1:] {
		for _, f := range same {
			if a, b := f.of(first), f.of(r); a != b {
				errs = append(errs, fmt.Sprintf("%s and %s differ in %s (%q, %q)", name(0), name(i+1), f.field, a, b))
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("merge: not shards of one run: %s", strings.Join(errs, "; "))
	}
	byIndex := map[int]int{}
	for i, r := range rs {
		if j, ok := byIndex[r.Run.Shard.Index]; ok {
			errs = append(errs, fmt.Sprintf("shard %s is given twice (%s and %s)", r.Run.Shard, name(j), name(i)))
		}
		byIndex[r.Run.Shard.Index] = i
	}
	for k := 1; k <= n; k++ {
		if _, ok := byIndex[k]; !ok {
			errs = append(errs, fmt.Sprintf("shard %d/%d is missing", k, n))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("merge: %s", strings.Join(errs, "; "))
	}
	ordered := slices.Clone(rs)
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].Run.Shard.Index < ordered[j].Run.Shard.Index })

	out := *ordered[0]
	out.Run.Shard = nil
	out.Run.Args = nil
	out.Partial = false
	out.Metrics, out.Checks, out.Drivers, out.Noise, out.Fits = nil, nil, nil, nil, nil
	metrics := map[string]int{}
	checks := map[[2]string]int{}
	drivers := map[string]int{}
	seq := 0
	for _, r := range ordered {
		if r.Run.Started.Before(out.Run.Started) {
			out.Run.Started = r.Run.Started
		}
		if r.Run.Finished.After(out.Run.Finished) {
			out.Run.Finished = r.Run.Finished
		}
		out.Partial = out.Partial || r.Partial
		out.Run.Args = append(out.Run.Args, strings.Join(r.Run.Args, " "))
		most := 0
		for _, m := range r.Metrics {
			m.Samples, m.Order = slices.Clone(m.Samples), slices.Clone(m.Order)
			for j := range m.Order {
				most = max(most, m.Order[j])
				m.Order[j] += seq
			}
			k := m.Key()
			if i, ok := metrics[k]; ok {
				o := &out.Metrics[i]
				o.Samples = append(o.Samples, m.Samples...)
				o.Order = append(o.Order, m.Order...)
				for _, w := range m.Warnings {
					if !slices.Contains(o.Warnings, w) {
						o.Warnings = append(o.Warnings, w)
					}
				}
				continue
			}
			metrics[k] = len(out.Metrics)
			out.Metrics = append(out.Metrics, m)
		}
		seq += most
		for _, c := range r.Checks {
			k := [2]string{c.Driver, c.What}
			if i, ok := checks[k]; ok {
				o := &out.Checks[i]
				if !c.OK {
					o.OK = false
					o.Detail = strings.TrimPrefix(o.Detail+"; shard "+r.Run.Shard.String()+": "+c.Detail, "; ")
				}
				continue
			}
			checks[k] = len(out.Checks)
			if !c.OK {
				c.Detail = "shard " + r.Run.Shard.String() + ": " + c.Detail
			}
			out.Checks = append(out.Checks, c)
		}
		for _, d := range r.Drivers {
			if i, ok := drivers[d.Name]; ok {
				o := &out.Drivers[i]
				o.Seconds += d.Seconds
				for ph, s := range d.PhaseSeconds {
					if o.PhaseSeconds == nil {
						o.PhaseSeconds = map[string]float64{}
					}
					o.PhaseSeconds[ph] += s
				}
				if statusRank(d.Status) > statusRank(o.Status) {
					o.Status = d.Status
					o.Reason = "shard " + r.Run.Shard.String() + ": " + d.Reason
				}
				continue
			}
			drivers[d.Name] = len(out.Drivers)
			d.PhaseSeconds = maps.Clone(d.PhaseSeconds)
			out.Drivers = append(out.Drivers, d)
		}
		out.Noise = append(out.Noise, r.Noise...)
	}
	stats.AnnotateAll(&out)
	out.Fits = stats.Fits(&out)
	return &out, nil
}

// statusRank orders driver statuses from best to worst.
func statusRank(s string) int {
	switch s {
	case result.StatusFailed:
		return 2
	case result.StatusSkipped:
		return 1
	}
	return 0
}
