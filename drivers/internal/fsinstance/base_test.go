package fsinstance

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/backing"
)

func TestNeeds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the checks after Root need root")
	}
	noOpts := NoMountOptions("it makes bind mounts and takes none")
	for _, tc := range []struct {
		needs       Needs
		opts        []string
		want        string
		unsupported bool
	}{
		{needs: Needs{MountOptions: noOpts}, opts: []string{"ro", "noatime"}, want: "d: mount options ro,noatime: it makes bind mounts and takes none"},
		{needs: Needs{MountOptions: noOpts, Root: "mounts need root"}},
		{needs: Needs{Files: []File{{Path: "/dev/seedbench-none", Missing: "no /dev/seedbench-none", Fix: "make it"}}},
			want: "driver unsupported on this host: d: no /dev/seedbench-none (fix: make it)", unsupported: true},
		{needs: Needs{FS: []KernelFS{{Name: "seedbenchfs", Fix: "modprobe seedbenchfs"}}},
			want: "driver unsupported on this host: d: seedbenchfs is not in /proc/filesystems (fix: modprobe seedbenchfs)", unsupported: true},
		{needs: Needs{Tools: []Tool{{Name: "seedbench-none", Package: "seedbench-tools", InPATH: true}}},
			want: "driver unsupported on this host: d: seedbench-none not found in PATH (fix: apt-get install seedbench-tools)", unsupported: true},
		{needs: Needs{Tools: []Tool{{Name: "seedbench-none", Package: "seedbench-tools"}}},
			want: "driver unsupported on this host: d: seedbench-none not found (fix: apt-get install seedbench-tools)", unsupported: true},
		// The first thing missing is the error.
		{needs: Needs{MountOptions: noOpts, FS: []KernelFS{{Name: "seedbenchfs"}}, Tools: []Tool{{Name: "seedbench-none"}}}, opts: []string{"ro"},
			want: "d: mount options ro: it makes bind mounts and takes none"},
		{needs: Needs{FS: []KernelFS{{Name: "seedbenchfs", Fix: "x"}}, Tools: []Tool{{Name: "seedbench-none"}}},
			want: "driver unsupported on this host: d: seedbenchfs is not in /proc/filesystems (fix: x)", unsupported: true},
	} {
		err := tc.needs.check("d", tc.opts)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.needs, err)
			}
			continue
		}
		if err == nil || err.Error() != tc.want || errors.Is(err, drivers.ErrUnsupported) != tc.unsupported {
			t.Errorf("%+v %v: err = %v, want %q (unsupported: %v)", tc.needs, tc.opts, err, tc.want, tc.unsupported)
		}
	}
}

func TestBase(t *testing.T) {
	remake := func(name, bk string) drivers.Driver {
		return drivers.Unavailable(drivers.Info{Name: name, Backing: bk}, nil)
	}
	b := Base{Name: "d", Family: "fam", Default: backing.Ext4, Remake: remake}
	if got := b.BackingFS(drivers.Options{}); got != backing.Ext4 {
		t.Errorf("default backing %q", got)
	}
	if got := (Base{Backing: backing.XFS, Default: backing.Ext4}).BackingFS(drivers.Options{Backing: backing.Btrfs}); got != backing.Btrfs {
		t.Errorf("override backing %q", got)
	}
	v, err := b.Variant(drivers.Spec{Name: "v", Backing: backing.XFS})
	if err != nil || v.Info().Name != "v" || v.Info().Backing != backing.XFS {
		t.Errorf("variant %+v %v", v, err)
	}
	if _, err := b.Variant(drivers.Spec{Name: "v", MountOptions: []string{"ro"}}); err == nil || !strings.Contains(err.Error(), "fam takes no mount options") {
		t.Errorf("variant with mount options: %v", err)
	}
	if _, err := b.Variant(drivers.Spec{Name: "v", Backing: "ntfs"}); err == nil {
		t.Error("variant on an unknown backing accepted")
	}
	if err := b.CheckOpen(drivers.Options{Backing: "ntfs"}); err == nil || !strings.HasPrefix(err.Error(), "d: backing: unknown filesystem") {
		t.Errorf("check on an unknown backing: %v", err)
	}
}
