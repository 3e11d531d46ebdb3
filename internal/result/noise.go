package result

// NoiseSample is a machine-noise probe taken as a phase or an op starts: the load average and the
// CPU pressure (share of the last 10 s in which some task waited for a CPU; -1 without PSI). Seq is
// the sample sequence number at that moment, so each metric's samples can be matched to the noise
// around them through their Order.
type NoiseSample struct {
	Seq          int     `json:"seq"`
	What         string  `json:"what"`
	Load1        float64 `json:"load1"`
	CPUSomeAvg10 float64 `json:"cpu_some_avg10"`
}
