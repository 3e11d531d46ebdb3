package result

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

type warningText struct {
	text string
	kind WarningKind
}

// warningTexts are warnings as each version of the engine, the statistics and the fits wrote them,
// with the kind each is read back as.
var warningTexts = []warningText{
	{"busy machine: CPU pressure 34% (PSI some avg10) during lookup warm", WarnBusy},
	{"noisy machine: load 9.12 on 8 CPUs during workload[2] read", WarnNoisy},
	{"eviction did not take: 4096 bytes still cached", WarnEviction},
	{"eviction did not take: 8192 bytes still cached before the reads", WarnEviction},
	{"eviction incomplete: 4.00 KiB still resident", WarnEviction},
	{"backing is not dedicated: other writers may pollute the statfs delta", WarnSharedBacking},
	{"6 of the trace's 812 accesses left out: their outcome in this image differs from the recording", WarnTraceDropped},
	{"floors stopped at open: permission denied", WarnFloorsStopped},
	{"no samples", WarnNoSamples},
	{"2 non-finite samples ignored", WarnNonFinite},
	{"need >= 6 samples for confidence interval at level 0.95 (interval shown is min..max, 75% confidence)", WarnNoInterval},
	{"only 3 samples", WarnFewSamples},
	{"high variance: CV 55%", WarnHighVariance},
	{"few samples for the ratio's interval: 3 on a side", WarnRatioFew},
	{"no size at or below 64KiB measured: no fixed cost", WarnNoFixedCost},
	{`series with unreadable size left out: size="4k"`, WarnUnreadableX},
	{"only 2 points: no confidence interval for the slope", WarnFewPoints},
	{"low R² 0.41 over the medians: the cost is not linear in size", WarnNotLinear},
	{"low R² 0.12: samples scattered about the line (the median per size fits it with R² 0.97): outliers", WarnNotLinear},
	{"2 of 30 samples left out as outliers (far out at their size, R² 0.52 with them): 9.1ms at size 1MiB (median 2.0ms)", WarnOutliers},
	{"stored warning", WarnOther},
	{"only 3 samples, or so", WarnOther},
}

func TestKindOf(t *testing.T) {
	for _, tc := range warningTexts {
		if got := KindOf(tc.text); got != tc.kind {
			t.Errorf("KindOf(%q) = %q, want %q", tc.text, got, tc.kind)
		}
	}
	for _, s := range warningStarts {
		if !slices.ContainsFunc(warningTexts, func(w warningText) bool { return w.kind == s.kind }) {
			t.Errorf("kind %q has no example text", s.kind)
		}
	}
}

// TestWarningJSON: a warning is written as its text alone and read back with its kind.
func TestWarningJSON(t *testing.T) {
	m := Metric{Driver: "d", Name: "op.read", Warnings: []Warning{
		Warnf(WarnEviction, "eviction did not take: %d bytes still cached", 4096),
		{Kind: WarnOther, Text: "something else"},
	}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"warnings":["eviction did not take: 4096 bytes still cached","something else"]`; !strings.Contains(string(b), want) {
		t.Errorf("written as %s, want %s", b, want)
	}
	var got Metric
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Warnings, m.Warnings) {
		t.Errorf("read back %+v, want %+v", got.Warnings, m.Warnings)
	}
	if !got.HasWarning(WarnEviction) || got.HasWarning(WarnBusy) {
		t.Errorf("HasWarning: %+v", got.Warnings)
	}
	if err := json.Unmarshal([]byte(`{"warnings":[3]}`), &got); err == nil {
		t.Error("a number read as a warning")
	}
}

// TestCommittedWarnings reads committed results, written before warnings had kinds, and finds the
// kind of each of their warnings; written again, the warnings are the same JSON.
func TestCommittedWarnings(t *testing.T) {
	for _, tc := range []struct {
		file  string
		kinds []WarningKind // every kind the file's warnings are of
	}{
		{"../../results/debian-emacs-apache/20261127T153229Z.json",
			[]WarningKind{WarnNoisy, WarnNoInterval, WarnFewSamples, WarnHighVariance, WarnEviction, WarnNotLinear, WarnOutliers}},
		{"../../results/debian-emacs-apache/20261203T044954Z.json",
			[]WarningKind{WarnBusy, WarnNoInterval, WarnFewSamples, WarnHighVariance, WarnTraceDropped}},
	} {
		r, err := ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[WarningKind]int{}
		for _, m := range r.Metrics {
			for _, w := range m.Warnings {
				seen[w.Kind]++
			}
		}
		for _, f := range r.Fits {
			for _, w := range f.Warnings {
				seen[w.Kind]++
			}
		}
		for k, n := range seen {
			if !slices.Contains(tc.kinds, k) {
				t.Errorf("%s: %d warnings of kind %q", tc.file, n, k)
			}
		}
		for _, k := range tc.kinds {
			if seen[k] == 0 {
				t.Errorf("%s: no warning of kind %q", tc.file, k)
			}
		}

		// The same file as plain JSON: each metric's warnings, written again, are the bytes read,
		// and a busy machine is found by kind on exactly the metrics whose text says so.
		b, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		var raw struct {
			Metrics []struct {
				Warnings json.RawMessage `json:"warnings"`
			} `json:"metrics"`
		}
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		for i, m := range r.Metrics {
			var texts []string
			if len(raw.Metrics[i].Warnings) > 0 {
				if err := json.Unmarshal(raw.Metrics[i].Warnings, &texts); err != nil {
					t.Fatal(err)
				}
			}
			again, err := json.Marshal(m.Warnings)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := json.Marshal(texts); len(texts) > 0 && string(again) != string(want) {
				t.Errorf("%s: metric %d: warnings written as %s, read %s", tc.file, i, again, want)
			}
			busy := slices.ContainsFunc(texts, func(s string) bool { return strings.HasPrefix(s, "busy machine:") })
			if m.HasWarning(WarnBusy) != busy {
				t.Errorf("%s: metric %d: HasWarning(busy) = %v, texts %q", tc.file, i, !busy, texts)
			}
		}
	}
}
