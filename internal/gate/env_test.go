package gate

import (
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/result"
)

// TestEnvDiff: which environment fields a comparison tests, which make runs incomparable, and which
// are not judged (a field one run does not record, a loop device's number, a kernel's build string).
func TestEnvDiff(t *testing.T) {
	drv := func(r *result.Result) *result.DriverResult { return &r.Drivers[0] }
	for _, c := range []struct {
		name                 string
		change               func(*result.Result)
		tested, incomparable []string
	}{
		{"nothing", func(*result.Result) {}, nil, nil},
		{"a kernel's build", func(r *result.Result) { r.Env.Kernel = "6.18 #2 SMP" }, nil, nil},
		{"a kernel", func(r *result.Result) { r.Env.Kernel = "6.19 x" }, []string{"kernel"}, nil},
		{"containerd", func(r *result.Result) { r.Env.Containerd = "2.1" }, []string{"containerd"}, nil},
		{"a snapshotter's version", func(r *result.Result) { drv(r).Version = "v2" }, []string{"overlayfs version"}, nil},
		{"a driver's options", func(r *result.Result) { drv(r).Options = map[string]string{"metacopy": "on"} }, []string{"overlayfs options"}, nil},
		{"a driver's options in another order", func(r *result.Result) { drv(r).Options = map[string]string{"redirect_dir": "on", "metacopy": "off"} }, nil, nil},
		{"the CPU", func(r *result.Result) { r.Env.CPUModel = "other" }, nil, []string{"cpu model"}},
		{"the CPUs", func(r *result.Result) { r.Env.CPUs = 4 }, nil, []string{"cpus"}},
		{"the memory", func(r *result.Result) { r.Env.MemoryBytes = 1 << 33 }, nil, []string{"memory"}},
		{"the scenario file", func(r *result.Result) { r.Scenario.SHA256 = "q" }, nil, []string{"scenario file (sha256)"}},
		{"quick", func(r *result.Result) { r.Run.Quick = true }, nil, []string{"quick"}},
		{"samples per point", func(r *result.Result) { r.Run.Samples = 8 }, nil, []string{"samples per point"}},
		{"the measuring code", func(r *result.Result) { r.Run.MeasureCode = "m2" }, nil, []string{"measuring code"}},
		{"a registry", func(r *result.Result) { r.Run.Registry = "http://r:5000" }, nil, []string{"registry (pulls)"}},
		{"a backing filesystem", func(r *result.Result) { drv(r).Backing.FS = "xfs" }, nil, []string{"overlayfs backing"}},
		{"another loop device", func(r *result.Result) { drv(r).Backing.Device = "/dev/loop7" }, nil, nil},
		{"direct I/O", func(r *result.Result) { drv(r).Backing.DirectIO = true }, nil, []string{"overlayfs backing device"}},
		{"no device", func(r *result.Result) { drv(r).Backing.Device = "" }, nil, []string{"overlayfs backing device"}},
		{"the loop's write cache", func(r *result.Result) { drv(r).Backing.WriteCache = "write through" }, nil, []string{"overlayfs loop write cache"}},
		{"a field not recorded", func(r *result.Result) { r.Env.CPUModel, r.Env.Containerd, r.Run.MeasureCode = "", "", "" }, nil, nil},
		{"a driver in one run only", func(r *result.Result) { drv(r).Name = "native" }, nil, nil},
	} {
		base, next := envRun(), envRun()
		base.Run.Samples = 6
		c.change(next)
		tested, incomparable := envDiff(base, next)
		if !slices.Equal(fields(tested), c.tested) || !slices.Equal(fields(incomparable), c.incomparable) {
			t.Errorf("%s: tested %v, incomparable %v; want %v, %v", c.name, tested, incomparable, c.tested, c.incomparable)
		}
	}
	// Samples per point are compared only when both runs record them.
	base, next := envRun(), envRun()
	next.Run.Samples = 8
	if _, inc := envDiff(base, next); len(inc) != 0 {
		t.Errorf("samples recorded by one run: %v", inc)
	}
}

func envRun() *result.Result {
	r := runOf("r")
	r.Env.Containerd = "2.0"
	r.Drivers = []result.DriverResult{{Name: "overlayfs", Status: "ok", Version: "v1", Options: map[string]string{"metacopy": "off", "redirect_dir": "on"},
		Backing: &result.Backing{FS: "ext4", Device: "/dev/loop0", WriteCache: "write back"}}}
	return r
}

func fields(ds []EnvDiff) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Field)
	}
	return out
}

// TestCompareRefuses: incomparable runs are refused with every field named, unless forced; a forced
// comparison reports them, and faults injected into either run are listed.
func TestCompareRefuses(t *testing.T) {
	base, next := envRun(), envRun()
	base.Metrics, next.Metrics = lookups("overlayfs", 1), lookups("overlayfs", 1)
	next.Env.CPUs, next.Drivers[0].Backing.FS = 4, "xfs"
	_, err := Compare(base, next, Options{})
	if err == nil || !strings.Contains(err.Error(), "cpus (2 against 4); overlayfs backing (ext4 against xfs) differ") {
		t.Fatalf("incomparable: %v", err)
	}
	rep, err := Compare(base, next, Options{Force: true})
	if err != nil || len(rep.Incomparable) != 2 || len(rep.Classes) != 1 {
		t.Errorf("forced: %v %+v", err, rep)
	}
	next = envRun()
	next.Metrics = lookups("overlayfs", 1)
	base.Run.ID, next.Run.ID = "a", "b"
	base.Run.Faults, next.Run.Faults = []string{"write:modify:+1MiB"}, []string{"slow:op.lookup:+10%"}
	base.Env.CPUs = 2
	base.Drivers[0].Backing.FS = "ext4"
	rep = compare(t, base, next, Options{})
	if !slices.Equal(rep.Faults, []string{"a: write:modify:+1MiB", "b: slow:op.lookup:+10%"}) {
		t.Errorf("faults %v", rep.Faults)
	}
}
