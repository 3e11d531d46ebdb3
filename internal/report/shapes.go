package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// A shape is a published claim about how drivers differ, kept as data (shapes.yaml) and checked
// against a result: what is expected, what the result measured, whether the claim holds there, and
// the mechanism behind it. A shape whose drivers or metrics the result lacks is left out.
type shape struct {
	Claim      string        `yaml:"claim"`
	Why        string        `yaml:"why"`
	Measure    shapeMeasure  `yaml:"measure"`
	Expect     []shapeExpect `yaml:"expect"`
	RequireAll bool          `yaml:"require_all"`
	MinAt      float64       `yaml:"min_at"`
}

type shapeMeasure struct {
	Metric     metric.ID         `yaml:"metric"`
	Fit        metric.ID         `yaml:"fit"`
	Params     map[string]string `yaml:"params"`
	At         string            `yaml:"at"`
	Reduce     string            `yaml:"reduce"`
	Per        string            `yaml:"per"`
	RelativeTo string            `yaml:"relative_to"`
	Format     string            `yaml:"format"`
	Label      string            `yaml:"label"`
	RefFormat  string            `yaml:"ref_format"`
}

type shapeExpect struct {
	Drivers        []string `yaml:"drivers"`
	Ratio          []string `yaml:"ratio"`
	Below          *float64 `yaml:"below"`
	AtLeast        *float64 `yaml:"atleast"`
	AtLeastTimesAt *float64 `yaml:"atleast_times_at"`
}

//go:embed shapes.yaml
var shapesYAML []byte

// shapes are the published shapes, decoded strictly once (TestShapesFile checks the file).
var shapes, shapesErr = decodeShapes(shapesYAML)

func decodeShapes(b []byte) ([]shape, error) {
	var out []shape
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("shapes.yaml: %w", err)
	}
	return out, nil
}

// shapePoint is one driver's measured value, with the at and per values it was picked at.
type shapePoint struct {
	v       float64
	at, per string
}

// measure picks each driver's value.
func (m *shapeMeasure) measure(r *result.Result) map[string]shapePoint {
	match := func(params map[string]string) bool {
		for k, v := range m.Params {
			got, has := params[k]
			if v == "*" && !has || v != "*" && has && got != v {
				return false
			}
		}
		return true
	}
	type cand struct {
		params map[string]string
		v      float64
	}
	by := map[string][]cand{}
	if m.Fit != "" {
		fits := r.Fits
		if len(fits) == 0 {
			fits = stats.Fits(r) // a result written before fits were
		}
		for _, f := range fits {
			if f.Name == m.Fit && match(f.Params) && !math.IsNaN(f.Beta) {
				by[f.Driver] = append(by[f.Driver], cand{f.Params, f.Beta})
			}
		}
	}
	for _, x := range r.Metrics {
		if m.Metric != "" && x.Name == m.Metric && match(x.Params) && x.Summary.N > 0 {
			by[x.Driver] = append(by[x.Driver], cand{x.Params, x.Summary.Median})
		}
	}
	// The largest value of the at key over every driver: all drivers are read at one point.
	atMost := math.Inf(-1)
	for _, cs := range by {
		for _, c := range cs {
			if v, ok := metric.Number(c.params[m.At]); ok && m.At != "" {
				atMost = max(atMost, v)
			}
		}
	}
	out := map[string]shapePoint{}
	for d, cs := range by {
		var best *shapePoint
		for _, c := range cs {
			if m.At != "" {
				if v, ok := metric.Number(c.params[m.At]); !ok || v != atMost {
					continue
				}
			}
			p := shapePoint{v: c.v, at: c.params[m.At], per: c.params[m.Per]}
			if m.Per != "" {
				size, ok := metric.Number(p.per)
				if !ok || size <= 0 {
					continue
				}
				p.v /= size
			}
			if best == nil || m.Reduce == "max" && p.v > best.v {
				best = &p
			}
		}
		if best != nil {
			out[d] = *best
		}
	}
	return out
}

