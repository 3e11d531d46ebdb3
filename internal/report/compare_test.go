package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

func compareRun(scale map[string]float64, noise float64) *result.Result {
	r := &result.Result{Env: result.Env{Fingerprint: "f"}}
	for _, name := range []string{"op.lookup", "op.create", "op.read"} {
		m := result.Metric{Driver: "overlayfs", Name: name, Unit: "ns", Better: "lower", Params: map[string]string{"cache": "warm"}}
		for i := range 10 {
			m.Samples = append(m.Samples, scale[name]*(1000+noise*float64(i)))
		}
		r.Metrics = append(r.Metrics, m)
	}
	r.Metrics = append(r.Metrics, result.Metric{Driver: "overlayfs", Name: "disk.used", Unit: "bytes", Better: "lower", Samples: []float64{1 << 20}})
	stats.AnnotateAll(r)
	return r
}

func TestCompare(t *testing.T) {
	base := compareRun(map[string]float64{"op.lookup": 1, "op.create": 1, "op.read": 1}, 10)
	// lookup unchanged; create 2× slower (a regression); read 2× faster.
	next := compareRun(map[string]float64{"op.lookup": 1.001, "op.create": 2, "op.read": 0.5}, 10)
	cs, sum := Compare(base, next)
	verdicts := map[string]string{}
	for _, c := range cs {
		verdicts[c.Name] = c.Verdict
	}
	want := map[string]string{"op.lookup": VerdictSame, "op.create": VerdictWorse, "op.read": VerdictBetter, "disk.used": VerdictNoTest}
	for k, v := range want {
		if verdicts[k] != v {
			t.Errorf("%s: verdict %q, want %q", k, verdicts[k], v)
		}
	}
	if sum.Tested != 3 || sum.Inside != 1 || sum.Worse != 1 || sum.Better != 1 || sum.Same != 1 || !sum.SameEnv {
		t.Errorf("summary %+v", sum)
	}
	var b bytes.Buffer
	if err := CompareDoc(cs, sum, true).Text(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "op.create") || strings.Contains(out, "op.lookup") || !strings.Contains(out, "1 (33%) with one run's median inside") {
		t.Errorf("changes-only table:\n%s", out)
	}
}
