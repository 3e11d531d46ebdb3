package report

import (
	"bytes"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

func TestFitCell(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		f    result.Fit
		want string
	}{
		{result.Fit{Name: metric.FitCopyup, Alpha: 1.95e6, Beta: 1 / 1.02, R2: 0.991, N: 24, BetaCILo: 0.9, BetaCIHi: 1.1},
			"1.95 ms + 1.02 GB/s [0.91, 1.11] (R² 0.99)"},
		{result.Fit{Name: metric.FitCopyup, Alpha: 3.03e6, Beta: 1.271, R2: 0.569, N: 24, BetaCILo: 0.78, BetaCIHi: 1.76},
			"3.03 ms + 787 MB/s [568, 1282] (R² 0.57)"},
		{result.Fit{Name: metric.FitCopyup, Alpha: 91253, Beta: -0.0005, R2: 0.015, N: 24, BetaCILo: -0.002, BetaCIHi: 0.001},
			"91.3 µs, flat in size (R² 0.01)"},
		{result.Fit{Name: metric.FitCopyup, Alpha: 5000, Beta: 0.0001, R2: 0.2, N: 24, BetaCILo: -0.001, BetaCIHi: 0.001},
			"5.00 µs, flat in size (R² 0.20)"},
		{result.Fit{Name: metric.FitCopyup, Alpha: 1e6, Beta: 1, R2: 1, N: 2, BetaCILo: nan, BetaCIHi: nan},
			"1.00 ms + 1.00 GB/s (R² 1.00)"},
		{result.Fit{Name: metric.FitLookup, Alpha: 5946, Beta: 370, R2: 0.91, N: 18, BetaCILo: 210, BetaCIHi: 520},
			"+370 ns/layer [210, 520] (R² 0.91) grows"},
		{result.Fit{Name: metric.FitLookup, Alpha: 5946, Beta: 3193, R2: 0.871, N: 18, BetaCILo: 2542, BetaCIHi: 3844},
			"+3.19 µs/layer [2.54, 3.84] (R² 0.87) grows"},
		{result.Fit{Name: metric.FitLookup, Alpha: 2498, Beta: -20.75, R2: 0.013, N: 18, BetaCILo: -118.2, BetaCIHi: 76.7},
			"flat in depth [-118, 76.7] ns/layer"},
		{result.Fit{Name: metric.FitLookup, Beta: -500, R2: 0.9, N: 18, BetaCILo: -600, BetaCIHi: -400},
			"-500 ns/layer [-600, -400] (R² 0.90) shrinks"},
		{result.Fit{Name: metric.FitLookup, Beta: 1000, R2: 1, N: 2, BetaCILo: nan, BetaCIHi: nan},
			"+1.00 µs/layer (R² 1.00)"},
		{result.Fit{Name: metric.FitLookup, Beta: nan}, "-"},
		{result.Fit{Name: metric.FitLookup, Beta: -1040, R2: -2.07, N: 12, BetaCILo: -1280, BetaCIHi: -160, Method: "m"},
			"not linear in depth (R² -2.07)"},
		// Robust fits: flat says it, and no rate is quoted; without a small size, no fixed cost.
		{result.Fit{Name: metric.FitCopyup, Alpha: 40e3, Beta: 0.01, R2: 0.9, N: 24, BetaCILo: 0.008, BetaCIHi: 0.012, Flat: true, Method: "m"},
			"40.0 µs, flat in size"},
		{result.Fit{Name: metric.FitCopyup, Alpha: nan, Beta: 1, R2: 0.99, N: 24, BetaCILo: 0.9, BetaCIHi: 1.1, Method: "m"},
			"1.00 GB/s [0.91, 1.11] (R² 0.99)"},
		{result.Fit{Name: metric.FitLookup, Beta: 205, R2: 0.07, N: 18, BetaCILo: 92, BetaCIHi: 319, Flat: true, Method: "m"},
			"flat in depth [92.0, 319] ns/layer"},
	} {
		if got := FitCell(&tc.f); got != tc.want {
			t.Errorf("FitCell(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for v, want := range map[float64]string{
		512: "512 B/s", 999.4: "999 B/s", 999.6: "1.00 kB/s", 787e6: "787 MB/s", 1.0956e9: "1.10 GB/s", 2e12: "2.00 TB/s",
	} {
		if got := FormatRate(v); got != want {
			t.Errorf("FormatRate(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestReportFits(t *testing.T) {
	r, err := result.ReadFile("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	// Markdown has the fits section too, computed from the samples (the file has no fits).
	var md bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\n### fits\n\n| fit ",
		"| fit.copyup | how=append cache=warm ",
		"1.50 ms + 1.33 GB/s (R² 1.00)",
		"+3.71 µs/layer (R² 1.00) [",
		"\n- fit.lookup: ",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md.String())
		}
	}
	// Stored fits are shown as they are, with their warnings as notes.
	r.Fits = []result.Fit{{Driver: "native", Name: metric.FitLookup, Params: map[string]string{"cache": "mount"},
		Beta: 100, R2: 0.5, N: 12, BetaCILo: -50, BetaCIHi: 250, Unit: "ns/layer", Warnings: []result.Warning{{Text: "stored warning"}}}}
	var tb bytes.Buffer
	if err := Tables(&tb, r); err != nil {
		t.Fatal(err)
	}
	out := tb.String()
	fits := out[strings.Index(out, "\nfits\n"):]
	m := regexp.MustCompile(`flat in depth \[-50\.0, 250\] ns/layer \[(\d+)\]`).FindStringSubmatch(fits)
	if m == nil || strings.Contains(fits, "fit.copyup │") || !strings.Contains(out, "["+m[1]+"] stored warning") {
		t.Errorf("stored fits not shown as stored:\n%s", out)
	}
}
