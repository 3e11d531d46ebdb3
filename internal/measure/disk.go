package measure

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Usage is what a filesystem has allocated: bytes in used blocks and used inodes.
type Usage struct {
	Bytes  int64 `json:"bytes"`
	Inodes int64 `json:"inodes"`
}

// Sub returns u − v, the growth from v to u.
func (u Usage) Sub(v Usage) Usage {
	return Usage{Bytes: u.Bytes - v.Bytes, Inodes: u.Inodes - v.Inodes}
}

// Sync flushes the whole filesystem holding path (syncfs(2)), so that a following DiskUsed sees the
// blocks delayed allocation has not placed yet. It syncs one filesystem, not the machine.
func Sync(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("measure: sync: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("measure: syncfs %s: %w", path, err)
	}
	return nil
}

// DiskUsed returns the space and inodes in use on the filesystem holding path, from statfs(2):
// (blocks − free blocks) × block size, and (inodes − free inodes). Reserved blocks count as free, so
// the figure is what files occupy, not what df's "Available" hides. Call Sync first; on a filesystem
// other processes write to, only a delta over a short window is meaningful. Filesystems without a
// fixed inode table (btrfs) report 0 inodes.
func DiskUsed(path string) (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Usage{}, fmt.Errorf("measure: statfs %s: %w", path, err)
	}
	return Usage{
		Bytes:  int64(st.Blocks-st.Bfree) * int64(st.Bsize),
		Inodes: int64(st.Files - st.Ffree),
	}, nil
}

// DeviceIO is what a block device has done since it appeared, from /sys/block/NAME/stat: sectors
// are 512 bytes whatever the device's block size.
type DeviceIO struct {
	ReadBytes, WriteBytes int64
	Flushes               int64 // flush requests completed (kernel ≥ 5.5; 0 before)
}

// Sub is d − o.
func (d DeviceIO) Sub(o DeviceIO) DeviceIO {
	return DeviceIO{ReadBytes: d.ReadBytes - o.ReadBytes, WriteBytes: d.WriteBytes - o.WriteBytes, Flushes: d.Flushes - o.Flushes}
}

// sysBlock is where block devices' sysfs directories are; a variable for tests.
var sysBlock = "/sys/block"

// ReadDeviceIO reads dev's counters (dev as /dev/loop3 or loop3).
func ReadDeviceIO(dev string) (DeviceIO, error) {
	b, err := os.ReadFile(filepath.Join(sysBlock, filepath.Base(dev), "stat"))
	if err != nil {
		return DeviceIO{}, fmt.Errorf("device io: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 7 {
		return DeviceIO{}, fmt.Errorf("device io: %s: %d fields in %q", dev, len(f), strings.TrimSpace(string(b)))
	}
	num := func(i int) int64 {
		if i >= len(f) {
			return 0
		}
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return v
	}
	// Fields: reads, read merges, sectors read, ms reading, writes, write merges, sectors written,
	// ms writing, in flight, io ticks, time in queue, discards, discard merges, discard sectors, ms
	// discarding, flushes completed (the 16th), ms flushing.
	return DeviceIO{ReadBytes: num(2) * 512, WriteBytes: num(6) * 512, Flushes: num(15)}, nil
}
