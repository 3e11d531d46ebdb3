package stats

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

func copyupMetric(driver, size, how, write string, samples ...float64) result.Metric {
	return result.Metric{Driver: driver, Name: "copyup.latency", Unit: "ns", Better: "lower",
		Params:  map[string]string{"size": size, "how": how, "cache": "warm", "image": "web", "write": write},
		Samples: samples}
}

func lookupMetric(driver, cache string, depth int, samples ...float64) result.Metric {
	p := map[string]string{"kind": "hit", "layers": "5", "cache": cache, "image": "web"}
	if depth > 0 {
		p["depth"] = strconv.Itoa(depth)
	} else {
		p["kind"] = "miss"
	}
	return result.Metric{Driver: driver, Name: "op.lookup", Unit: "ns", Better: "lower", Params: p, Samples: samples}
}

func findFit(t *testing.T, fits []result.Fit, driver string, name metric.ID, params map[string]string) result.Fit {
	t.Helper()
	for _, f := range fits {
		if f.Driver != driver || f.Name != name {
			continue
		}
		ok := true
		for k, v := range params {
			if f.Params[k] != v {
				ok = false
			}
		}
		if ok {
			return f
		}
	}
	t.Fatalf("no %s %s %v among %+v", driver, name, params, fits)
	return result.Fit{}
}

func TestFitsCopyupExact(t *testing.T) {
	// copy-up = 2 ms + 0.5 ns/B × size, exactly; the second writes (fast, flat) must be left out.
	r := &result.Result{Drivers: []result.DriverResult{{Name: "ovl"}}}
	for _, size := range []string{"4KiB", "1MiB", "16MiB", "64MiB"} {
		n, _ := parseSizeBytes(size)
		y := 2e6 + 0.5*n
		r.Add(copyupMetric("ovl", size, "append", "first", y, y, y))
		r.Add(copyupMetric("ovl", size, "append", "second", 9000, 11000, 10000))
		r.Add(copyupMetric("ovl", size, "chmod", "first", 3e6+n, 3e6+n))
	}
	fits := Fits(r)
	if len(fits) != 2 {
		t.Fatalf("Fits = %+v, want 2 (append, chmod)", fits)
	}
	f := findFit(t, fits, "ovl", metric.FitCopyup, map[string]string{"how": "append"})
	if !near(f.Alpha, 2e6, 1e-3) || !near(f.Beta, 0.5, 1e-12) || !near(f.R2, 1, 1e-12) || f.N != 12 || f.Points != 4 || f.Method != FitMethod {
		t.Errorf("append fit = %+v, want 2e6 + 0.5·x, R² 1, 12 samples at 4 sizes", f)
	}
	if f.Unit != metric.NsPerByte || len(f.Warnings) != 0 || f.BetaCIHi-f.BetaCILo > 1e-9 {
		t.Errorf("append fit = %+v", f)
	}
	want := map[string]string{"how": "append", "cache": "warm", "image": "web"} // no size, no write
	if len(f.Params) != len(want) {
		t.Errorf("params %v, want %v", f.Params, want)
	}
	for k, v := range want {
		if f.Params[k] != v {
			t.Errorf("params %v, want %v", f.Params, want)
		}
	}
	if c := findFit(t, fits, "ovl", metric.FitCopyup, map[string]string{"how": "chmod"}); !near(c.Beta, 1, 1e-12) || !near(c.Alpha, 3e6, 1e-3) {
		t.Errorf("chmod fit = %+v", c)
	}
}

func TestFitsLookup(t *testing.T) {
	// warm: flat in depth with noise → the slope's interval contains 0; cold: +3 µs per layer → the
	// interval is above 0. Misses (no depth) are not fitted.
	rng := rand.New(rand.NewPCG(5, 6))
	r := &result.Result{}
	for depth := 1; depth <= 5; depth++ {
		var warm, cold []float64
		for range 8 {
			warm = append(warm, 2000+150*rng.NormFloat64())
			cold = append(cold, 6000+3000*float64(depth)+800*rng.NormFloat64())
		}
		r.Add(lookupMetric("ovl", "warm", depth, warm...))
		r.Add(lookupMetric("ovl", "cold", depth, cold...))
	}
	r.Add(lookupMetric("ovl", "warm", 0, 1900, 2000, 2100))
	fits := Fits(r)
	if len(fits) != 2 {
		t.Fatalf("Fits = %+v, want warm and cold", fits)
	}
	warm := findFit(t, fits, "ovl", metric.FitLookup, map[string]string{"cache": "warm"})
	if !(warm.BetaCILo < 0 && 0 < warm.BetaCIHi) || warm.N != 40 || warm.Unit != metric.NsPerLayer {
		t.Errorf("warm fit %+v: want an interval containing 0", warm)
	}
	if _, ok := warm.Params["depth"]; ok || warm.Params["kind"] != "hit" || warm.Params["layers"] != "5" {
		t.Errorf("warm params %v", warm.Params)
	}
	cold := findFit(t, fits, "ovl", metric.FitLookup, map[string]string{"cache": "cold"})
	if !(cold.BetaCILo > 0 && cold.BetaCILo < 3000 && 3000 < cold.BetaCIHi) || cold.R2 < 0.9 {
		t.Errorf("cold fit %+v: want an interval above 0 containing 3000", cold)
	}
	if len(warm.Warnings)+len(cold.Warnings) != 0 {
		t.Errorf("lookup fits warn: %q %q", warm.Warnings, cold.Warnings)
	}
}

