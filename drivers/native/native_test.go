package native_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/drivers/native"
	"github.com/seedbench/seedbench/internal/backing"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, native.New("native", ""), drivertest.Config{})
}

// The registry's backing variants, where Prepare reflinks, run the whole suite too.
func TestConformanceReflinkBackings(t *testing.T) {
	for _, fs := range []string{backing.XFS, backing.Btrfs} {
		d := native.New("native-"+fs, fs)
		t.Run(d.Info().Name, func(t *testing.T) { drivertest.Run(t, d, drivertest.Config{}) })
	}
}

// On ext4 Prepare copies every byte of the parent; on xfs and btrfs copy_file_range reflinks.
func TestPrepareCopies(t *testing.T) {
	const size = 32 << 20
	for _, fs := range []string{backing.Ext4, backing.XFS, backing.Btrfs} {
		t.Run(fs, func(t *testing.T) {
			d := native.New("native-"+fs, fs)
			drivertest.RequireSupported(t, d)
			env := drivertest.Open(t, d, drivers.Options{})
			ctx := context.Background()
			sn := env.Instance.Snapshotter()
			ms, err := sn.Prepare(ctx, "base-active", "")
			if err != nil {
				t.Fatal(err)
			}
			dir := env.Mount(t, ms, "base")
			if err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, size), 0o644); err != nil {
				t.Fatal(err)
			}
			env.Unmount(t, dir)
			if err := sn.Commit(ctx, "base", "base-active"); err != nil {
				t.Fatal(err)
			}
			path := env.Instance.Backing().Path
			before := drivertest.Used(t, path)
			if _, err := sn.Prepare(ctx, "child", "base"); err != nil {
				t.Fatal(err)
			}
			grew := drivertest.Used(t, path) - before
			t.Logf("%s: Prepare on a %d MiB parent used %d KiB", fs, size>>20, grew>>10)
			fullCopy := d.Info().Capabilities.FullCopy
			if fullCopy && grew < size {
				t.Errorf("full-copy driver grew by %d bytes, want ≥ %d", grew, size)
			}
			if !fullCopy && grew > size/2 {
				t.Errorf("reflinking driver grew by %d bytes for a %d-byte parent", grew, size)
			}
		})
	}
}

func TestMountOptionsRejected(t *testing.T) {
	_, err := native.New("native", "").Open(context.Background(), drivers.Options{WorkDir: t.TempDir(), MountOptions: []string{"index=on"}})
	if err == nil {
		t.Fatal("mount options accepted")
	}
}

func TestInfo(t *testing.T) {
	i := native.New("native", "").Info()
	if i.Name != "native" || i.Family != native.Family || i.Snapshotter != native.SnapshotterPackage ||
		i.Version == "" || i.Backing != backing.Ext4 || !i.Capabilities.FullCopy {
		t.Errorf("%+v", i)
	}
	if native.New("native-xfs", backing.XFS).Info().Capabilities.FullCopy {
		t.Error("native on xfs claims a full copy")
	}
}