// check evaluates s against r: the measured line, whether the claim holds, and whether it applies.
func (s *shape) check(r *result.Result) (measured string, holds, ok bool) {
	pts := s.Measure.measure(r)
	ref := 1.0
	refText := ""
	if d := s.Measure.RelativeTo; d != "" {
		p, has := pts[d]
		if !has || !(p.v > 0) {
			return "", false, false
		}
		ref = p.v
		switch s.Measure.RefFormat {
		case "rate":
			refText = FormatRate(1e9 / p.v)
		default:
			refText = FormatNanos(p.v)
		}
	}
	holds = true
	var parts []string
	var at, per string
	shown := map[string]bool{}
	show := func(d string) {
		if !shown[d] {
			shown[d] = true
			parts = append(parts, d+" "+s.format(pts[d].v/ref))
		}
	}
	for _, e := range s.Expect {
		if len(e.Ratio) == 2 {
			a, hasA := pts[e.Ratio[0]]
			b, hasB := pts[e.Ratio[1]]
			if !hasA || !hasB || !(b.v > 0) {
				return "", false, false
			}
			x := a.v / b.v
			holds = holds && e.holds(x, 0)
			show(e.Ratio[0])
			show(e.Ratio[1])
			parts[len(parts)-1] += fmt.Sprintf(" (×%.0f)", x)
			continue
		}
		for _, d := range e.Drivers {
			p, has := pts[d]
			if !has {
				if s.RequireAll {
					return "", false, false
				}
				continue
			}
			atV, _ := metric.Number(p.at)
			if s.MinAt > 0 && atV < s.MinAt {
				return "", false, false
			}
			at, per = p.at, p.per
			holds = holds && e.holds(p.v/ref, atV)
			show(d)
		}
	}
	if len(parts) == 0 {
		return "", false, false
	}
	label := strings.NewReplacer("{ref}", refText, "{at}", at, "{per}", per).Replace(s.Measure.Label)
	return label + ": " + strings.Join(parts, ", "), holds, true
}

func (e *shapeExpect) holds(v, at float64) bool {
	ok := true
	if e.Below != nil {
		ok = ok && v < *e.Below
	}
	if e.AtLeast != nil {
		ok = ok && v >= *e.AtLeast
	}
	if e.AtLeastTimesAt != nil {
		ok = ok && v > *e.AtLeastTimesAt*at
	}
	return ok
}

func (s *shape) format(v float64) string {
	switch s.Measure.Format {
	case "percent":
		return pct(v)
	case "multiple":
		return strconv.FormatFloat(v, 'f', 1, 64) + "×"
	case "ratio2":
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return FormatNanos(v)
}

// shapesSections are the shapes the result can check (whether each holds here, and the figures), and
// nothing when none applies.
func shapesSections(r *result.Result) []*Section {
	if shapesErr != nil {
		return []*Section{{Title: "shapes", Level: 2, Lines: []string{shapesErr.Error()}}}
	}
	s := &Section{Title: "shapes", Level: 2, Bullets: true}
	for i := range shapes {
		measured, holds, ok := shapes[i].check(r)
		if !ok {
			continue
		}
		verdict := "holds"
		if !holds {
			verdict = "does NOT hold here"
		}
		s.Lines = append(s.Lines, fmt.Sprintf("%s: %s. %s", shapes[i].Claim, verdict, measured))
	}
	if len(s.Lines) == 0 {
		return nil
	}
	return []*Section{s}
}

// shapesWhySection explains the mechanism behind each shape the result checks (a detail).
func shapesWhySection(r *result.Result) *Section {
	s := &Section{Title: "why the shapes hold", Level: 2, Bullets: true, Detail: true}
	for i := range shapes {
		if _, _, ok := shapes[i].check(r); ok {
			s.Lines = append(s.Lines, shapes[i].Claim+": "+strings.Join(strings.Fields(shapes[i].Why), " "))
		}
	}
	if len(s.Lines) == 0 {
		return nil
	}
	return s
}

func pct(frac float64) string {
	if math.Abs(frac) < 0.0005 {
		return "0.0%"
	}
	if math.Abs(frac) < 0.1 {
		return strconv.FormatFloat(100*frac, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(100*frac, 'f', 0, 64) + "%"
}

// shapeMetrics lists the metric and fit names the shapes read (for TestShapesFile).
func shapeMetrics() []metric.ID {
	var out []metric.ID
	for _, s := range shapes {
		for _, n := range []metric.ID{s.Measure.Metric, s.Measure.Fit} {
			if n != "" && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}
