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
	if d := Drift(noise[:MinDriftProbes-1]); d != nil {
		t.Errorf("Drift of %d readings = %+v, want nil", MinDriftProbes-1, d)
	}
}
