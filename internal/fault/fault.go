// Package fault is the one grammar of the faults a run injects on purpose, to measure the
// regression gate itself: the engine injects them (internal/replay), a result records their specs,
// and the gate's trials read them back to know which classes each should move (internal/gate).
package fault

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/units"
)

// Fault is a fault a run injects on purpose, to measure the regression gate itself: it is off unless
// asked for (`run --inject-fault`), recorded in the result (Run.Faults), and flagged by compare.
//
//	slow:METRIC[,KEY=VALUE…]:+N%   every sample of METRIC (a catalogue ID, or a family as
//	                               "snapshot.*") at the points matching KEY=VALUE (or size>=SIZE)
//	                               takes N% longer: the engine spins that long after the call, and
//	                               records it
//	write:STEP:+SIZE               each driver's backing writes SIZE more bytes (fsynced) in every
//	                               step whose name starts with STEP (build, containers, modify, …)
//
// Either takes driver=NAME among its keys (slow:op.lookup,driver=b:+10%, write:modify,driver=b:+1MiB)
// to fault one driver of the run only: the new side of a paired comparison, whose base is not.
type Fault struct {
	Spec    string
	Driver  string    // the one driver it faults ("" = every driver)
	Metric  metric.ID // a catalogue ID, or a family as "snapshot.*"
	Params  map[string]string
	MinSize float64 // size>=: the points of that size and more
	Slow    float64
	Step    string
	Bytes   int64
}

// Parse parses a fault spec.
func Parse(spec string) (Fault, error) {
	f := Fault{Spec: spec}
	kind, rest, _ := strings.Cut(spec, ":")
	target, amount, ok := strings.Cut(rest, ":")
	if !ok || !strings.HasPrefix(amount, "+") {
		return f, fmt.Errorf("fault %q: write slow:METRIC[,KEY=VALUE]:+N%% or write:STEP:+SIZE", spec)
	}
	amount = amount[1:]
	switch kind {
	case "slow":
		parts := strings.Split(target, ",")
		f.Metric = metric.ID(parts[0])
		if family, isFamily := strings.CutSuffix(string(f.Metric), ".*"); isFamily {
			if metric.FamilyRank(family) == len(metric.Families) {
				return f, fmt.Errorf("fault %q: no metric family %q", spec, family)
			}
		} else if d, ok := metric.Lookup(f.Metric); !ok || d.Kind != metric.Time {
			return f, fmt.Errorf("fault %q: %q is not a time metric of the catalogue", spec, f.Metric)
		}
		for _, kv := range parts[1:] {
			if name, ok := strings.CutPrefix(kv, "driver="); ok {
				if name == "" {
					return f, fmt.Errorf("fault %q: driver= names the driver to fault, e.g. driver=overlayfs-b", spec)
				}
				f.Driver = name
				continue
			}
			if k, v, ok := strings.Cut(kv, ">="); ok {
				n, err := units.ParseSize(v)
				if k != metric.PSize || err != nil {
					return f, fmt.Errorf("fault %q: a bound is size>=SIZE, e.g. size>=1MiB", spec)
				}
				f.MinSize = float64(n)
				continue
			}
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return f, fmt.Errorf("fault %q: %q is not KEY=VALUE", spec, kv)
			}
			if f.Params == nil {
				f.Params = map[string]string{}
			}
			f.Params[k] = v
		}
		pct, ok := strings.CutSuffix(amount, "%")
		v, err := strconv.ParseFloat(pct, 64)
		if !ok || err != nil || !(v > 0) || v > 1000 {
			return f, fmt.Errorf("fault %q: the slowdown is a percentage above 0, e.g. +10%%", spec)
		}
		f.Slow = v / 100
	case "write":
		step, name, scoped := strings.Cut(target, ",")
		if scoped {
			d, ok := strings.CutPrefix(name, "driver=")
			if !ok || d == "" {
				return f, fmt.Errorf("fault %q: a write fault's only key is driver=NAME", spec)
			}
			f.Driver = d
		}
		f.Step = step
		s, err := units.ParseSize(amount)
		if err != nil || s <= 0 {
			return f, fmt.Errorf("fault %q: the bytes to write are a size, e.g. +1MiB", spec)
		}
		f.Bytes = int64(s)
	default:
		return f, fmt.Errorf("fault %q: a fault is slow:… or write:…", spec)
	}
	return f, nil
}

// Faults reports whether f faults driver (the floor pseudo-driver is never faulted).
func (f *Fault) Faults(driver string) bool {
	return driver != metric.FloorDriver && (f.Driver == "" || f.Driver == driver)
}

// Slows reports the fraction a sample of metric id at params is slowed by (0: none).
func (f *Fault) Slows(id metric.ID, params map[string]string) float64 {
	if f.Slow == 0 {
		return 0
	}
	if family, ok := strings.CutSuffix(string(f.Metric), ".*"); ok {
		if metric.FamilyOf(id) != family {
			return 0
		}
	} else if id != f.Metric {
		return 0
	}
	for k, v := range f.Params {
		if params[k] != v {
			return 0
		}
	}
	if f.MinSize > 0 {
		if n, ok := metric.Number(params[metric.PSize]); !ok || n < f.MinSize {
			return 0
		}
	}
	return f.Slow
}
