package fault

import (
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Fault
		fail string
	}{
		{spec: "slow:op.lookup:+10%", want: Fault{Metric: metric.OpLookup, Slow: 0.10}},
		{spec: "slow:snapshot.*:+25%", want: Fault{Metric: "snapshot.*", Slow: 0.25}},
		{spec: "slow:copyup.latency,write=first,size>=1MiB:+10%",
			want: Fault{Metric: metric.CopyupLatency, Params: map[string]string{"write": "first"}, MinSize: 1 << 20, Slow: 0.10}},
		{spec: "write:lookup:+4MiB", want: Fault{Step: "lookup", Bytes: 4 << 20}},
		{spec: "slow:op.lookup,cache=warm,driver=overlayfs-b:+10%",
			want: Fault{Metric: metric.OpLookup, Params: map[string]string{"cache": "warm"}, Driver: "overlayfs-b", Slow: 0.10}},
		{spec: "write:modify,driver=b:+1MiB", want: Fault{Step: "modify", Driver: "b", Bytes: 1 << 20}},
		{spec: "slow:op.lookup,driver=:+10%", fail: "driver= names the driver"},
		{spec: "write:modify,depth=3:+1MiB", fail: "only key is driver=NAME"},
		{spec: "slow:op.lookup", fail: "write slow:METRIC"},
		{spec: "slow:op.lookup:10%", fail: "write slow:METRIC"},
		{spec: "slow:nosuch.*:+10%", fail: `no metric family "nosuch"`},
		{spec: "slow:disk.used:+10%", fail: "is not a time metric"},
		{spec: "slow:op.lookup,depth:+10%", fail: "is not KEY=VALUE"},
		{spec: "slow:copyup.latency,depth>=3:+10%", fail: "a bound is size>=SIZE"},
		{spec: "slow:op.lookup:+0%", fail: "a percentage above 0"},
		{spec: "slow:op.lookup:+2000%", fail: "a percentage above 0"},
		{spec: "write:lookup:+4M", fail: "a size, e.g. +1MiB"},
		{spec: "fast:op.lookup:+10%", fail: "slow:… or write:…"},
	} {
		got, err := Parse(tc.spec)
		if tc.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fail) || !strings.Contains(err.Error(), tc.spec) {
				t.Errorf("%q: error %v, want one naming the spec and saying %q", tc.spec, err, tc.fail)
			}
			continue
		}
		tc.want.Spec = tc.spec
		if err != nil || got.Spec != tc.want.Spec || got.Metric != tc.want.Metric || got.Slow != tc.want.Slow ||
			got.MinSize != tc.want.MinSize || got.Driver != tc.want.Driver || got.Step != tc.want.Step || got.Bytes != tc.want.Bytes || len(got.Params) != len(tc.want.Params) {
			t.Errorf("%q: %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
		for k, v := range tc.want.Params {
			if got.Params[k] != v {
				t.Errorf("%q: param %s=%q, want %q", tc.spec, k, got.Params[k], v)
			}
		}
	}
}

// TestSlows: a slow fault lengthens the samples of its metric (or family) at the points it names,
// and no other.
func TestSlows(t *testing.T) {
	f, err := Parse("slow:copyup.latency,write=first,size>=1MiB:+10%")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id     metric.ID
		params map[string]string
		want   float64
	}{
		{metric.CopyupLatency, map[string]string{"write": "first", "size": "1MiB"}, 0.10},
		{metric.CopyupLatency, map[string]string{"write": "first", "size": "64MiB"}, 0.10},
		{metric.CopyupLatency, map[string]string{"write": "first", "size": "4KiB"}, 0},
		{metric.CopyupLatency, map[string]string{"write": "second", "size": "64MiB"}, 0},
		{metric.OpLookup, map[string]string{"write": "first", "size": "64MiB"}, 0},
	} {
		if got := f.Slows(tc.id, tc.params); got != tc.want {
			t.Errorf("%s %v: slowed by %v, want %v", tc.id, tc.params, got, tc.want)
		}
	}
	fam, _ := Parse("slow:snapshot.*:+25%")
	if fam.Slows(metric.SnapshotCommit, nil) != 0.25 || fam.Slows(metric.OpCreate, nil) != 0 {
		t.Error("a family fault must slow its family's metrics and no other")
	}
	w, _ := Parse("write:lookup:+4MiB")
	if w.Slows(metric.OpLookup, nil) != 0 {
		t.Error("a write fault slows nothing")
	}
}

// A fault scoped to a driver faults it alone; an unscoped one every driver; neither the floor.
func TestFaults(t *testing.T) {
	scoped, _ := Parse("slow:op.lookup,driver=b:+10%")
	all, _ := Parse("slow:op.lookup:+10%")
	for _, tc := range []struct {
		f      Fault
		driver string
		want   bool
	}{{scoped, "b", true}, {scoped, "a", false}, {scoped, metric.FloorDriver, false}, {all, "a", true}, {all, metric.FloorDriver, false}} {
		if got := tc.f.Faults(tc.driver); got != tc.want {
			t.Errorf("%s faults %s: %v, want %v", tc.f.Spec, tc.driver, got, tc.want)
		}
	}
}
