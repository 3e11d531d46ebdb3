package stats

import (
	"math"
	"testing"

	"github.com/seedbench/seedbench/internal/result"
)

func TestDrift(t *testing.T) {
	var noise []result.NoiseSample
	for i := range 39 {
		// stat steady at 1000 ns but for one stalled reading; the flush wanders by e^±0.1 around 500 µs.
		st := 1000.0
		if i == 7 {
			st = 10000
		}
		noise = append(noise, result.NoiseSample{StatNs: st, SyncNs: 500e3 * math.Exp(0.1*float64(i%3-1))})
	}
	noise = append(noise, result.NoiseSample{Load1: 1}) // a probe without a reading is left out
	d := Drift(noise)
	want := math.Expm1(1.96 * 1.4826 * 0.1)
	if d == nil || d.Probes != 39 || d.Stat != 0 || math.Abs(d.Sync-want) > 1e-9 {
		t.Errorf("Drift = %+v, want 39 probes, stat 0 (one stall does not count), sync %.3f", d, want)
	}
	if DriftFor(d, "copyup.latency") != d.Sync || DriftFor(d, "snapshot.prepare") != d.Sync || DriftFor(d, "op.lookup") != d.Stat || DriftFor(nil, "op.lookup") != 0 {
		t.Errorf("DriftFor: copy-ups and snapshot calls get the flush's drift, ops the stat's")
	}
	if d := Drift(noise[:MinDriftProbes-1]); d != nil {
		t.Errorf("Drift of %d readings = %+v, want nil", MinDriftProbes-1, d)
	}
}

func TestWithDrift(t *testing.T) {
	s := result.Summary{N: 10, Median: 100, CILo: 95, CIHi: 110}
	got := WithDrift(s, 0.2)
	wantLo := 100 * math.Exp(-math.Hypot(math.Log(100.0/95), math.Log(1.2)))
	wantHi := 100 * math.Exp(math.Hypot(math.Log(110.0/100), math.Log(1.2)))
	if math.Abs(got.CILo-wantLo) > 1e-9 || math.Abs(got.CIHi-wantHi) > 1e-9 || got.SampleCILo != 95 || got.SampleCIHi != 110 {
		t.Errorf("WithDrift = %+v, want [%.3f, %.3f] with the samples' [95, 110] kept", got, wantLo, wantHi)
	}
	if !(got.CILo < 100/1.2*1.0001) || !(got.CIHi > 120) {
		t.Errorf("WithDrift = %+v: narrower than the drift alone", got)
	}
	if got := WithDrift(s, 0); got != s {
		t.Errorf("WithDrift(0) = %+v, want unchanged", got)
	}
	// A metric that is not a time (disk savings can be negative) is never widened by AnnotateAll.
	r := &result.Result{}
	for i := range 12 {
		r.Noise = append(r.Noise, result.NoiseSample{StatNs: 1000 * math.Exp(0.1*float64(i%3-1)), SyncNs: 1000})
	}
	r.Metrics = []result.Metric{
		{Name: "op.lookup", Unit: "ns", Samples: []float64{90, 100, 110}},
		{Name: "disk.shared_savings", Unit: "ratio", Samples: []float64{-0.2, -0.19, -0.21}},
	}
	AnnotateAll(r)
	if r.Drift == nil || r.Drift.Stat <= 0 {
		t.Fatalf("drift %+v", r.Drift)
	}
	if m := r.Metrics[0].Summary; !(m.CILo < 90) || m.SampleCILo != 90 {
		t.Errorf("time metric %+v: want its interval widened, the samples' kept", m)
	}
	if m := r.Metrics[1].Summary; m.CILo != -0.21 || m.SampleCILo != 0 {
		t.Errorf("ratio metric %+v: want it untouched", m)
	}
}
