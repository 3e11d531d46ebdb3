package replay

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/seedbench/seedbench/internal/fault"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// recorder collects samples into metrics keyed by driver, name and parameters. It stamps every
// sample with a run-wide sequence number, so drift over a run can be told from a driver difference.
// It records only what the metric catalogue declares: an unknown metric, an undeclared parameter or
// a sample in the wrong unit is a bug of the engine, kept in err (the run fails with it) and never
// written into a result.
type recorder struct {
	mu      sync.Mutex // drivers may record side by side in untimed work (eachAtOnce)
	seq     int
	metrics map[string]*result.Metric
	order   []string
	err     error
	faults  []fault.Fault // injected on purpose (Options.Faults)
	// phase tells the engine's phase when a metric is first recorded (phaseOf, by key): a shard
	// keeps its ops' metrics by it.
	phase   func() string
	phaseOf map[string]string
}

func newRecorder() *recorder {
	return &recorder{metrics: map[string]*result.Metric{}, phaseOf: map[string]string{}}
}

// p builds a parameter map from key, value pairs (keys are metric.P* constants).
func p(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// metric returns the series of driver's metric id at params, creating it; nil (and err set) when
// the catalogue does not allow it, or allows it in another unit than unit ("" = any).
func (r *recorder) metric(driver string, id metric.ID, params map[string]string, unit metric.Unit) *result.Metric {
	k := result.MetricKey(driver, id, params)
	if m, ok := r.metrics[k]; ok {
		return m
	}
	def, known := metric.Lookup(id)
	var err error
	switch {
	case !known:
		err = fmt.Errorf("recorder: %s is not in the metric catalogue (internal/metric)", id)
	case def.Kind == metric.Derived:
		err = fmt.Errorf("recorder: %s is derived, not recorded", id)
	case unit != "" && def.Unit != unit:
		err = fmt.Errorf("recorder: %s is in %s, not %s", id, def.Unit, unit)
	default:
		err = def.Check(params)
	}
	if err != nil {
		if r.err == nil {
			r.err = err
		}
		return nil
	}
	m := &result.Metric{Driver: driver, Name: id, Unit: def.Unit, Params: params, Better: def.Better}
	r.metrics[k] = m
	r.order = append(r.order, k)
	if r.phase != nil {
		r.phaseOf[k] = r.phase()
	}
	return m
}

// add records one sample of a quantity (in the metric's own unit).
func (r *recorder) add(driver string, id metric.ID, params map[string]string, v float64) {
	r.sample(driver, id, params, "", v)
}

// ns records a duration. An injected slow fault that matches lengthens it, really: the time is
// spent (spin) before it is recorded.
func (r *recorder) ns(driver string, id metric.ID, params map[string]string, d time.Duration) {
	for i := range r.faults {
		if f := r.faults[i].Slows(id, params); f > 0 && r.faults[i].Faults(driver) {
			extra := time.Duration(float64(d) * f)
			spin(extra)
			d += extra
		}
	}
	r.sample(driver, id, params, metric.NS, float64(d.Nanoseconds()))
}

func (r *recorder) sample(driver string, id metric.ID, params map[string]string, unit metric.Unit, v float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.metric(driver, id, params, unit)
	if m == nil {
		return
	}
	r.seq++
	m.Samples = append(m.Samples, v)
	m.Order = append(m.Order, r.seq)
}

// warn attaches a warning to a metric (created if needed).
func (r *recorder) warn(driver string, id metric.ID, params map[string]string, w result.Warning) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.metric(driver, id, params, ""); m != nil && !slices.Contains(m.Warnings, w) {
		m.Warnings = append(m.Warnings, w)
	}
}

// find returns driver's series of id at params, or nil.
func (r *recorder) find(driver string, id metric.ID, params map[string]string) *result.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.metrics[result.MetricKey(driver, id, params)]
}

// list returns the metrics in the order they were first recorded.
func (r *recorder) list() []result.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]result.Metric, 0, len(r.order))
	for _, k := range r.order {
		out = append(out, *r.metrics[k])
	}
	return out
}
