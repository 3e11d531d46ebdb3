package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// TestGitHubBenchmarks: each metric goes to the file of its direction, with the catalogue's unit,
// its median and its interval as [lo, hi] with the level; JSON the action reads.
func TestGitHubBenchmarks(t *testing.T) {
	r := &result.Result{Scenario: result.ScenarioRef{Name: "s"}, Metrics: []result.Metric{
		{Driver: "overlayfs", Name: "op.lookup", Unit: "ns", Params: map[string]string{"cache": "warm", "depth": "1", "kind": "hit"},
			Samples: []float64{100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200}},
		{Driver: "overlayfs", Name: "disk.shared_savings", Unit: "ratio", Params: map[string]string{"images": "2", "containers": "0"},
			Samples: []float64{0.5}},
	}}
	var buf bytes.Buffer
	if err := WriteGitHubBenchmarks(&buf, []*result.Result{r}, metric.Lower); err != nil {
		t.Fatal(err)
	}
	var lower []GitHubBench
	if err := json.Unmarshal(buf.Bytes(), &lower); err != nil {
		t.Fatal(err)
	}
	if len(lower) != 1 || lower[0].Name != "overlayfs/op.lookup/depth=1 kind=hit cache=warm" || lower[0].Unit != "ns" || lower[0].Value != 150 {
		t.Fatalf("smaller-is-better: %+v", lower)
	}
	if rg := lower[0].Range; !strings.HasPrefix(rg, "[") || !strings.Contains(rg, "] at ") || strings.Contains(rg, "±") {
		t.Errorf("range %q: want [lo, hi] at its level", rg)
	}
	higher := GitHubBenchmarks([]*result.Result{r}, metric.Higher)
	if len(higher) != 1 || higher[0].Name != "overlayfs/disk.shared_savings/images=2 containers=0" || higher[0].Value != 0.5 || higher[0].Range != "" {
		t.Errorf("bigger-is-better: %+v", higher)
	}
}
