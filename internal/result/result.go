// Package result is the result file: one JSON document per run (schema seedbench/result/v1) holding
// the raw samples of every metric, the environment they were measured in, and the verification
// checks. Raw samples are the source of truth; every summary can be recomputed from them. Fields may
// be added, never renamed.
package result

import (
	"fmt"
	"time"

	"github.com/seedbench/seedbench/internal/metric"
)

// Schema is the schema identifier written into every result file.
const Schema = "seedbench/result/v1"

// Result is one run.
type Result struct {
	Schema   string         `json:"schema"`
	Run      Run            `json:"run"`
	Scenario ScenarioRef    `json:"scenario"`
	Layers   []Layer        `json:"layers"`
	Env      Env            `json:"env"`
	Drivers  []DriverResult `json:"drivers"`
	Metrics  []Metric       `json:"metrics"`
	Checks   []Check        `json:"checks"`
	Fits     []Fit          `json:"fits,omitempty"`    // derived from Metrics (stats.Fits)
	Partial  bool           `json:"partial,omitempty"` // interrupted or failed before the end
	Noise    []NoiseSample  `json:"noise,omitempty"`   // machine-noise probes through the run
	Drift    *Drift         `json:"drift,omitempty"`   // the machine's drift over the run, from Noise
	// Pairs are the paired comparisons the scenario declared (each round visited their drivers
	// adjacently): `seedbench compare RUN.json` judges them.
	Pairs []Pair `json:"pairs,omitempty"`
	// Warnings are about the run as a whole (a reference that stopped being measured, …).
	Warnings []Warning `json:"warnings,omitempty"`
}

// Pair is a paired comparison of two drivers of one run: New judged against Base.
type Pair struct {
	Base string `json:"base"`
	New  string `json:"new"`
}

