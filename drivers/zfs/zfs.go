// Package zfs lists containerd's zfs snapshotter (github.com/containerd/zfs/v2): a zfs dataset per
// snapshot, cloned from its parent's snapshot. seedbench does not run it — zfs needs an out-of-tree
// kernel module and a pool — but lists it, so `seedbench drivers` and every result say why it is
// missing and what would fix that. Check and Open always return an error wrapping
// drivers.ErrUnsupported.
package zfs

import (
	"bytes"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/backing"
)

// Family is the driver family name; SnapshotterPackage the Go package it would wrap. It is not linked:
// the version is the one containerd v2.4.2's go.mod requires for its built-in zfs plugin.
const (
	Family             = "zfs"
	SnapshotterPackage = "github.com/containerd/zfs/v2"
	SnapshotterVersion = "v2.0.0 (not linked)"
)

// fix is what a Debian 12 host needs for zfs.
const fix = "install zfsutils-linux and the zfs kernel module (not packaged for Debian 12's main archive: contrib)"

// New returns the zfs driver called name.
func New(name string) drivers.Driver {
	return drivers.Unavailable(drivers.Info{
		Name:         name,
		Family:       Family,
		Description:  "containerd zfs snapshotter: a zfs dataset per snapshot, cloned from its parent (listed, not run by seedbench)",
		Snapshotter:  SnapshotterPackage,
		Version:      SnapshotterVersion,
		Backing:      "zfs pool",
		Capabilities: drivers.Capabilities{CopyOnWriteFS: true},
	}, check)
}

// check says why the driver called name cannot run: no zfs in the kernel, no zfs tool, or — where
// both exist — that seedbench does not create the pool the snapshotter needs.
func check(name string) error {
	if ok, err := backing.KernelHasFS("zfs"); err != nil {
		return err
	} else if !ok && !zfsModule() {
		return drivers.Unsupported(name, "zfs is not in /proc/filesystems and no zfs kernel module is installed", fix)
	}
	if _, err := backing.LookTool("zfs"); err != nil {
		return drivers.Unsupported(name, "the zfs tool is not installed", fix)
	}
	return drivers.Unsupported(name, "seedbench does not drive the zfs snapshotter: it needs a zfs pool, which seedbench does not create", "")
}

// zfsModule reports whether a zfs module is installed for the running kernel (DKMS puts it outside
// fs/, where backing.KernelHasFS looks).
func zfsModule() bool {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return false
	}
	dep, err := os.ReadFile(filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]), "modules.dep"))
	if err != nil {
		return false
	}
	return bytes.Contains(dep, []byte("/zfs.ko"))
}
