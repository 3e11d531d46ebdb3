package backing

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
)

// workDir is a temp dir with "seedbench" in its name, so `grep seedbench /proc/mounts` finds leaks.
func workDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "seedbench-backing-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Last line of defence: whatever a failed test left is undone before the dir goes.
		if ms, _ := MountsUnder(dir); len(ms) > 0 {
			t.Errorf("left mounted: %v", ms)
			for _, m := range ms {
				_ = unmount(m)
			}
		}
		if devs, _ := LoopDevices(filepath.Join(dir, "b", ImageName)); len(devs) > 0 {
			t.Errorf("left attached: %v", devs)
			for _, d := range devs {
				_ = detachLoop(context.Background(), d, filepath.Join(dir, "b", ImageName))
			}
		}
		os.RemoveAll(dir)
	})
	return dir
}

func requireKind(t *testing.T, fs string) {
	t.Helper()
	if err := Check(fs); errors.Is(err, drivers.ErrUnsupported) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
}

func assertGone(t *testing.T, b *Backing, dir string) {
	t.Helper()
	if ms, err := MountsUnder(dir); err != nil || len(ms) > 0 {
		t.Errorf("mounts left under %s: %v %v", dir, ms, err)
	}
	if b.Image != "" {
		if devs, err := LoopDevices(b.Image); err != nil || len(devs) > 0 {
			t.Errorf("loop devices left for %s: %v %v", b.Image, devs, err)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s not removed: %v", dir, err)
	}
}

func TestCreateEachKind(t *testing.T) {
	sizes := map[string]int64{Ext4: 256 << 20, XFS: 320 << 20, Btrfs: 256 << 20, Tmpfs: 64 << 20, Dir: 0}
	for _, fs := range Kinds {
		t.Run(fs, func(t *testing.T) {
			requireKind(t, fs)
			dir := filepath.Join(workDir(t), "b")
			start := time.Now()
			b, err := Create(context.Background(), Spec{FS: fs, Size: sizes[fs], Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			created := time.Since(start)
			t.Cleanup(func() { b.Close() })

			info := b.Info()
			t.Logf("%s: created in %v: %+v direct_io=%v", fs, created, info, b.DirectIO)
			if info.Path != filepath.Join(dir, "mnt") || info.Dedicated != (fs != Dir) {
				t.Errorf("info = %+v", info)
			}
			if fs != Dir && info.FS != fs {
				t.Errorf("FS = %q, want %q", info.FS, fs)
			}
			if (info.Device != "") != (fs == Ext4 || fs == XFS || fs == Btrfs) {
				t.Errorf("Device = %q", info.Device)
			}
			if info.MountOptions == "" || !strings.HasPrefix(info.MountOptions, "rw") {
				t.Errorf("MountOptions = %q", info.MountOptions)
			}

			if err := Sync(b.Path); err != nil {
				t.Fatal(err)
			}
			bytes0, inodes0, err := Used(b.Path)
			if err != nil {
				t.Fatal(err)
			}
			const size = 8 << 20
			if err := os.WriteFile(filepath.Join(b.Path, "f"), make([]byte, size), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := Sync(b.Path); err != nil {
				t.Fatal(err)
			}
			bytes1, inodes1, err := Used(b.Path)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("8 MiB file: +%d bytes, +%d inodes", bytes1-bytes0, inodes1-inodes0)
			if b.Dedicated && (bytes1-bytes0 < size || bytes1-bytes0 > 2*size) {
				t.Errorf("used delta %d for an %d-byte file", bytes1-bytes0, size)
			}
			if b.Dedicated && fs != Btrfs && inodes1-inodes0 != 1 { // btrfs reports no inode counts
				t.Errorf("inode delta %d, want 1", inodes1-inodes0)
			}

			start = time.Now()
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: closed in %v", fs, time.Since(start))
			if err := b.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			assertGone(t, b, dir)
		})
	}
}

// A 2 GiB ext4 backing is the drivers' default: its create/close cost is the fixed price of every
// driver instance.
func TestCreateDefaultExt4Timing(t *testing.T) {
	requireKind(t, Ext4)
	dir := filepath.Join(workDir(t), "b")
	start := time.Now()
	b, err := Create(context.Background(), Spec{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Since(start)
	t.Cleanup(func() { b.Close() })
	if b.Size != DefaultSize || b.FS != Ext4 {
		t.Errorf("got %s of %d bytes", b.FS, b.Size)
	}
	start = time.Now()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("2 GiB ext4: create %v, close %v, direct I/O %v", created, time.Since(start), b.DirectIO)
	assertGone(t, b, dir)
}

// Every failure after the image exists unwinds: the loop device is detached and the image removed.
func TestCreateFailureUndoes(t *testing.T) {
	requireKind(t, Ext4)
	t.Run("mkfs fails", func(t *testing.T) {
		requireKind(t, XFS)
		dir := filepath.Join(workDir(t), "b")
		_, err := Create(context.Background(), Spec{FS: XFS, Size: 16 << 20, Dir: dir}) // below xfs's minimum
		if err == nil || !strings.Contains(err.Error(), "mkfs.xfs") {
			t.Fatalf("err = %v, want a mkfs.xfs error", err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", dir, err)
		}
	})
	t.Run("mount fails", func(t *testing.T) {
		dir := filepath.Join(workDir(t), "b")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "mnt"), nil, 0o644); err != nil { // not a directory
			t.Fatal(err)
		}
		_, err := Create(context.Background(), Spec{FS: Ext4, Size: 64 << 20, Dir: dir})
		if err == nil || !strings.Contains(err.Error(), "mount") {
			t.Fatalf("err = %v, want a mount error", err)
		}
		if devs, _ := LoopDevices(filepath.Join(dir, ImageName)); len(devs) > 0 {
			t.Errorf("loop devices left: %v", devs)
		}
		if _, err := os.Stat(filepath.Join(dir, ImageName)); !os.IsNotExist(err) {
			t.Errorf("image left: %v", err)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("pre-existing dir removed: %v", err)
		}
	})
}

func TestCheck(t *testing.T) {
	if err := Check("zfs"); err == nil || errors.Is(err, drivers.ErrUnsupported) {
		t.Errorf("unknown kind: %v, want a plain error", err)
	}
	if err := Check(Dir); err != nil {
		t.Errorf("dir: %v", err)
	}
}

func TestUsedAndSyncErrors(t *testing.T) {
	if _, _, err := Used("/nonexistent/seedbench"); err == nil {
		t.Error("Used on a missing path succeeded")
	}
	if err := Sync("/nonexistent/seedbench"); err == nil {
		t.Error("Sync on a missing path succeeded")
	}
}

func TestJoinOptions(t *testing.T) {
	got := joinOptions("rw,relatime", "rw,errors=remount-ro,relatime")
	if got != "rw,relatime,errors=remount-ro" {
		t.Errorf("got %q", got)
	}
}

// Close unmounts what a caller left mounted inside the backing instead of failing on EBUSY.
func TestCloseUnmountsNested(t *testing.T) {
	b, dir := createExt4(t, 64<<20)
	inner := filepath.Join(b.Path, "inner")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, b, dir)
}

// TestLoopWriteCache: a loop device set to drop flushes ("write through") is set back to forward
// them, both when a backing is attached to it and, once it is free again, by ResetLoopWriteCache;
// and a backing records the mode.
func TestLoopWriteCache(t *testing.T) {
	b, _ := createExt4(t, 256<<20)
	if b.WriteCache != drivers.WriteBack || b.Info().WriteCache != drivers.WriteBack {
		t.Errorf("WriteCache = %q (info %q), want %q", b.WriteCache, b.Info().WriteCache, drivers.WriteBack)
	}
	wc := filepath.Join(sysBlock, filepath.Base(b.Device), "queue", "write_cache")
	mode := func() string {
		data, err := os.ReadFile(wc)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	if err := os.WriteFile(wc, []byte(drivers.WriteThrough), 0); err != nil {
		t.Fatal(err)
	}
	if got := mode(); got != drivers.WriteThrough {
		t.Fatalf("after setting %q, %s reads %q", drivers.WriteThrough, wc, got)
	}
	if got, err := loopWriteBack(b.Device); err != nil || got != drivers.WriteBack || mode() != drivers.WriteBack {
		t.Errorf("loopWriteBack(%s) = %q, %v; sysfs reads %q; want %q", b.Device, got, err, mode(), drivers.WriteBack)
	}

	// Left "write through" and detached: the kernel keeps the setting on the free device.
	if err := os.WriteFile(wc, []byte(drivers.WriteThrough), 0); err != nil {
		t.Fatal(err)
	}
	dev := b.Device
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	reset, err := ResetLoopWriteCache()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sysBlock, filepath.Base(dev), "loop", "backing_file")); err == nil {
		t.Skipf("%s was attached again by another process before the reset", dev)
	}
	if got := mode(); got != drivers.WriteBack || !slices.Contains(reset, dev) {
		t.Errorf("after ResetLoopWriteCache (reset %v), %s reads %q, want %q", reset, dev, got, drivers.WriteBack)
	}
}

// createExt4 creates an ext4 backing of size bytes in a fresh work dir, closed at the test's end.
func createExt4(t *testing.T, size int64) (*Backing, string) {
	t.Helper()
	requireKind(t, Ext4)
	dir := filepath.Join(workDir(t), "b")
	b, err := Create(context.Background(), Spec{FS: Ext4, Size: size, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, dir
}

// TestCreateLoopRace: mkfs.btrfs fails with ENXIO when another process detaches a loop device while
// it checks its image's mount status (parallel test packages, any loop-device user on the host).
// A fault-injecting mkfs.btrfs (the real one behind it) fails that way twice; Create retries and
// succeeds. A failure of another kind is not retried.
func TestCreateLoopRace(t *testing.T) {
	requireKind(t, Btrfs)
	real, err := lookTool("mkfs.btrfs")
	if err != nil {
		t.Skip(err)
	}
	fake := t.TempDir()
	count := filepath.Join(fake, "count")
	script := "#!/bin/sh\nn=$(cat " + count + " 2>/dev/null || echo 0); echo $((n+1)) > " + count + "\n" +
		"if [ \"$n\" -lt 2 ]; then echo \"ERROR: cannot check mount status of $3: No such device or address\" >&2; exit 1; fi\n" +
		"exec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(fake, "mkfs.btrfs"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fake+":"+os.Getenv("PATH"))
	dir := workDir(t)
	b, err := Create(context.Background(), Spec{FS: Btrfs, Size: 256 << 20, Dir: filepath.Join(dir, "b")})
	if err != nil {
		t.Fatalf("create despite a transient mkfs failure: %v", err)
	}
	if n, _ := os.ReadFile(count); strings.TrimSpace(string(n)) != "3" {
		t.Errorf("mkfs.btrfs ran %s times, want 3", n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	script = "#!/bin/sh\necho 'ERROR: unable to open: Permission denied' >&2; exit 1\n"
	if err := os.WriteFile(filepath.Join(fake, "mkfs.btrfs"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Create(context.Background(), Spec{FS: Btrfs, Size: 256 << 20, Dir: filepath.Join(dir, "c")}); err == nil ||
		!strings.Contains(err.Error(), "Permission denied") || strings.Contains(err.Error(), "tried") || time.Since(start) > time.Second {
		t.Errorf("a lasting failure: %v after %v", err, time.Since(start))
	}
}
