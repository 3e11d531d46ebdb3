package result

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"syscall"
)

// WriteFile writes r to path as indented JSON, atomically: a reader sees the old file or the whole new
// one, never a torn write, even across a crash. It creates path's directory, writes a temporary file
// next to path, fsyncs it, renames it over path and fsyncs the directory (so the rename itself is
// durable). An empty Schema is written as the current one.
func WriteFile(path string, r *Result) error {
	_, err := write(path, r, true)
	return err
}

// WriteNew writes r as WriteFile does, but never replaces a file: when path exists (another run
// started in the same second), it writes NAME-2.json, NAME-3.json, … instead. It returns the path
// written.
func WriteNew(path string, r *Result) (string, error) {
	return write(path, r, false)
}

func write(path string, r *Result, replace bool) (_ string, err error) {
	c := *r
	if c.Schema == "" {
		c.Schema = Schema
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return "", fmt.Errorf("result: %s: %w", path, err)
	}
	b = append(b, '\n')

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("result: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("result: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return "", fmt.Errorf("result: %w", err)
	}
	if err = tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600
		return "", fmt.Errorf("result: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return "", fmt.Errorf("result: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", fmt.Errorf("result: %w", err)
	}
	if replace {
		err = os.Rename(tmp.Name(), path)
	} else {
		// A hard link fails rather than replace an existing name; the temporary name goes after.
		ext := filepath.Ext(path)
		stem := strings.TrimSuffix(path, ext)
		for i := 1; ; i++ {
			cand := path
			if i > 1 {
				cand = stem + "-" + strconv.Itoa(i) + ext
			}
			if err = os.Link(tmp.Name(), cand); !errors.Is(err, os.ErrExist) {
				path = cand
				break
			}
		}
		if err == nil {
			err = os.Remove(tmp.Name())
		}
	}
	if err != nil {
		return "", fmt.Errorf("result: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", fmt.Errorf("result: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return "", fmt.Errorf("result: sync %s: %w", dir, err)
	}
	return path, nil
}

// ReadFile reads a result file. A file whose schema is not seedbench/result/v1 is an error naming the
// file and the schema found. Unknown fields are ignored, so newer files (with added fields) read.
func ReadFile(path string) (*Result, error) {
	// O_NONBLOCK: a FIFO given by mistake opens without waiting for a writer, then is refused.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("result: %s is not a regular file: name a result file (.json)", path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("result: %s: not a seedbench result file: %w", path, err)
	}
	switch {
	case head.Schema == nil:
		return nil, fmt.Errorf("result: %s: not a seedbench result file (no \"schema\" field; want %q)", path, Schema)
	case *head.Schema != Schema:
		return nil, fmt.Errorf("result: %s: schema %q, want %q", path, *head.Schema, Schema)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("result: %s: %w", path, err)
	}
	return &r, nil
}

// Add appends a metric.
func (r *Result) Add(m Metric) {
	r.Metrics = append(r.Metrics, m)
}

// Find returns the metrics of driver named name whose params include every key=value of params
// (a subset match: nil params match all). An empty driver or name matches any. The pointers alias
// r.Metrics and are valid until the next Add.
func (r *Result) Find(driver string, name metric.ID, params map[string]string) []*Metric {
	var out []*Metric
	for i := range r.Metrics {
		m := &r.Metrics[i]
		if driver != "" && m.Driver != driver || name != "" && m.Name != name {
			continue
		}
		ok := true
		for k, v := range params {
			if got, has := m.Params[k]; !has || got != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// Resummarize recomputes every metric's Summary from its raw samples with summarize (normally
// stats.Summarize; passed in so this package does not depend on stats). summarize must not modify
// the slice it is given: raw samples are the source of truth.
func (r *Result) Resummarize(summarize func([]float64) Summary) {
	for i := range r.Metrics {
		r.Metrics[i].Summary = summarize(r.Metrics[i].Samples)
	}
}

// PointKey identifies a metric's series within a driver: its name and parameters.
func PointKey(name metric.ID, params map[string]string) string {
	return string(name) + "\x00" + ParamsKey(params)
}

// MetricKey identifies one series of a result: driver, name and parameters. Every reader that
// matches metrics (the recorder, compare, fits, reports, merge) uses it.
func MetricKey(driver string, name metric.ID, params map[string]string) string {
	return driver + "\x00" + PointKey(name, params)
}

// Key is m's MetricKey.
func (m *Metric) Key() string { return MetricKey(m.Driver, m.Name, m.Params) }

// ParamsKey is a canonical string of params: key=value pairs sorted by key, each ended by a NUL.
func ParamsKey(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + params[k] + "\x00")
	}
	return b.String()
}
