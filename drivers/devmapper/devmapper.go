// Package devmapper lists containerd's devmapper snapshotter (plugins/snapshots/devmapper): a thin
// device per snapshot in a device-mapper thin-pool, mounted as a block device. seedbench does not run
// it — it would need a thin-pool on loop devices, and the reference VMs have no device-mapper — but
// lists it, so `seedbench drivers` and every result say why it is missing and what would fix that.
// Check and Open always return an error wrapping drivers.ErrUnsupported.
package devmapper

import (
	"os"
	"strings"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/backing"
)

// Family is the driver family name; SnapshotterPackage the Go package it would wrap (not linked).
const (
	Family             = "devmapper"
	SnapshotterPackage = "github.com/containerd/containerd/v2/plugins/snapshots/devmapper"
)

// New returns the devmapper driver called name.
func New(name string) drivers.Driver {
	return drivers.Unavailable(drivers.Info{
		Name:         name,
		Family:       Family,
		Description:  "containerd devmapper snapshotter: a thin device per snapshot in a dm-thin pool (listed, not run by seedbench)",
		Snapshotter:  SnapshotterPackage,
		Version:      drivers.ContainerdVersion(),
		Backing:      "dm-thin pool",
		Capabilities: drivers.Capabilities{Block: true, PerMountCache: true},
	}, check)
}

// The files that show the kernel's device-mapper (overridden by tests).
var (
	controlPath = "/dev/mapper/control"
	miscPath    = "/proc/misc"
)

// check says why the driver called name cannot run: no device-mapper in the kernel, no dmsetup, or —
// where both exist — that seedbench does not set up the thin-pool the snapshotter needs.
func check(name string) error {
	if _, err := os.Stat(controlPath); err != nil {
		if inMisc() {
			return drivers.Unsupported(name, "device-mapper is in the kernel but "+controlPath+" is missing",
				"run dmsetup mknodes (from dmsetup)")
		}
		return drivers.Unsupported(name, "no device-mapper in this kernel (no "+controlPath+")",
			"load dm_mod (CONFIG_BLK_DEV_DM) and install dmsetup/thin-provisioning-tools")
	}
	if _, err := backing.LookTool("dmsetup"); err != nil {
		return drivers.Unsupported(name, "dmsetup not found", "apt-get install dmsetup thin-provisioning-tools")
	}
	return drivers.Unsupported(name, "seedbench does not drive the devmapper snapshotter: it needs a dm-thin pool, which seedbench does not create",
		"use blockfile for a block-device-per-snapshot snapshotter")
}

// inMisc reports whether the kernel registered the device-mapper control device (/proc/misc).
func inMisc() bool {
	data, err := os.ReadFile(miscPath)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "device-mapper" {
			return true
		}
	}
	return false
}
