package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/result"
)

func shard(i, n int, metrics ...result.Metric) *result.Result {
	t0 := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
	return &result.Result{Schema: result.Schema,
		Run:      result.Run{ID: "r", Started: t0.Add(time.Duration(i) * time.Minute), Finished: t0.Add(time.Duration(i+1) * time.Minute), Seed: 7, Shard: &result.Shard{Index: i, Count: n}, MeasureCode: "m"},
		Scenario: result.ScenarioRef{Name: "s", SHA256: "abc"}, Env: result.Env{Fingerprint: "fp"},
		Drivers: []result.DriverResult{{Name: "overlayfs", Status: "ok", Seconds: 10}},
		Checks:  []result.Check{{Driver: "overlayfs", What: "container web/0 view", OK: i != 2, Detail: map[bool]string{true: "", false: "etc/x differs"}[i == 2]}},
		Metrics: metrics}
}

func TestMerge(t *testing.T) {
	lookup := result.Metric{Driver: "overlayfs", Name: "op.lookup", Unit: "ns", Params: map[string]string{"cache": "warm", "kind": "hit", "depth": "1"}, Samples: []float64{1, 2, 3}, Order: []int{1, 2, 3}}
	create := result.Metric{Driver: "overlayfs", Name: "op.create", Unit: "ns", Params: map[string]string{"size": "4KiB"}, Samples: []float64{10, 20}, Order: []int{1, 2}}
	floor := result.Metric{Driver: "floor", Name: "floor.stat", Unit: "ns", Params: map[string]string{"cache": "warm"}, Samples: []float64{5}, Order: []int{4}}
	floor2 := floor
	floor2.Samples, floor2.Order = []float64{6}, []int{3}
	m, err := Merge([]*result.Result{shard(2, 2, create, floor2), shard(1, 2, lookup, floor)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Run.Shard != nil || len(m.Metrics) != 3 || m.Drivers[0].Seconds != 20 {
		t.Fatalf("merged: shard %v, %d metrics, %v s", m.Run.Shard, len(m.Metrics), m.Drivers[0].Seconds)
	}
	for _, x := range m.Metrics {
		if x.Summary.N != len(x.Samples) {
			t.Errorf("%s: summary of %d samples, has %d", x.Name, x.Summary.N, len(x.Samples))
		}
		if x.Name == "floor.stat" && len(x.Samples) != 2 {
			t.Errorf("floor.stat measured in both shards: %v, want both samples", x.Samples)
		}
	}
	if len(m.Checks) != 1 || m.Checks[0].OK || !strings.Contains(m.Checks[0].Detail, "shard 2/2") {
		t.Errorf("checks %+v: want one, failed as in shard 2", m.Checks)
	}
	for _, tc := range []struct {
		rs   []*result.Result
		want string
	}{
		{[]*result.Result{shard(1, 3), shard(2, 3)}, "shard 3/3 is missing"},
		{[]*result.Result{shard(1, 2), shard(1, 2), shard(2, 2)}, "shard 1/2 is given twice"},
		{[]*result.Result{shard(1, 2), shard(2, 3)}, "shard count"},
		{[]*result.Result{shard(1, 2), func() *result.Result { r := shard(2, 2); r.Env.Fingerprint = "other"; return r }()}, "machine fingerprint"},
		{[]*result.Result{shard(1, 1), func() *result.Result { r := shard(1, 1); r.Run.Shard = nil; return r }()}, "is not a shard"},
	} {
		if _, err := Merge(tc.rs, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want an error saying %q", err, tc.want)
		}
	}
}
