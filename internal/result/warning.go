package result

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
)

// Warning is what is doubtful about a metric, a fit or a run: its kind, for readers that act on a
// cause (the gate leaves a busy machine's samples out of its noise floors, a report gathers a cause's
// cells into one note), and its text, for people. A result file holds the text alone, as a JSON
// string: the kind is recovered from the words the text starts with (KindOf), so files written
// before warnings had kinds read the same.
type Warning struct {
	Kind WarningKind
	Text string
}

// WarningKind says what a warning is about.
type WarningKind string

// The kinds of warnings, by who attaches them.
const (
	// WarnOther is a warning of no kind this version knows (a file from another one).
	WarnOther WarningKind = ""

	// The engine's, on a metric.
	WarnBusy          WarningKind = "busy"           // the CPU was under pressure while the samples were taken
	WarnEviction      WarningKind = "eviction"       // an eviction left part of a file in the page cache
	WarnSharedBacking WarningKind = "shared-backing" // the backing is not dedicated: a statfs delta may hold others' writes
	WarnTraceDropped  WarningKind = "trace-dropped"  // trace accesses left out: their outcome differs from the recording
	// Noisy: the load average was above the CPU count (files from before pressure was read).
	WarnNoisy WarningKind = "noisy"

	// The engine's, on the run.
	WarnFloorsStopped WarningKind = "floors-stopped" // the floors stopped being measured

	// The statistics', on a metric's summary.
	WarnNoSamples    WarningKind = "no-samples"
	WarnNonFinite    WarningKind = "non-finite"    // non-finite samples ignored (a fit's too)
	WarnNoInterval   WarningKind = "no-interval"   // too few samples for a 95% interval (benchmath's)
	WarnFewSamples   WarningKind = "few-samples"   // fewer samples than stats.MinSamples
	WarnHighVariance WarningKind = "high-variance" // a coefficient of variation above stats.MaxCV
	WarnRatioFew     WarningKind = "ratio-few"     // a ratio's bootstrap from too few samples on a side

	// A fit's.
	WarnNoFixedCost WarningKind = "no-fixed-cost" // no x small enough measured to read a fixed cost off
	WarnUnreadableX WarningKind = "unreadable-x"  // series whose x could not be read, left out
	WarnFewPoints   WarningKind = "few-points"    // too few points for the slope's interval
	WarnNotLinear   WarningKind = "not-linear"    // a low R² with a significant slope
	WarnOutliers    WarningKind = "outliers"      // samples left out as outliers (files of older fits)
)

// warningStarts are the words each kind's text starts with, as every version wrote them.
var warningStarts = []struct {
	kind WarningKind
	re   *regexp.Regexp
}{
	{WarnBusy, regexp.MustCompile(`^busy machine: `)},
	{WarnNoisy, regexp.MustCompile(`^noisy machine: `)},
	{WarnEviction, regexp.MustCompile(`^eviction (did not take|incomplete)`)},
	{WarnSharedBacking, regexp.MustCompile(`^backing is not dedicated: `)},
	{WarnTraceDropped, regexp.MustCompile(`^[0-9]+ of the trace's [0-9]+ accesses left out`)},
	{WarnFloorsStopped, regexp.MustCompile(`^floors stopped at `)},
	{WarnNoSamples, regexp.MustCompile(`^no samples$`)},
	{WarnNonFinite, regexp.MustCompile(`^[0-9]+ non-finite samples ignored`)},
	{WarnNoInterval, regexp.MustCompile(`^need >= [0-9]+ samples for confidence interval`)},
	{WarnFewSamples, regexp.MustCompile(`^only [0-9]+ samples$`)},
	{WarnHighVariance, regexp.MustCompile(`^high variance: `)},
	{WarnRatioFew, regexp.MustCompile(`^few samples for the ratio's interval: `)},
	{WarnNoFixedCost, regexp.MustCompile(`^no .* measured: no fixed cost`)},
	{WarnUnreadableX, regexp.MustCompile(`^series with unreadable `)},
	{WarnFewPoints, regexp.MustCompile(`^only [0-9]+ points: `)},
	{WarnNotLinear, regexp.MustCompile(`^low R² `)},
	{WarnOutliers, regexp.MustCompile(`^[0-9]+ of [0-9]+ samples left out as outliers`)},
}

// KindOf is the kind of a warning's text: the kind whose words it starts with, else WarnOther.
func KindOf(text string) WarningKind {
	for _, s := range warningStarts {
		if s.re.MatchString(text) {
			return s.kind
		}
	}
	return WarnOther
}

// String is the warning's text.
func (w Warning) String() string { return w.Text }

// MarshalJSON writes the text alone, as a result file always held it.
func (w Warning) MarshalJSON() ([]byte, error) { return json.Marshal(w.Text) }

// UnmarshalJSON reads the text and recovers the kind from it.
func (w *Warning) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &w.Text); err != nil {
		return err
	}
	w.Kind = KindOf(w.Text)
	return nil
}

// HasWarning reports whether ws holds a warning of kind k.
func HasWarning(ws []Warning, k WarningKind) bool {
	return slices.ContainsFunc(ws, func(w Warning) bool { return w.Kind == k })
}

// HasWarning reports whether m carries a warning of kind k.
func (m *Metric) HasWarning(k WarningKind) bool { return HasWarning(m.Warnings, k) }

// Warnf is a warning of kind k, its text formatted as fmt.Sprintf does.
func Warnf(k WarningKind, format string, args ...any) Warning {
	return Warning{Kind: k, Text: fmt.Sprintf(format, args...)}
}
