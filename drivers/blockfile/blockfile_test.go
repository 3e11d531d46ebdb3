package blockfile_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/blockfile"
	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/internal/backing"
)

// The registered variants with their automatic scratch sizing (backing/8). On ext4 every Prepare
// copies the whole image and the suite stacks 128 layers: a 128 MiB backing (a 16 MiB scratch) keeps
// that to seconds. xfs cannot be made below 300 MiB, and its reflinks cost nothing: drivertest's
// default there.
func TestConformance(t *testing.T) {
	for _, d := range blockfile.Variants() {
		var opts drivers.Options
		if d.Info().Capabilities.FullCopy {
			opts.BackingSize = 128 << 20
		}
		t.Run(d.Info().Name, func(t *testing.T) { drivertest.Run(t, d, drivertest.Config{Options: opts}) })
	}
}

// On ext4 Prepare copies the parent's whole image; on xfs and btrfs copy_file_range reflinks it.
func TestPrepareCopies(t *testing.T) {
	const backingSize = 2 << 30 // → a 256 MiB scratch image
	for _, fs := range []string{backing.Ext4, backing.XFS, backing.Btrfs} {
		t.Run(fs, func(t *testing.T) {
			d := blockfile.New("blockfile-"+fs, fs, 0)
			drivertest.RequireSupported(t, d)
			scratch := d.(*blockfile.Driver).ScratchSize(backingSize, 0)
			env := drivertest.Open(t, d, drivers.Options{BackingSize: backingSize})
			ctx := context.Background()
			sn := env.Instance.Snapshotter()
			ms, err := sn.Prepare(ctx, "base-active", "")
			if err != nil {
				t.Fatal(err)
			}
			dir := env.Mount(t, ms, "base")
			if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 1<<20), 0o644); err != nil {
				t.Fatal(err)
			}
			env.Unmount(t, dir)
			if err := sn.Commit(ctx, "base", "base-active"); err != nil {
				t.Fatal(err)
			}
			path := env.Instance.Backing().Path
			before := drivertest.Used(t, path)
			start := time.Now()
			if _, err := sn.Prepare(ctx, "child", "base"); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			grew := drivertest.Used(t, path) - before
			t.Logf("%s: Prepare on a %d MiB image took %v and used %d KiB", fs, scratch>>20, took.Round(time.Microsecond), grew>>10)
			if full := d.Info().Capabilities.FullCopy; full && grew < scratch*9/10 {
				t.Errorf("full-copy driver grew by %d bytes, want ≈ %d", grew, scratch)
			} else if !full && grew > scratch/8 {
				t.Errorf("reflinking driver grew by %d bytes for a %d-byte image", grew, scratch)
			}
		})
	}
}

func TestScratchSize(t *testing.T) {
	for _, tc := range []struct {
		fixed, backing, want int64
	}{
		{0, 2 << 30, 256 << 20},
		{0, 0, 256 << 20}, // backing.DefaultSize
		{0, 64 << 30, blockfile.MaxAutoScratch},
		{0, 64 << 20, blockfile.MinScratch},
		{0, 1<<30 + 12345, 128 << 20},
		{100 << 20, 64 << 30, 100 << 20},
	} {
		d := blockfile.New("b", "", tc.fixed).(*blockfile.Driver)
		if got := d.ScratchSize(tc.backing, 0); got != tc.want {
			t.Errorf("fixed %d, backing %d: scratch %d, want %d", tc.fixed, tc.backing, got, tc.want)
		}
	}
}

func TestInfo(t *testing.T) {
	for _, d := range blockfile.Variants() {
		i := d.Info()
		reflink := i.Name == "blockfile-reflink"
		if i.Family != blockfile.Family || i.Snapshotter != blockfile.SnapshotterPackage || i.Version == "" ||
			!i.Capabilities.Block || i.Capabilities.FullCopy == reflink || i.Options["scratch_size"] == "" {
			t.Errorf("%+v", i)
		}
		if want := map[bool]string{false: backing.Ext4, true: blockfile.ReflinkBacking}[reflink]; i.Backing != want {
			t.Errorf("%s: backing %s, want %s", i.Name, i.Backing, want)
		}
	}
	if got := blockfile.New("b", "", 64<<20).Info().Options["scratch_size"]; got != "64MiB" {
		t.Errorf("scratch_size = %q", got)
	}
}

func TestMountOptionsRejected(t *testing.T) {
	_, err := blockfile.New("blockfile", "", 0).Open(context.Background(), drivers.Options{WorkDir: t.TempDir(), MountOptions: []string{"noatime"}})
	if err == nil {
		t.Fatal("mount options accepted")
	}
}

// TestScratchHoldsImage: an image sized for imageSize bytes of files (ScratchSize from the
// scenario's largest container) holds them, at the sizes seedbench meets (a quick scenario's few MiB
// up to the flagship's hundreds): thousands of small files and some large ones, as an image has.
func TestScratchHoldsImage(t *testing.T) {
	for _, tc := range []struct {
		imageSize int64
		tiny      int64 // the share, in tenths, written as 1-byte files
	}{{8 << 20, 1}, {40 << 20, 10}, {120 << 20, 1}, {300 << 20, 1}} {
		imageSize := tc.imageSize
		t.Run(fmt.Sprintf("%dMiB-%d0%%-tiny", imageSize>>20, tc.tiny), func(t *testing.T) {
			d := blockfile.New("blockfile", backing.Ext4, 0)
			drivertest.RequireSupported(t, d)
			scratch := d.(*blockfile.Driver).ScratchSize(0, imageSize)
			env := drivertest.Open(t, d, drivers.Options{BackingSize: 2 << 30, ImageSize: imageSize})
			ms, err := env.Instance.Snapshotter().Prepare(context.Background(), "fill", "")
			if err != nil {
				t.Fatal(err)
			}
			dir := env.Mount(t, ms, "fill")
			defer env.Unmount(t, dir)
			// imageSize counts as layer.Stats's DiskBytes does: sizes rounded up to 4 KiB, and 4 KiB
			// per directory. tc.tiny tenths in 1-byte files, then up to 4/10 in 64 KiB + 1 byte
			// files, the rest in files of 4 MiB, in 64 directories.
			const block = 4 << 10
			written := int64(64 * block)
			for i := range 64 {
				if err := os.Mkdir(filepath.Join(dir, "d"+strconv.Itoa(i)), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write := func(i int, size int64) {
				name := filepath.Join(dir, "d"+strconv.Itoa(i%64), strconv.Itoa(i))
				if err := os.WriteFile(name, make([]byte, size), 0o644); err != nil {
					t.Fatalf("after %d of %d bytes in a %d MiB image: %v", written, imageSize, scratch>>20, err)
				}
				written += (size + block - 1) / block * block
			}
			i := 0
			for ; written < imageSize*tc.tiny/10; i++ {
				write(i, 1)
			}
			for ; written < imageSize*4/10; i++ {
				write(i, 64<<10+1)
			}
			for ; written < imageSize; i++ {
				write(i, min(4<<20, imageSize-written))
			}
			t.Logf("%d files, %d MiB, in a %d MiB image", i, written>>20, scratch>>20)
		})
	}
}