func TestFitsWarnings(t *testing.T) {
	r := &result.Result{Drivers: []result.DriverResult{{Name: "overlayfs"}}}
	// One size only: no fit.
	r.Add(copyupMetric("one", "4KiB", "append", "first", 1, 2, 3))
	// Two points: a line, no interval.
	r.Add(copyupMetric("two", "4KiB", "append", "first", 1e6))
	r.Add(copyupMetric("two", "1MiB", "append", "first", 2e6))
	// A step in size (a cost that jumps past 4 MiB): not linear. Sizes from 1 MiB: no fixed cost.
	// A NaN sample and an unreadable size.
	for _, size := range []string{"1MiB", "2MiB", "4MiB", "8MiB", "16MiB", "32MiB"} {
		n, _ := parseSizeBytes(size)
		step := 1e6
		if n > 4<<20 {
			step = 1e8
		}
		r.Add(copyupMetric("step", size, "append", "first", step, step*1.01))
		r.Add(copyupMetric("nan", size, "append", "first", 1e6+n, math.NaN()))
		r.Add(copyupMetric("overlayfs", size, "append", "first", 1e6+n, 1e6+n*1.01, 1e6+n*0.99))
		// A tenth of overlayfs's per-byte cost or less, significant or not: flat.
		r.Add(copyupMetric("reflink", size, "append", "first", 4e4+n/50, 4e4+n/51, 4e4+n/49))
	}
	r.Add(copyupMetric("nan", "4k", "append", "first", 1))
	// Flat in size (metadata-only copy-up): low R², no warning.
	rng := rand.New(rand.NewPCG(7, 8))
	for _, size := range []string{"4KiB", "1MiB", "64MiB"} {
		r.Add(copyupMetric("flat", size, "chmod", "first", 50000+5000*rng.NormFloat64(), 50000+5000*rng.NormFloat64(), 50000+5000*rng.NormFloat64()))
	}
	fits := Fits(r)
	for _, f := range fits {
		if f.Driver == "one" {
			t.Errorf("fit from one size: %+v", f)
		}
	}
	check := func(driver string, want ...string) {
		t.Helper()
		f := findFit(t, fits, driver, metric.FitCopyup, nil)
		if len(f.Warnings) != len(want) {
			t.Errorf("%s: warnings %q, want %q", driver, f.Warnings, want)
			return
		}
		for i, w := range want {
			if !strings.HasPrefix(f.Warnings[i].Text, w) {
				t.Errorf("%s: warning %q, want prefix %q", driver, f.Warnings[i], w)
			}
			if k := result.KindOf(f.Warnings[i].Text); k == result.WarnOther || k != f.Warnings[i].Kind {
				t.Errorf("%s: warning %q of kind %q reads back as %q", driver, f.Warnings[i], f.Warnings[i].Kind, k)
			}
		}
	}
	check("two", "only 2 points: no confidence interval")
	if f := findFit(t, fits, "two", metric.FitCopyup, nil); f.N != 2 || !math.IsNaN(f.BetaCILo) || f.R2 != 1 || f.Alpha != 1e6-4096*(1e6/(1<<20-4096)) {
		t.Errorf("two points: %+v", f)
	}
	check("step", "no size at or below 64KiB measured: no fixed cost", "low R² ")
	if f := findFit(t, fits, "step", metric.FitCopyup, nil); !math.IsNaN(f.Alpha) || !strings.HasSuffix(f.Warnings[1].Text, "the cost is not linear in size") {
		t.Errorf("step: %+v", f)
	}
	check("nan", "no size at or below 64KiB measured", "6 non-finite samples ignored", `series with unreadable size left out: size="4k"`)
	check("flat")
	if f := findFit(t, fits, "flat", metric.FitCopyup, nil); !(f.BetaCILo < 0 && 0 < f.BetaCIHi) || !f.Flat || f.Alpha < 0 {
		t.Errorf("flat: %+v", f)
	}
	if f := findFit(t, fits, "reflink", metric.FitCopyup, nil); !f.Flat || !(f.BetaCILo > 0) {
		t.Errorf("a fiftieth of overlayfs's cost per byte: %+v, want flat though its interval is above 0", f)
	}
	if f := findFit(t, fits, "overlayfs", metric.FitCopyup, nil); f.Flat {
		t.Errorf("the reference: %+v", f)
	}
}

