package result

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/metric"
)

func sample() *Result {
	r := &Result{
		Run:      Run{ID: "r1", Started: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), Seed: 42},
		Scenario: ScenarioRef{Name: "s"},
		Drivers:  []DriverResult{{Name: "overlayfs", Status: StatusOK}},
	}
	r.Add(Metric{Driver: "overlayfs", Name: "op.lookup", Unit: "ns", Params: map[string]string{"depth": "1", "cache": "warm"}, Samples: []float64{3, 1, 2}})
	r.Add(Metric{Driver: "overlayfs", Name: "op.lookup", Unit: "ns", Params: map[string]string{"depth": "2", "cache": "warm"}, Samples: []float64{4}})
	r.Add(Metric{Driver: "native", Name: "op.lookup", Unit: "ns", Params: map[string]string{"depth": "1", "cache": "cold"}, Samples: []float64{5}})
	r.Add(Metric{Driver: "native", Name: "disk.used", Unit: "bytes", Samples: []float64{4096}})
	return r
}

func TestWriteReadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "results", "s")
	path := filepath.Join(dir, "run.json")
	r := sample()
	if err := WriteFile(path, r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != "" {
		t.Error("WriteFile modified its argument")
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := *r
	want.Schema = Schema
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, &want)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the result (no temp files)", len(ents))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}

	// A failing write (NaN is not JSON) leaves the previous file intact and no temp file.
	bad := sample()
	bad.Metrics[0].Samples[0] = math.NaN()
	if err := WriteFile(path, bad); err == nil {
		t.Fatal("WriteFile with NaN succeeded")
	}
	if again, err := ReadFile(path); err != nil || !reflect.DeepEqual(again, &want) {
		t.Errorf("previous file damaged: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("failed write left %d entries", len(ents))
	}
}

func TestReadFileSchema(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, content, want string }{
		{"other.json", `{"schema": "seedbench/result/v0", "metrics": []}`, `other.json: schema "seedbench/result/v0", want "seedbench/result/v1"`},
		{"none.json", `{"metrics": []}`, `none.json: not a seedbench result file (no "schema" field`},
		{"garbage.json", `not json`, `garbage.json: not a seedbench result file`},
		{"types.json", `{"schema": "seedbench/result/v1", "metrics": 3}`, `types.json: json: cannot unmarshal`},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, []byte(tc.content), 0o644)
		_, err := ReadFile(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	// Fields added by a newer writer are ignored.
	p := filepath.Join(dir, "newer.json")
	os.WriteFile(p, []byte(`{"schema": "seedbench/result/v1", "future": {"x": 1}, "metrics": [{"name": "op.read", "samples": [1]}]}`), 0o644)
	if r, err := ReadFile(p); err != nil || len(r.Metrics) != 1 {
		t.Errorf("newer file: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestFind(t *testing.T) {
	r := sample()
	for _, tc := range []struct {
		driver string
		name   metric.ID
		params map[string]string
		want   int
	}{
		{"overlayfs", "op.lookup", nil, 2},
		{"overlayfs", "op.lookup", map[string]string{"depth": "1"}, 1},
		{"overlayfs", "op.lookup", map[string]string{"depth": "1", "cache": "warm"}, 1},
		{"overlayfs", "op.lookup", map[string]string{"depth": "1", "cache": "cold"}, 0},
		{"overlayfs", "op.lookup", map[string]string{"kind": "hit"}, 0},
		{"", "op.lookup", map[string]string{"depth": "1"}, 2},
		{"native", "", nil, 2},
		{"btrfs", "", nil, 0},
	} {
		if got := r.Find(tc.driver, tc.name, tc.params); len(got) != tc.want {
			t.Errorf("Find(%q, %q, %v) = %d metrics, want %d", tc.driver, tc.name, tc.params, len(got), tc.want)
		}
	}
	// Pointers alias the result.
	r.Find("native", "disk.used", nil)[0].Warnings = []Warning{{Text: "x"}}
	if r.Metrics[3].Warnings == nil {
		t.Error("Find returned a copy")
	}
}

func TestResummarize(t *testing.T) {
	r := sample()
	r.Resummarize(func(xs []float64) Summary { return Summary{N: len(xs), Max: xs[0]} })
	if s := r.Metrics[0].Summary; s.N != 3 || s.Max != 3 {
		t.Errorf("Summary = %+v", s)
	}
	if s := r.Metrics[3].Summary; s.N != 1 || s.Max != 4096 {
		t.Errorf("Summary = %+v", s)
	}
}