// Run identifies the run.
type Run struct {
	ID          string    `json:"id"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	ToolVersion string    `json:"tool_version"`
	Commit      string    `json:"commit,omitempty"`
	Args        []string  `json:"args"`
	Seed        int64     `json:"seed"`
	Quick       bool      `json:"quick,omitempty"`
	// Samples is the samples per parameter point the plan asked for (the scenario's, or --samples):
	// part of what makes two runs the same plan.
	Samples int `json:"samples,omitempty"`
	// Faults injected on purpose to measure the regression gate: such a run is no measurement of its
	// drivers, and compare says so.
	Faults []string `json:"faults,omitempty"`
	// MeasureCode identifies the measuring code the binary was built from (a hash of the engine,
	// measurement, backing and driver sources; "" for a build that could not tell): two runs are
	// comparable only when it is the same.
	MeasureCode string `json:"measure_code,omitempty"`
	// Shard is set on a shard's result (seedbench run --shard i/n): it holds the workload ops
	// assigned to shard i, and shard 1 also what is measured outside them (build, containers,
	// teardown). seedbench merge makes the whole run of all n.
	Shard *Shard `json:"shard,omitempty"`
	// Registry is the external registry the run's pulls used (http://HOST:PORT); "" = one in
	// process on loopback.
	Registry string `json:"registry,omitempty"`
	// EngineSeconds is the time the run spent outside every driver's clock, by phase: building the
	// layers' trees, publishing layers to the registry, the floors' turns, write-backs between
	// steps, noise probes (each driver's own time is DriverResult.PhaseSeconds).
	EngineSeconds map[string]float64 `json:"engine_seconds,omitempty"`
}

// Shard is one of Count parts of a run, 1-based.
type Shard struct {
	Index int `json:"index"`
	Count int `json:"count"`
}

// String writes the shard as "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Holds reports whether shard s runs workload op number op (0-based): ops are dealt round-robin,
// so each shard interleaves every driver on its ops as a whole run does.
func (s *Shard) Holds(op int) bool { return s == nil || s.Count <= 1 || op%s.Count == s.Index-1 }

// ScenarioRef identifies the scenario file.
type ScenarioRef struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// Layer is a layer as realised (counted from the generated tree).
type Layer struct {
	Name      string `json:"name"`
	Parent    string `json:"parent"`
	Source    string `json:"source"` // generate, files, generate+files, …
	Files     int    `json:"files"`
	Dirs      int    `json:"dirs"`
	Symlinks  int    `json:"symlinks"`
	Hardlinks int    `json:"hardlinks,omitempty"`
	Whiteouts int    `json:"whiteouts"`
	Opaques   int    `json:"opaques,omitempty"`
	Bytes     int64  `json:"bytes"`      // sum of regular file sizes
	DiskBytes int64  `json:"disk_bytes"` // block-rounded estimate (4 KiB per dir, sizes rounded up)
	// Image is, for a layer from an image, the image and the layer's place in it; Digest its blob's
	// digest and DiffID its tar's.
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	DiffID string `json:"diff_id,omitempty"`
}

// Env is the environment fingerprint.
type Env struct {
	Fingerprint string  `json:"fingerprint"`
	Kernel      string  `json:"kernel"`
	OS          string  `json:"os"`
	Arch        string  `json:"arch"`
	CPUModel    string  `json:"cpu_model"`
	CPUs        int     `json:"cpus"`
	MemoryBytes int64   `json:"memory_bytes"`
	Backing     Backing `json:"backing"` // of the first driver; each driver records its own
	Go          string  `json:"go"`
	Containerd  string  `json:"containerd"`
	Hostname    string  `json:"hostname,omitempty"`
	LoadAvg     string  `json:"loadavg,omitempty"`
}

// DriverResult is one driver's status in this run.
type DriverResult struct {
	Name         string            `json:"name"`
	Status       string            `json:"status"`            // ok | skipped | failed
	Version      string            `json:"version,omitempty"` // the snapshotter module's
	Reason       string            `json:"reason,omitempty"`
	Options      map[string]string `json:"options,omitempty"`
	Capabilities Capabilities      `json:"capabilities"`
	Backing      *Backing          `json:"backing,omitempty"`
	Seconds      float64           `json:"seconds,omitempty"`
	// PhaseSeconds splits Seconds by what the run was doing: open (backing and snapshotter),
	// build, containers, workload/<op>, verify, teardown, close. It counts the driver's timed calls
	// and the untimed work done for it alone (mounts, evictions, verification); run-wide steps
	// (write-back between rounds, dropping caches, calibration) are charged to no driver.
	PhaseSeconds map[string]float64 `json:"phase_seconds,omitempty"`
	// Unmeasured lists the metrics the run could not measure on this driver, and why (a backing it
	// cannot see has no disk use or page cache to read).
	Unmeasured []Unmeasured `json:"unmeasured,omitempty"`
}

// Unmeasured is a set of metrics not measured on a driver, and why.
type Unmeasured struct {
	Metrics []metric.ID `json:"metrics"`
	Reason  string      `json:"reason"`
}

// Capabilities are what kind of snapshotter a driver is, as the driver declared them
// (drivers.Capabilities, recorded).
type Capabilities struct {
	Remote        bool `json:"remote,omitempty"`
	Block         bool `json:"block,omitempty"`
	FUSE          bool `json:"fuse,omitempty"`
	CopyOnWriteFS bool `json:"cow_fs,omitempty"`
	FullCopy      bool `json:"full_copy,omitempty"`
	Overlay       bool `json:"overlay,omitempty"`
	Daemon        bool `json:"daemon,omitempty"`
	Proxy         bool `json:"proxy,omitempty"`
	PerMountCache bool `json:"per_mount_cache,omitempty"`
}

// Backing is the filesystem a driver stored its snapshots on (drivers.Backing, recorded).
type Backing struct {
	FS           string `json:"fs"`
	MountOptions string `json:"mount_options"`
	Device       string `json:"device"`
	Path         string `json:"path"`
	Dedicated    bool   `json:"dedicated"`
	DirectIO     bool   `json:"direct_io,omitempty"`
	WriteCache   string `json:"write_cache,omitempty"`
	// Hidden says why seedbench could not see where the driver stored its snapshots (a user's proxy
	// snapshotter): nothing was measured by reading the backing.
	Hidden string `json:"hidden,omitempty"`
}

// Driver statuses.
const (
	StatusOK      = "ok"
	StatusSkipped = "skipped"
	StatusFailed  = "failed"
)

// Metric is one series of samples at one parameter point.
type Metric struct {
	Driver   string            `json:"driver"`
	Name     metric.ID         `json:"name"`
	Unit     string            `json:"unit"`
	Params   map[string]string `json:"params"`
	Better   string            `json:"better"` // lower | higher
	Samples  []float64         `json:"samples"`
	Order    []int             `json:"order,omitempty"` // run-wide sequence number of each sample
	Summary  Summary           `json:"summary"`
	Warnings []Warning         `json:"warnings,omitempty"`
}

// Summary of a metric's samples (recomputable from them).
type Summary struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	CILo   float64 `json:"ci_lo"`
	CIHi   float64 `json:"ci_hi"`
	P95    float64 `json:"p95"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	// Confidence of [CILo, CIHi] (0.95, or lower when n is too small to reach it).
	Confidence float64 `json:"confidence,omitempty"`
	// The interval from the samples alone (order statistics), before the run's drift was folded into
	// [CILo, CIHi]; absent when no drift was applied (then it equals [CILo, CIHi]).
	SampleCILo float64 `json:"sample_ci_lo,omitempty"`
	SampleCIHi float64 `json:"sample_ci_hi,omitempty"`
}

// SampleCI is the interval from the samples alone: [SampleCILo, SampleCIHi] when a drift was
// folded into [CILo, CIHi], else [CILo, CIHi]. Drivers of one run are compared by it.
func (s Summary) SampleCI() (lo, hi float64) {
	if s.SampleCILo != 0 || s.SampleCIHi != 0 {
		return s.SampleCILo, s.SampleCIHi
	}
	return s.CILo, s.CIHi
}

// Check is one verification.
type Check struct {
	Driver string `json:"driver"`
	What   string `json:"what"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}