func TestFitsOrder(t *testing.T) {
	r := &result.Result{Drivers: []result.DriverResult{{Name: "b"}, {Name: "a"}}}
	for _, d := range []string{"a", "b"} {
		for depth := 1; depth <= 2; depth++ {
			r.Add(lookupMetric(d, "warm", depth, 1, 2, 3))
		}
		r.Add(copyupMetric(d, "4KiB", "rdwr", "first", 1, 2))
		r.Add(copyupMetric(d, "1MiB", "rdwr", "first", 3, 4))
		r.Add(copyupMetric(d, "4KiB", "append", "first", 1, 2))
		r.Add(copyupMetric(d, "1MiB", "append", "first", 3, 4))
	}
	var got []string
	for _, f := range Fits(r) {
		got = append(got, f.Driver+" "+string(f.Name)+" "+f.Params["how"])
	}
	want := "b fit.copyup append,b fit.copyup rdwr,b fit.lookup ,a fit.copyup append,a fit.copyup rdwr,a fit.lookup "
	if strings.Join(got, ",") != want {
		t.Errorf("order %q, want %q", strings.Join(got, ","), want)
	}
}

// TestFitsFlagship fits the flagship run's copy-up and lookup samples (testdata/full.json: the
// copyup.latency and op.lookup metrics of a run of scenarios/debian-emacs-apache.yaml on overlayfs,
// native and overlayfs-metacopy). Two of overlayfs's samples stalled (217 ms for a 64MiB copy-up
// whose median is 63 ms): the medians take them in their stride, and nothing is left out.
func TestFitsFlagship(t *testing.T) {
	r, err := result.ReadFile("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	fits := Fits(r)
	for _, f := range fits {
		t.Logf("%-18s %s %-42s α=%-10.4g β=%-10.4g [%.4g, %.4g] %s  R² %.3f  n=%d flat=%v %q",
			f.Driver, f.Name, paramsKeyText(f.Params), f.Alpha, f.Beta, f.BetaCILo, f.BetaCIHi, f.Unit, f.R2, f.N, f.Flat, f.Warnings)
	}
	for _, d := range []string{"overlayfs", "overlayfs-metacopy"} {
		f := findFit(t, fits, d, metric.FitCopyup, map[string]string{"how": "append"})
		rate := 1 / f.Beta // bytes per ns = GB/s
		if rate < 0.1 || rate > 3 || f.N != 24 || !(f.BetaCILo > 0) || f.Flat || f.R2 < 0.95 || !(f.Alpha > 0 && f.Alpha < 10e6) {
			t.Errorf("%s append: %+v: rate %.2f GB/s, want 0.1–3 GB/s from all 24 samples, a fixed cost of a few ms", d, f, rate)
		}
	}
	// metacopy's chmod copies metadata only; native copies nothing: flat in size.
	for _, d := range []string{"native", "overlayfs-metacopy"} {
		if f := findFit(t, fits, d, metric.FitCopyup, map[string]string{"how": "chmod"}); !f.Flat {
			t.Errorf("%s chmod: %+v, want flat", d, f)
		}
	}
	// Lookup: warm is flat in depth; cold grows per layer; native has no layers.
	warm := findFit(t, fits, "overlayfs", metric.FitLookup, map[string]string{"cache": "warm"})
	cold := findFit(t, fits, "overlayfs", metric.FitLookup, map[string]string{"cache": "cold"})
	if !warm.Flat || !(cold.BetaCILo > 0) || cold.Flat {
		t.Errorf("overlayfs lookup: warm %+v (want flat), cold %+v (want growing)", warm, cold)
	}
	if f := findFit(t, fits, "native", metric.FitLookup, map[string]string{"cache": "cold"}); !f.Flat {
		t.Errorf("native cold lookup: %+v, want flat", f)
	}
}

func paramsKeyText(p map[string]string) string {
	return strings.TrimSpace(strings.ReplaceAll(result.ParamsKey(p), "\x00", " "))
}
