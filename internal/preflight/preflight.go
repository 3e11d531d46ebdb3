// Package preflight checks, before anything is built or mounted, that this host can hold what a run
// is expected to take — disk space and inodes on the work dir's filesystem, memory, loop devices —
// and refuses with the numbers, the drivers concerned and the fix when it cannot. The estimate is
// internal/sizing's (sizing.Estimate): the same formulas that size the drivers' backings.
//
//	ns := sizing.Estimate(plan, ds)
//	host, err := preflight.Probe(workdir)
//	err = preflight.Check(ns, host)
package preflight

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/sizing"
)

// Host is what this host offers a run.
type Host struct {
	// FS is the directory whose filesystem was measured: the work dir, or its nearest existing
	// parent.
	FS string
	// DiskFree is the bytes available on it, InodesFree its free inodes (-1: it has no inode limit,
	// as btrfs).
	DiskFree, InodesFree int64
	// MemAvailable is /proc/meminfo's estimate of the memory available without swapping.
	MemAvailable int64
	// LoopControl: /dev/loop-control exists, so loop devices can be attached.
	LoopControl bool
}

// Probe measures the host for a run whose work dir is workdir (which need not exist yet).
func Probe(workdir string) (Host, error) {
	dir, err := filepath.Abs(workdir)
	if err != nil {
		return Host{}, err
	}
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	h := Host{FS: dir, InodesFree: -1}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return h, fmt.Errorf("statfs %s: %w", dir, err)
	}
	h.DiskFree = int64(st.Bavail) * st.Bsize
	if st.Files > 0 {
		h.InodesFree = int64(st.Ffree)
	}
	if h.MemAvailable, err = memAvailable(); err != nil {
		return h, err
	}
	_, err = os.Stat("/dev/loop-control")
	h.LoopControl = err == nil
	return h, nil
}

func memAvailable() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// MemAvailable:   22374000 kB
		if rest, ok := strings.CutPrefix(s.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo: MemAvailable: %w", err)
			}
			return kb << 10, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("/proc/meminfo has no MemAvailable")
}

// Check compares what a run needs with what the host offers, and returns every shortfall, each
// with the numbers, the drivers concerned and the fix. nil means the run fits.
func Check(ns sizing.Needs, h Host) error {
	var errs []error

	if need := ns.Disk(); need > h.DiskFree {
		var lines []string
		for _, n := range ns.Drivers {
			if d := n.Disk(); d > 0 {
				lines = append(lines, fmt.Sprintf("  %s: ~%s (%s)", n.Driver, Human(d), describe(n)))
			}
		}
		lines = append(lines, fmt.Sprintf("  exported layer diffs: ~%s", Human(ns.Store)))
		errs = append(errs, fmt.Errorf("not enough disk space on %s (the --workdir filesystem): this run is expected to write ~%s there, %s is free:\n%s\n"+
			"fix: free space there, pass --workdir on a filesystem with more room, or run fewer drivers (--drivers)",
			h.FS, Human(need), Human(h.DiskFree), strings.Join(lines, "\n")))
	}

	if h.InodesFree >= 0 {
		var need int64
		var lines []string
		for _, n := range ns.Drivers {
			i := n.HostInodes()
			need += i
			if i > 1 {
				lines = append(lines, fmt.Sprintf("  %s: ~%d (%s)", n.Driver, i, describe(n)))
			}
		}
		need += 64 // run dir, mount points, content store
		if need > h.InodesFree {
			errs = append(errs, fmt.Errorf("not enough free inodes on %s (the --workdir filesystem): this run is expected to create ~%d files there, %d inodes are free:\n%s\n"+
				"fix: pass --workdir on a filesystem with more inodes, or give these drivers a dedicated backing (backing: ext4)",
				h.FS, need, h.InodesFree, strings.Join(lines, "\n")))
		}
	}

	need := ns.Memory
	lines := []string{fmt.Sprintf("  the replay engine (layer trees, expected views, buffers): ~%s", Human(ns.Memory))}
	for _, n := range ns.Drivers {
		if m := n.Memory(); m > 0 {
			need += m
			lines = append(lines, fmt.Sprintf("  %s: ~%s (%s)", n.Driver, Human(m), describe(n)))
		}
	}
	if need > h.MemAvailable {
		errs = append(errs, fmt.Errorf("not enough memory: this run is expected to take ~%s, %s is available:\n%s\n"+
			"fix: shrink the scenario (--quick, fewer files or containers), move tmpfs-backed drivers to a disk backing (backing: ext4), or run fewer drivers (--drivers)",
			Human(need), Human(h.MemAvailable), strings.Join(lines, "\n")))
	}

	if !h.LoopControl {
		var loops []string
		for _, n := range ns.Drivers {
			if n.Loop {
				loops = append(loops, n.Driver+" ("+n.Backing+")")
			}
		}
		if len(loops) > 0 {
			errs = append(errs, fmt.Errorf("no loop devices (/dev/loop-control is missing), and these drivers' backings are loop-mounted images: %s\n"+
				"fix: modprobe loop (in a container: pass --device /dev/loop-control and the /dev/loopN devices), or give them backing: tmpfs",
				strings.Join(loops, ", ")))
		}
	}
	return errors.Join(errs...)
}

// Warnings are what does not stop a run but will likely fail a driver: a backing fixed smaller than
// what the driver is expected to write in it (a scenario's backing_size) runs out of space.
func Warnings(ns sizing.Needs) []string {
	var out []string
	for _, n := range ns.Drivers {
		if n.Overflows {
			out = append(out, fmt.Sprintf("driver %s: its backing (%s) is smaller than the ~%s it is expected to write: expect it to fail with ENOSPC",
				n.Driver, describe(n), Human(n.Want)))
		}
	}
	return out
}

func describe(n sizing.Need) string {
	switch n.Backing {
	case "dir":
		return "snapshots as files in the work dir"
	case "tmpfs":
		return "a tmpfs of " + Human(n.Size)
	}
	return "a sparse " + n.Backing + " image of " + Human(n.Size)
}

// Human prints a byte count in the largest IEC unit it reaches, with one decimal (1.5GiB, 64.0MiB).
func Human(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatInt(n, 10) + "B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + units[i]
}
