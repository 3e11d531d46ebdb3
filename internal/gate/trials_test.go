package gate

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/fault"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// trialRun is a run of drivers a, b and c's warm lookups (a, b at f, c at fc), their floor (at
// floor), and a's device writes while building (writes bytes).
func trialRun(id string, at int, f, fc, floor float64, writes float64, faults ...string) *result.Result {
	ms := append(lookups("a", f), lookups("b", f)...)
	ms = append(ms, lookups("c", fc)...)
	ms = append(ms, floorStat(floor), point("a", metric.IOWriteBytes, map[string]string{"step": "build"}, []float64{writes}))
	r := runOf(id, ms...)
	r.Run.Started = time.Date(2026, 12, 1, 0, at, 0, 0, time.UTC)
	r.Run.Faults = faults
	return r
}

// TestTrials: four learning runs at ±2% (the floor moving half as much), three A/A trial runs of which the last has c's lookups ×2
// (a pair no other runs moved as far), and three faulted runs.
func TestTrials(t *testing.T) {
	const MiB = 1 << 20
	var learn []*result.Result
	for i, f := range []float64{1.02, 0.98, 1.01, 0.99} {
		learn = append(learn, trialRun("l"+strconv.Itoa(i), i, f, f, math.Sqrt(f), 10*MiB))
	}
	aa := []*result.Result{trialRun("aa0", 10, 1, 1, 1, 10*MiB), trialRun("aa1", 11, 1, 1, 1, 10*MiB), trialRun("aa2", 12, 1, 2, 1, 10*MiB)}
	slowLookups := "slow:op.lookup,cache=warm:+30%"
	faulted := []*result.Result{
		trialRun("f0", 20, 1.3, 1, 1, 10*MiB, slowLookups),       // a and b caught, c not moved
		trialRun("f1", 21, 1, 1, 1, 14*MiB, "write:build:+4MiB"), // a's writes caught
		trialRun("f2", 22, 1.3, 1, 1, 10*MiB, slowLookups),       // on a busy machine
	}
	for i := 3; i < 6; i++ { // b's lookups ×1.5: a regression no fault explains
		faulted[1].Metrics[i].Samples = around(2000 * 1.5)
	}
	faulted[2].Metrics = busyNow(faulted[2].Metrics)

	tr, err := MeasureTrials(learn, aa, faulted, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Schema != TrialsSchema || tr.AARuns != 7 || !slices.Equal(tr.LearnRuns, []string{"l0", "l1", "l2", "l3"}) || tr.Scenario != "s" {
		t.Errorf("trials %+v", tr)
	}
	// The pair aa1→aa2 is judged under floors learnt without either: c's ×2 is a false alarm. (Had
	// they been learnt with aa2, its moves would have hidden it.)
	if tr.AAPairs != 2 || tr.FalseAlarms != 1 || len(tr.AlarmDetail) != 1 || tr.AlarmDetail[0] != "aa1→aa2: c "+warmHits+" ×2.000" {
		t.Errorf("A/A pairs %d, false alarms %d: %q", tr.AAPairs, tr.FalseAlarms, tr.AlarmDetail)
	}
	fam := map[string]Family{}
	for _, f := range tr.Families {
		fam[f.Family] = f
	}
	// Two pairs × three drivers × three depths; c's three points of aa1→aa2 fall outside.
	if f := fam[warmHits]; f.Points != 18 || f.Covered != 15 || !(f.MDE >= DefaultMinEffect) || !(f.Sigma > 0) {
		t.Errorf("family %+v, want 15 of 18 points covered", f)
	}
	noise, err := Learn(append(slices.Clone(learn), aa...))
	if err != nil {
		t.Fatal(err)
	}
	var rel []float64
	for _, c := range noise.Classes {
		if c.Class == warmHits {
			rel = append(rel, c.RelSigma)
			if !(c.RelSigma < c.Sigma) {
				t.Errorf("%s: floor-relative noise %v, absolute %v: want less, the floor moving along", c.Driver, c.RelSigma, c.Sigma)
			}
		}
	}
	if f := fam[warmHits]; len(rel) != 3 || f.Sigma != stats.Median(rel) {
		t.Errorf("family sigma %v, want the median of its classes' floor-relative %v", f.Sigma, rel)
	}
	// The smallest effect flagged is never below the minimum effect.
	big, err := MeasureTrials(learn, aa, nil, Options{MinEffect: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range big.Families {
		if f.MDE != 0.5 {
			t.Errorf("%s: MDE %v at a minimum effect of 50%%", f.Family, f.MDE)
		}
	}
	want := []Power{
		{Fault: slowLookups, Trials: 2, Flagged: 1, Noisy: 1, Classes: 6, Caught: 2},
		{Fault: "write:build:+4MiB", Trials: 1, Flagged: 1, Classes: 1, Caught: 1, Spurious: 1},
	}
	if !slices.Equal(tr.Faults, want) {
		t.Errorf("power %+v, want %+v", tr.Faults, want)
	}
}

// TestTrialsRefuses: a run given twice, a faulted run without a fault or without an A/A run to be
// compared with.
func TestTrialsRefuses(t *testing.T) {
	var learn []*result.Result
	for i := range 3 {
		learn = append(learn, trialRun("l"+strconv.Itoa(i), i, 1, 1, 1, 1))
	}
	aa := []*result.Result{trialRun("aa0", 10, 1, 1, 1, 1), trialRun("aa1", 11, 1, 1, 1, 1)}
	for _, c := range []struct {
		aa, faulted []*result.Result
		want        string
	}{
		{[]*result.Result{aa[0], learn[1]}, nil, "run l1 is given twice"},
		{aa, []*result.Result{trialRun("f0", 20, 1, 1, 1, 1)}, "run f0 has no fault injected"},
		{aa, []*result.Result{trialRun("f0", 20, 1, 1, 1, 1, "write:build:+1MiB"), trialRun("f1", 21, 1, 1, 1, 1, "write:build:+1MiB"), trialRun("f2", 22, 1, 1, 1, 1, "write:build:+1MiB")},
			"faulted run f2 has no A/A run to be compared with (2 A/A runs)"},
	} {
		if _, err := MeasureTrials(learn, c.aa, c.faulted, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
	}
}

// TestFaultHits: which classes and quantities a fault moves.
func TestFaultHits(t *testing.T) {
	parse := func(spec string) fault.Fault {
		f, err := fault.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	cv := func(class string) ClassVerdict { return ClassVerdict{Driver: "d", Class: class} }
	for _, c := range []struct {
		fault, class string
		want         bool
	}{
		{"slow:op.lookup,cache=warm:+10%", "op.lookup cache=warm kind=hit", true},
		{"slow:op.lookup,cache=warm:+10%", "op.lookup cache=cold kind=hit", false},
		{"slow:op.lookup:+10%", "op.lookup cache=cold kind=miss", true},
		{"slow:op.lookup:+10%", "op.read cache=warm", false},
		{"slow:copyup.latency,size>=1MiB:+30%", "copyup.latency cache=warm how=append write=first size>=1MiB", true},
		{"slow:copyup.latency,size>=1MiB:+30%", "copyup.latency cache=warm how=append write=first size<1MiB", false},
		{"slow:copyup.latency,write=first:+30%", "copyup.latency cache=warm how=rdwr write=second size<1MiB", false},
		{"slow:snapshot.*:+50%", "snapshot.prepare container", true},
		{"slow:snapshot.*:+50%", "layer.apply", false},
		{"write:build:+1MiB", "layer.apply", false},
	} {
		if got := hits(parse(c.fault), cv(c.class)); got != c.want {
			t.Errorf("%s hits %s: %v, want %v", c.fault, c.class, got, c.want)
		}
	}
	q := func(name metric.ID, step string) QuantityVerdict {
		return QuantityVerdict{Name: name, Params: map[string]string{"step": step}}
	}
	if w := parse("write:modify:+1MiB"); !hitsQuantity(w, q(metric.IOWriteBytes, "modify")) || hitsQuantity(w, q(metric.IOWriteBytes, "build")) ||
		hitsQuantity(w, q(metric.IOFlushes, "modify")) || hitsQuantity(parse("slow:op.lookup:+10%"), q(metric.IOWriteBytes, "modify")) {
		t.Error("a write fault moves its step's device writes alone")
	}
	if got := familyOf("copyup.latency cache=warm how=append write=first size>=1MiB"); got != "copyup.latency cache=warm write=first size>=1MiB" {
		t.Errorf("familyOf = %q", got)
	}
	if !anyHits([]fault.Fault{parse("write:build:+1MiB"), parse("slow:op.read:+5%")}, cv("op.read cache=warm")) {
		t.Error("anyHits")
	}
}
