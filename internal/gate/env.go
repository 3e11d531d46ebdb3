package gate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/result"
)

// envDiff checks two runs' environments field by field. What a nightly job tests — the kernel,
// containerd, each snapshotter's version, each driver's options — may differ: that difference is
// the point of the comparison, and it is listed (tested). What makes two runs incomparable — the
// machine (CPU model and count, memory), a driver's backing (filesystem, loop device, its direct
// I/O and write cache), the plan (the scenario file, quick or not, the samples per point), the measuring code — is listed
// as incomparable. A field one run does not record (an older file) is not judged.
func envDiff(base, next *result.Result) (tested, incomparable []EnvDiff) {
	add := func(to *[]EnvDiff, field, b, n string) {
		if b != n && b != "" && n != "" {
			*to = append(*to, EnvDiff{Field: field, Base: b, New: n})
		}
	}
	kernel := func(r *result.Result) string { k, _, _ := strings.Cut(r.Env.Kernel, " "); return k }
	add(&tested, "kernel", kernel(base), kernel(next))
	add(&tested, "containerd", base.Env.Containerd, next.Env.Containerd)
	add(&incomparable, "cpu model", base.Env.CPUModel, next.Env.CPUModel)
	add(&incomparable, "cpus", itoa(base.Env.CPUs), itoa(next.Env.CPUs))
	add(&incomparable, "memory", itoa64(base.Env.MemoryBytes), itoa64(next.Env.MemoryBytes))
	add(&incomparable, "scenario file (sha256)", base.Scenario.SHA256, next.Scenario.SHA256)
	add(&incomparable, "quick", strconv.FormatBool(base.Run.Quick), strconv.FormatBool(next.Run.Quick))
	if base.Run.Samples > 0 && next.Run.Samples > 0 {
		add(&incomparable, "samples per point", itoa(base.Run.Samples), itoa(next.Run.Samples))
	}
	add(&incomparable, "measuring code", base.Run.MeasureCode, next.Run.MeasureCode)
	add(&incomparable, "registry (pulls)", orInProcess(base.Run.Registry), orInProcess(next.Run.Registry))
	nextDrv := map[string]*result.DriverResult{}
	for i := range next.Drivers {
		nextDrv[next.Drivers[i].Name] = &next.Drivers[i]
	}
	for _, b := range base.Drivers {
		n := nextDrv[b.Name]
		if n == nil {
			continue
		}
		add(&tested, b.Name+" version", b.Version, n.Version)
		add(&tested, b.Name+" options", options(b.Options), options(n.Options))
		if b.Backing != nil && n.Backing != nil {
			add(&incomparable, b.Name+" backing", b.Backing.FS, n.Backing.FS)
			add(&incomparable, b.Name+" backing device", deviceKind(b.Backing), deviceKind(n.Backing))
			add(&incomparable, b.Name+" loop write cache", b.Backing.WriteCache, n.Backing.WriteCache)
		}
	}
	return tested, incomparable
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func itoa64(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// options renders a driver's options in a stable order.
func options(o map[string]string) string {
	var kv []string
	for k, v := range o {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, " ")
}

// deviceKind describes a backing's device without its number (loop devices are numbered by
// whoever attached first): "loop, direct I/O" or "none".
func deviceKind(b *result.Backing) string {
	switch {
	case b.Device == "":
		return "none"
	case strings.HasPrefix(b.Device, "/dev/loop"):
		return fmt.Sprintf("loop, direct I/O %v", b.DirectIO)
	}
	return b.Device
}

func orInProcess(registry string) string {
	if registry == "" {
		return "in process"
	}
	return registry
}
