package all_test

import (
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/all"
	"github.com/seedbench/seedbench/internal/docs"
	"github.com/seedbench/seedbench/internal/report"
)

func TestCatalog(t *testing.T) {
	r := all.Catalog()
	want := []string{"overlayfs", "overlayfs-metacopy", "overlayfs-volatile", "overlayfs-index", "overlayfs-xfs", "overlayfs-btrfs",
		"native", "native-xfs", "native-btrfs", "btrfs", "blockfile", "blockfile-reflink", "fuse-overlayfs", "erofs", "stargz", "stargz-noprefetch", "soci", "containerd-overlayfs", "containerd-native", "containerd1-6-overlayfs", "proxy-overlayfs", "proxy", "devmapper", "zfs"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Fatalf("names = %v, want %v", got, want)
	}
	for _, d := range r.All() {
		i := d.Info()
		if i.Name == "" || i.Family == "" || i.Description == "" || i.Snapshotter == "" || i.Version == "" || i.Backing == "" {
			t.Errorf("incomplete info: %+v", i)
		}
	}
	if got := r.Names(); len(r.All()) != len(got) {
		t.Errorf("duplicate names dropped")
	}
}

func TestVariant(t *testing.T) {
	for _, tc := range []struct {
		spec    drivers.Spec
		options string // wanted Info().Options["mount_options"]
		backing string
		err     string
	}{
		{spec: drivers.Spec{Name: "overlayfs"}, backing: "ext4"},
		{spec: drivers.Spec{Name: "overlayfs", MountOptions: []string{"xino=off"}}, err: `"overlayfs" is already a driver`},
		{spec: drivers.Spec{Name: "native", Driver: "overlayfs"}, err: `"native" is already a driver`},
		{spec: drivers.Spec{Name: "ovl-small", Driver: "overlayfs", BackingSize: 64 << 20}, backing: "ext4"},
		{spec: drivers.Spec{Name: "f2", Driver: "fuse-overlayfs", Backing: "xfs"}, backing: "xfs"},
		{spec: drivers.Spec{Name: "e2", Driver: "erofs", MountOptions: []string{"x"}}, err: "takes no mount options"},
		{spec: drivers.Spec{Name: "x", Driver: "overlayfss"}, err: `(did you mean "overlayfs"?)`},
		{spec: drivers.Spec{Name: "overlay-nometa", Driver: "overlayfs", MountOptions: []string{"index=off"}}, options: "index=off", backing: "ext4"},
		{spec: drivers.Spec{Name: "meta-xfs", Driver: "overlayfs-metacopy", Backing: "xfs"}, options: "metacopy=on,redirect_dir=on,index=on", backing: "xfs"},
		{spec: drivers.Spec{Name: "vol-nosync", Driver: "overlayfs-volatile", MountOptions: []string{"xino=off"}}, options: "volatile,xino=off", backing: "ext4"},
		{spec: drivers.Spec{Name: "nat-btrfs", Driver: "native", Backing: "btrfs"}, backing: "btrfs"},
		{spec: drivers.Spec{Name: "n", Driver: "native", MountOptions: []string{"index=on"}}, err: "takes no mount options"},
		{spec: drivers.Spec{Name: "z", Driver: "aufs"}, err: `unknown driver "aufs"`},
		{spec: drivers.Spec{Name: "ovl-xfs-meta", Driver: "overlayfs-xfs", MountOptions: []string{"metacopy=on"}}, options: "metacopy=on", backing: "xfs"},
		{spec: drivers.Spec{Name: "nb", Driver: "native-btrfs"}, backing: "btrfs"},
		{spec: drivers.Spec{Name: "nb-ext4", Driver: "native-btrfs", Backing: "ext4"}, backing: "ext4"},
		{spec: drivers.Spec{Name: "b2", Driver: "btrfs"}, backing: "btrfs"},
		{spec: drivers.Spec{Name: "b3", Driver: "btrfs", Backing: "xfs"}, err: "needs a btrfs backing"},
		{spec: drivers.Spec{Name: "bf-btrfs", Driver: "blockfile", Backing: "btrfs"}, options: "loop", backing: "btrfs"},
		{spec: drivers.Spec{Name: "bf", Driver: "blockfile-reflink"}, options: "loop", backing: "xfs"},
		{spec: drivers.Spec{Name: "bf", Driver: "blockfile", MountOptions: []string{"noatime"}}, err: "takes no mount options"},
		{spec: drivers.Spec{Name: "z", Driver: "zfs"}, backing: "zfs pool"},
		{spec: drivers.Spec{Name: "dm", Driver: "devmapper", Backing: "ext4"}, err: "has no backing to choose"},
		{spec: drivers.Spec{Name: "o", Driver: "overlayfs", Backing: "ntfs"}, err: `unknown backing "ntfs"`},
		{spec: drivers.Spec{Name: "o", Driver: "overlayfs", MountOptions: []string{"lowerdir=/x"}}, err: "set by the snapshotter"},
		{spec: drivers.Spec{}, err: "needs a name"},
		{spec: drivers.Spec{Name: "o", Driver: "overlayfs", Socket: "/run/x.sock"}, err: "takes no socket"},
		{spec: drivers.Spec{Name: "my-nydus", Driver: "proxy", Socket: "/run/containerd-nydus/containerd-nydus-grpc.sock"}, backing: "the snapshotter's own"},
		{spec: drivers.Spec{Name: "served", Driver: "proxy-overlayfs", Socket: "/run/x.sock"}, backing: "the snapshotter's own"},
		{spec: drivers.Spec{Name: "p", Driver: "proxy"}, err: "add socket:"},
		{spec: drivers.Spec{Name: "p", Driver: "proxy", Socket: "/run/x.sock", Backing: "xfs"}, err: "has no backing to choose"},
		{spec: drivers.Spec{Name: "p", Driver: "proxy", Socket: "/run/x.sock", MountOptions: []string{"index=on"}}, err: "takes no mount options"},
		{spec: drivers.Spec{Name: "px", Driver: "proxy-overlayfs", Backing: "xfs"}, backing: "xfs"},
		{spec: drivers.Spec{Name: "px", Driver: "proxy-overlayfs", MountOptions: []string{"metacopy=on"}}, options: "metacopy=on", backing: "ext4"},
		{spec: drivers.Spec{Name: "px", Driver: "proxy-overlayfs", MountOptions: []string{"lowerdir=/x"}}, err: "set by the snapshotter"},
	} {
		d, err := all.Catalog().Variant(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: err = %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc.spec, err)
			continue
		}
		i := d.Info()
		if i.Name != tc.spec.Name || i.Options["mount_options"] != tc.options || i.Backing != tc.backing {
			t.Errorf("%+v: info %+v", tc.spec, i)
		}
	}
}

var update = flag.Bool("update", false, "rewrite README.md's driver table from the catalogue")

// TestREADMEDriverTable pins README.md's driver table, the only one, to the catalogue.
func TestREADMEDriverTable(t *testing.T) {
	var rows []report.DriverRow
	for _, d := range all.Catalog().All() {
		rows = append(rows, report.DriverRow{Info: d.Info()})
	}
	begin, end := docs.Markers("drivers", "drivers/all", "go test ./drivers/all -update")
	if err := docs.Sync("../../README.md", begin, end, report.DriversMarkdown(rows), *update); err != nil {
		t.Error(err)
	}
}
