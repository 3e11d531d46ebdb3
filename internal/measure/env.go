package measure

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/result"
)

// Files read by Env and Noise; variables for tests.
var (
	procCPUInfo    = "/proc/cpuinfo"
	procMemInfo    = "/proc/meminfo"
	procLoadAvg    = "/proc/loadavg"
	procPressure   = "/proc/pressure/cpu"
	etcOSRelease   = "/etc/os-release"
	containerdPath = "github.com/containerd/containerd/v2"
)

// Env fingerprints the machine a result is measured on: kernel (uname release and version), OS
// (PRETTY_NAME of /etc/os-release), architecture, CPU model and count, memory, Go version, the
// containerd module linked into this binary ("unknown" if none), hostname and load average. A field
// that cannot be read is left empty (or "unknown") rather than failing the run.
//
// Fingerprint is a short hash of the stable parts (kernel, CPU model, CPUs, memory, OS): two results
// with the same fingerprint were measured on the same kind of machine. Backing is left for the
// caller, which knows the driver's filesystem.
func Env(ctx context.Context) result.Env {
	_ = ctx // reading /proc does not block; kept so a future probe (e.g. a CPU benchmark) can be cancelled
	e := result.Env{
		Arch:       runtime.GOARCH,
		CPUs:       runtime.NumCPU(),
		Go:         runtime.Version(),
		Containerd: containerdVersion(),
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		e.Kernel = strings.TrimSpace(unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Version[:]))
	}
	e.OS = osRelease()
	e.CPUModel = cpuModel()
	e.MemoryBytes = memTotal()
	e.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile(procLoadAvg); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			e.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	e.Fingerprint = Fingerprint(e)
	return e
}

// Fingerprint hashes the stable parts of an environment (kernel, CPU model, CPUs, memory, OS) into
// 12 hex digits.
func Fingerprint(e result.Env) string {
	h := sha256.New()
	for _, s := range []string{e.Kernel, e.CPUModel, strconv.Itoa(e.CPUs), strconv.FormatInt(e.MemoryBytes, 10), e.OS} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func containerdVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path != containerdPath {
			continue
		}
		if d.Replace != nil {
			if d.Replace.Version != "" {
				return d.Replace.Version + " (replaced)"
			}
			return d.Version + " (replaced by " + d.Replace.Path + ")"
		}
		return d.Version
	}
	return "unknown"
}

func osRelease() string {
	for _, line := range readLines(etcOSRelease) {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			if uq, err := strconv.Unquote(v); err == nil {
				return uq
			}
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// cpuModel is the first "model name" of /proc/cpuinfo (x86); other architectures name the CPU in
// other fields.
func cpuModel() string {
	fallback := ""
	for _, line := range readLines(procCPUInfo) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "model name":
			return v
		case "Hardware", "uarch", "cpu", "CPU part":
			if fallback == "" {
				fallback = v
			}
		}
	}
	return fallback
}

func memTotal() int64 {
	for _, line := range readLines(procMemInfo) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

func readLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// NoiseProbe is a snapshot of how busy the machine is, taken around measurements so a result can say
// when a neighbour was noisy.
type NoiseProbe struct {
	Load1 float64 `json:"load1"` // 1-minute load average; -1 if unreadable
	// CPUSomeAvg10 is the share of the last 10 s (percent) in which some task waited for a CPU, from
	// /proc/pressure/cpu; -1 when the kernel has no PSI.
	CPUSomeAvg10 float64 `json:"cpu_some_avg10"`
}

// Noise reads the load average and CPU pressure.
func Noise() NoiseProbe {
	p := NoiseProbe{Load1: -1, CPUSomeAvg10: -1}
	if b, err := os.ReadFile(procLoadAvg); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				p.Load1 = v
			}
		}
	}
	for _, line := range readLines(procPressure) {
		rest, ok := strings.CutPrefix(line, "some ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			if v, ok := strings.CutPrefix(kv, "avg10="); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					p.CPUSomeAvg10 = x
				}
			}
		}
	}
	return p
}
