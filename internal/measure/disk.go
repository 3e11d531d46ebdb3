package measure

import (
	"fmt"
	"os"

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
