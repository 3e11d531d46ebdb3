package result

// NoiseSample is a machine-noise probe taken as a phase, an op or a sample round of one starts: the load
// average, the CPU pressure (share of the last 10 s in which some task waited for a CPU; -1 without
// PSI), and a calibration reading (measure.Calibration: a warm stat and a 4 KiB write+fdatasync,
// both of one file outside every driver; 0 when not taken). Seq is the sample sequence number at
// that moment, so each metric's samples can be matched to the noise around them through their Order.
type NoiseSample struct {
	Seq          int     `json:"seq"`
	What         string  `json:"what"`
	Round        int     `json:"round,omitempty"` // the sample round of What it precedes, from 1 (0: a phase or an op)
	Load1        float64 `json:"load1"`
	CPUSomeAvg10 float64 `json:"cpu_some_avg10"`
	StatNs       float64 `json:"stat_ns,omitempty"`
	SyncNs       float64 `json:"sync_ns,omitempty"`
}

// Drift is how much the machine's own speed wandered over a run, from the calibration readings in
// Noise: for each task, the half-width (a fraction of the median) of a 95% range of its readings on
// a log scale, from their median absolute deviation (robust: the odd reading disturbed by the run's
// own previous phase does not count). It is folded into every time metric's confidence interval — Stat into all of them,
// Sync too into those whose cost includes flushes to the device (copy-ups, snapshot and layer
// calls) — so a re-run on the same machine lands within the interval unless the machine changes
// more between runs than it did during this one. Within a run every driver sees the same drift
// (rounds visit them in a shuffled order), so ratios between drivers are judged by the samples' own
// interval (Summary.SampleCILo..SampleCIHi).
type Drift struct {
	Probes int     `json:"probes"`
	Stat   float64 `json:"stat"`
	Sync   float64 `json:"sync"`
}
