package result

import (
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFitJSON(t *testing.T) {
	// A two-point fit has no interval: NaN is written as null (encoding/json refuses NaN) and read
	// back as NaN; finite numbers round-trip exactly.
	r := &Result{Schema: Schema, Fits: []Fit{
		{Driver: "overlayfs", Name: "fit.copyup", Params: map[string]string{"how": "append"}, Alpha: 1.95e6, Beta: 0.98,
			R2: 1, N: 2, BetaCILo: math.NaN(), BetaCIHi: math.NaN(), Unit: "ns/byte", Warnings: []Warning{{Kind: WarnFewPoints, Text: "only 2 points: no confidence interval for the slope"}}},
		{Driver: "overlayfs", Name: "fit.lookup", Alpha: 2500, Beta: -20.75, R2: 0.013, N: 18, BetaCILo: -118.2, BetaCIHi: 76.7, Unit: "ns/layer"},
	}}
	b, err := json.Marshal(r.Fits[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"beta_ci_lo":null`) {
		t.Errorf("NaN not written as null: %s", b)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteFile(path, r); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Fits) != 2 {
		t.Fatalf("fits = %+v", got.Fits)
	}
	a := got.Fits[0]
	if a.Alpha != 1.95e6 || a.Beta != 0.98 || a.R2 != 1 || a.N != 2 || !math.IsNaN(a.BetaCILo) || !math.IsNaN(a.BetaCIHi) ||
		a.Params["how"] != "append" || a.Unit != "ns/byte" || !reflect.DeepEqual(a.Warnings, r.Fits[0].Warnings) {
		t.Errorf("fit 0 = %+v", a)
	}
	if b := got.Fits[1]; b.Beta != -20.75 || b.BetaCILo != -118.2 || b.BetaCIHi != 76.7 || b.Name != "fit.lookup" {
		t.Errorf("fit 1 = %+v", b)
	}
	// Files without fits keep reading, and do not grow a "fits" field.
	none, err := json.Marshal(&Result{Schema: Schema})
	if err != nil || strings.Contains(string(none), "fits") {
		t.Errorf("empty fits written: %s %v", none, err)
	}
}
