package replay

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/seedbench/seedbench/internal/result"
)

// Units of the metrics the engine records.
const (
	unitNS    = "ns"
	unitBytes = "bytes"
	unitRatio = "ratio"
)

// recorder collects samples into metrics keyed by driver, name and parameters. It stamps every
// sample with a run-wide sequence number, so drift over a run can be told from a driver difference.
type recorder struct {
	seq     int
	metrics map[string]*result.Metric
	order   []string
}

func newRecorder() *recorder { return &recorder{metrics: map[string]*result.Metric{}} }

// p builds a parameter map from key, value pairs.
func p(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func metricKey(driver, name string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(driver)
	b.WriteByte('|')
	b.WriteString(name)
	for _, k := range keys {
		b.WriteByte('|')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

func better(name string) string {
	if strings.HasSuffix(name, "shared_savings") {
		return "higher"
	}
	return "lower"
}

func (r *recorder) metric(driver, name, unit string, params map[string]string) *result.Metric {
	k := metricKey(driver, name, params)
	m, ok := r.metrics[k]
	if !ok {
		m = &result.Metric{Driver: driver, Name: name, Unit: unit, Params: params, Better: better(name)}
		r.metrics[k] = m
		r.order = append(r.order, k)
	}
	return m
}

// add records one sample.
func (r *recorder) add(driver, name, unit string, params map[string]string, v float64) {
	m := r.metric(driver, name, unit, params)
	r.seq++
	m.Samples = append(m.Samples, v)
	m.Order = append(m.Order, r.seq)
}

// ns records a duration in nanoseconds.
func (r *recorder) ns(driver, name string, params map[string]string, d time.Duration) {
	r.add(driver, name, unitNS, params, float64(d.Nanoseconds()))
}

// warn attaches a warning to a metric (created if needed).
func (r *recorder) warn(driver, name, unit string, params map[string]string, w string) {
	if m := r.metric(driver, name, unit, params); !slices.Contains(m.Warnings, w) {
		m.Warnings = append(m.Warnings, w)
	}
}

// list returns the metrics in the order they were first recorded.
func (r *recorder) list() []result.Metric {
	out := make([]result.Metric, 0, len(r.order))
	for _, k := range r.order {
		out = append(out, *r.metrics[k])
	}
	return out
}
