package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// TestShapes: a shape the result contradicts is reported as not holding, with the figures; one
// whose drivers are absent is left out.
func TestShapes(t *testing.T) {
	r := &result.Result{
		Drivers: []result.DriverResult{{Name: "overlayfs"}, {Name: "overlayfs-xfs"}},
		Fits: []result.Fit{
			{Driver: "overlayfs", Name: metric.FitCopyup, Params: map[string]string{"how": "append", "cache": "warm"}, Beta: 1},
			{Driver: "overlayfs-xfs", Name: metric.FitCopyup, Params: map[string]string{"how": "append", "cache": "warm"}, Beta: 0.5},
		},
	}
	var b bytes.Buffer
	if err := (&Doc{Sections: shapesSections(r)}).Markdown(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "copy-up is flat in file size") || !strings.Contains(out, "does NOT hold here") || !strings.Contains(out, "overlayfs-xfs 50%") {
		t.Errorf("shapes:\n%s", out)
	}
	if strings.Contains(out, "blockfile") || strings.Contains(out, "page cache") {
		t.Errorf("shapes without their drivers reported:\n%s", out)
	}
	r.Fits[1].Beta = 0.001
	b.Reset()
	(&Doc{Sections: shapesSections(r)}).Text(&b, TextOptions{})
	if !strings.Contains(b.String(), ": holds") || !strings.Contains(b.String(), "overlayfs-xfs 0.1%") {
		t.Errorf("shapes:\n%s", b.String())
	}
}

// TestShapesFile: shapes.yaml decodes strictly, and every shape names a catalogue metric, a claim,
// a mechanism and an expectation.
func TestShapesFile(t *testing.T) {
	if shapesErr != nil {
		t.Fatal(shapesErr)
	}
	if len(shapes) == 0 {
		t.Fatal("no shapes")
	}
	for _, s := range shapes {
		if s.Claim == "" || s.Why == "" || len(s.Expect) == 0 || s.Measure.Label == "" {
			t.Errorf("incomplete shape %+v", s)
		}
	}
	for _, n := range shapeMetrics() {
		if _, ok := metric.Lookup(n); !ok {
			t.Errorf("shapes.yaml reads %s, which is not in the metric catalogue", n)
		}
	}
	if _, err := decodeShapes([]byte("- claim: x\n  nonsense: 1\n")); err == nil {
		t.Error("an unknown key in shapes.yaml decodes")
	}
}
