package result

import (
	"encoding/json"
	"math"

	"github.com/seedbench/seedbench/internal/metric"
)

// Fit is a derived metric: a line y = Alpha + Beta·x through one driver's metric at one parameter
// point, e.g. copy-up latency against file size (stats.Fits: Method says how). Alpha is in ns (the
// fixed cost; null when it is not shown); Beta in Unit; BetaCILo..BetaCIHi is Beta's 95% confidence
// interval; Flat says the cost does not grow with x (then Beta is no rate to quote). N counts the
// samples, Points the distinct x. A fit of 2 points has no interval: non-finite fields are written
// as JSON null and read back as NaN. Fits are recomputable from the samples (stats.Fits); files
// written before Method was recorded hold least-squares fits over every sample.
type Fit struct {
	Driver   string            `json:"driver"`
	Name     metric.ID         `json:"name"` // metric.FitCopyup | metric.FitLookup
	Params   map[string]string `json:"params"`
	Alpha    float64           `json:"alpha"`
	Beta     float64           `json:"beta"`
	R2       float64           `json:"r2"`
	N        int               `json:"n"`
	BetaCILo float64           `json:"beta_ci_lo"`
	BetaCIHi float64           `json:"beta_ci_hi"`
	Unit     string            `json:"unit"`               // of Beta: "ns/byte", "ns/layer"
	Excluded int               `json:"excluded,omitempty"` // outlying samples left out (older files)
	Points   int               `json:"points,omitempty"`
	Flat     bool              `json:"flat,omitempty"`
	Method   string            `json:"method,omitempty"`
	Warnings []Warning         `json:"warnings,omitempty"`
}

// fitJSON is Fit with nullable numbers (encoding/json refuses NaN and ±Inf).
type fitJSON struct {
	Driver   string            `json:"driver"`
	Name     metric.ID         `json:"name"`
	Params   map[string]string `json:"params"`
	Alpha    *float64          `json:"alpha"`
	Beta     *float64          `json:"beta"`
	R2       *float64          `json:"r2"`
	N        int               `json:"n"`
	BetaCILo *float64          `json:"beta_ci_lo"`
	BetaCIHi *float64          `json:"beta_ci_hi"`
	Unit     string            `json:"unit"`
	Excluded int               `json:"excluded,omitempty"`
	Points   int               `json:"points,omitempty"`
	Flat     bool              `json:"flat,omitempty"`
	Method   string            `json:"method,omitempty"`
	Warnings []Warning         `json:"warnings,omitempty"`
}

func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func nilAsNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes non-finite numbers as null.
func (f Fit) MarshalJSON() ([]byte, error) {
	return json.Marshal(fitJSON{
		Driver: f.Driver, Name: f.Name, Params: f.Params,
		Alpha: finiteOrNil(f.Alpha), Beta: finiteOrNil(f.Beta), R2: finiteOrNil(f.R2), N: f.N,
		BetaCILo: finiteOrNil(f.BetaCILo), BetaCIHi: finiteOrNil(f.BetaCIHi),
		Unit: f.Unit, Excluded: f.Excluded, Points: f.Points, Flat: f.Flat, Method: f.Method, Warnings: f.Warnings,
	})
}

// UnmarshalJSON reads null (or absent) numbers as NaN.
func (f *Fit) UnmarshalJSON(b []byte) error {
	var j fitJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Fit{
		Driver: j.Driver, Name: j.Name, Params: j.Params,
		Alpha: nilAsNaN(j.Alpha), Beta: nilAsNaN(j.Beta), R2: nilAsNaN(j.R2), N: j.N,
		BetaCILo: nilAsNaN(j.BetaCILo), BetaCIHi: nilAsNaN(j.BetaCIHi),
		Unit: j.Unit, Excluded: j.Excluded, Points: j.Points, Flat: j.Flat, Method: j.Method, Warnings: j.Warnings,
	}
	return nil
}
