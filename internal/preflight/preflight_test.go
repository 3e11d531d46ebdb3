package preflight

import (
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/sizing"
)

const mib = 1 << 20

func needs() sizing.Needs {
	return sizing.Needs{
		Drivers: []sizing.Need{
			{Driver: "ovl", Backing: "ext4", Size: 2048 * mib, Use: 100 * mib, Inodes: 500, Loop: true},
			{Driver: "nat", Backing: "ext4", Size: 2048 * mib, Use: 300 * mib, Inodes: 2000, Loop: true},
			{Driver: "mem", Backing: "tmpfs", Size: 2048 * mib, Use: 200 * mib, Inodes: 500},
			{Driver: "plain", Backing: "dir", Size: 2048 * mib, Use: 150 * mib, Inodes: 3000},
		},
		Store:  10 * mib,
		Memory: 300 * mib,
	}
}

var roomy = Host{FS: "/w", DiskFree: 100 << 30, InodesFree: 1e6, MemAvailable: 16 << 30, LoopControl: true}

func TestCheck(t *testing.T) {
	if err := Check(needs(), roomy); err != nil {
		t.Fatalf("a roomy host: %v", err)
	}
	for _, c := range []struct {
		name string
		host func(h *Host)
		want []string
	}{
		{"disk", func(h *Host) { h.DiskFree = 500 * mib }, []string{
			"not enough disk space on /w", "~560.0MiB there, 500.0MiB is free",
			"ovl: ~100.0MiB (a sparse ext4 image of 2.0GiB)", "nat: ~300.0MiB", "plain: ~150.0MiB (snapshots as files",
			"exported layer diffs: ~10.0MiB", "fix: "}},
		{"inodes", func(h *Host) { h.InodesFree = 1000 }, []string{
			"not enough free inodes on /w", "~3066 files there, 1000 inodes are free", "plain: ~3000", "fix: "}},
		{"memory", func(h *Host) { h.MemAvailable = 400 * mib }, []string{
			"not enough memory", "~500.0MiB, 400.0MiB is available", "replay engine", "mem: ~200.0MiB (a tmpfs of 2.0GiB)", "fix: "}},
		{"loop", func(h *Host) { h.LoopControl = false }, []string{
			"/dev/loop-control is missing", "ovl (ext4), nat (ext4)", "fix: modprobe loop"}},
	} {
		h := roomy
		c.host(&h)
		err := Check(needs(), h)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", c.name, w, err)
			}
		}
	}
	// No inode limit (btrfs): never short of inodes.
	h := roomy
	h.InodesFree = -1
	if err := Check(needs(), h); err != nil {
		t.Error(err)
	}
}

func TestWarnings(t *testing.T) {
	ns := needs()
	if w := Warnings(ns); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	ns.Drivers[0].Want, ns.Drivers[0].Overflows = 130*mib, true
	ns.Drivers[0].Size = 32 * mib
	w := Warnings(ns)
	if len(w) != 1 || !strings.Contains(w[0], "driver ovl: its backing (a sparse ext4 image of 32.0MiB) is smaller than the ~130.0MiB") {
		t.Errorf("warnings %q", w)
	}
}

func TestProbe(t *testing.T) {
	h, err := Probe(t.TempDir() + "/not/yet")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.FS, "/") || h.DiskFree <= 0 || h.MemAvailable <= 0 {
		t.Errorf("%+v", h)
	}
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 1023: "1023B", 1536: "1.5KiB", 64 * mib: "64.0MiB", 1 << 62: "4.0EiB"} {
		if got := Human(n); got != want {
			t.Errorf("Human(%d) = %s, want %s", n, got, want)
		}
	}
}
