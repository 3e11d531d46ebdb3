// Package all builds the catalogue of every driver seedbench ships, explicitly (no init() magic). A
// scenario's variants on top of them are made by each driver's family (drivers.Catalog.Variant):
//
//	drivers: [overlayfs, native, {name: overlay-nometa, driver: overlayfs, mount_options: [metacopy=off]}]
//
// A new driver adds one line to Catalog.
package all

import (
	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/blockfile"
	"github.com/seedbench/seedbench/drivers/btrfs"
	"github.com/seedbench/seedbench/drivers/containerd"
	"github.com/seedbench/seedbench/drivers/devmapper"
	"github.com/seedbench/seedbench/drivers/erofs"
	"github.com/seedbench/seedbench/drivers/fuseoverlayfs"
	"github.com/seedbench/seedbench/drivers/native"
	"github.com/seedbench/seedbench/drivers/overlayfs"
	"github.com/seedbench/seedbench/drivers/proxy"
	"github.com/seedbench/seedbench/drivers/soci"
	"github.com/seedbench/seedbench/drivers/stargz"
	"github.com/seedbench/seedbench/drivers/zfs"
	"github.com/seedbench/seedbench/internal/backing"
)

// Catalog returns every built-in driver, in the order reports list them.
func Catalog() *drivers.Catalog {
	r, _ := drivers.NewCatalog()
	for _, d := range []drivers.Driver{
		overlayfs.New("overlayfs", nil, ""),
		overlayfs.New("overlayfs-metacopy", overlayfs.MetacopyOptions, ""),
		overlayfs.New("overlayfs-volatile", overlayfs.VolatileOptions, ""),
		overlayfs.New("overlayfs-index", overlayfs.IndexOptions, ""),
		overlayfs.New("overlayfs-xfs", nil, backing.XFS),
		overlayfs.New("overlayfs-btrfs", nil, backing.Btrfs),
		native.New("native", ""),
		native.New("native-xfs", backing.XFS),
		native.New("native-btrfs", backing.Btrfs),
		btrfs.New("btrfs"),
		blockfile.New("blockfile", blockfile.DefaultBacking, 0),
		blockfile.New("blockfile-reflink", blockfile.ReflinkBacking, 0),
		fuseoverlayfs.New("fuse-overlayfs", ""),
		erofs.New("erofs", ""),
		stargz.New("stargz", true),
		stargz.New("stargz-noprefetch", false),
		soci.New("soci", soci.DefaultSpan),
		containerd.New("containerd-overlayfs", containerd.Linked, "overlayfs", "", ""),
		containerd.New("containerd-native", containerd.Linked, "native", "", ""),
		containerd.New("containerd1-6-overlayfs", containerd.Debian16, "overlayfs", "", ""),
		proxy.New("proxy-overlayfs", overlayfs.New("overlayfs", nil, "")),
		proxy.AtSocket("proxy", "", ""), // the base of variants naming a socket: unavailable alone
		devmapper.New("devmapper"),      // unavailable drivers last: listed with the reason and the fix
		zfs.New("zfs"),
	} {
		// The names above are distinct constants (TestCatalog checks), so Add cannot fail.
		_ = r.Add(d)
	}
	return r
}
