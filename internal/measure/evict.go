package measure

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// EvictResult says what an eviction achieved: the page cache of the files before and after it.
// After > 0 means the eviction was incomplete (pages mapped or locked by a process, or re-read by
// another one meanwhile): a caller running a `cold` measurement records it rather than assume.
type EvictResult struct {
	Files  int   `json:"files"`
	Before int64 `json:"before"` // resident bytes before the eviction
	After  int64 `json:"after"`  // resident bytes still there after it
}

// Evict drops one file's pages from the page cache: open, fdatasync (DONTNEED skips dirty pages),
// posix_fadvise(POSIX_FADV_DONTNEED) over the whole file, then measure again. Pages still resident
// after one pass (e.g. in writeback at the first call) get a second fadvise. It works through
// overlay and bind paths, because the advice reaches the inode that holds the cache; it does not
// touch dentries or inodes (see DropCaches).
func Evict(path string) (EvictResult, error) {
	f, _, err := openRegular(path, 0)
	if err != nil {
		return EvictResult{}, fmt.Errorf("measure: evict: %w", err)
	}
	defer f.Close()
	r, err := evictFile(f)
	if err != nil {
		return r, fmt.Errorf("measure: evict %s: %w", path, err)
	}
	return r, nil
}

func evictFile(f *os.File) (EvictResult, error) {
	r := EvictResult{Files: 1}
	p, err := filePages(f)
	if err != nil {
		return r, err
	}
	if r.Before = p.resident; r.Before == 0 {
		return r, nil // nothing cached, so nothing dirty either
	}
	// fdatasync only what may be dirty: on ext4 it flushes the device even for a clean file, and
	// a tree holds tens of thousands of files (1–2 ms a flush on a loop device).
	fd := int(f.Fd())
	if p.dirty > 0 || !p.dirtyKnown {
		if err := unix.Fdatasync(fd); err != nil {
			return r, fmt.Errorf("fdatasync: %w", err)
		}
	}
	for pass := 0; pass < 2; pass++ {
		if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
			return r, fmt.Errorf("fadvise: %w", err)
		}
		if r.After, err = residentFile(f); err != nil {
			return r, err
		}
		if r.After == 0 {
			break
		}
	}
	return r, nil
}

// procDropCaches and procDentryState are variables for tests.
var (
	procDropCaches  = "/proc/sys/vm/drop_caches"
	procDentryState = "/proc/sys/fs/dentry-state"
)

// DropCaches syncs every filesystem (only clean objects can be dropped) and writes level to
// /proc/sys/vm/drop_caches: 1 = page cache, 2 = reclaimable slab (dentries and inodes), 3 = both.
//
// It is global: it empties the caches of every process and tenant on the machine, and another
// tenant may do it to us. Only scenarios that ask for the `cold` cache mode use it, and the result
// records it; per-file eviction (Evict) is the precise tool for page cache. Pair it with DentryState
// before and after to record that dentries were actually dropped. Needs root.
func DropCaches(level int) error {
	if level < 1 || level > 3 {
		return fmt.Errorf("measure: drop caches: level %d, want 1 (page cache), 2 (dentries and inodes) or 3 (both)", level)
	}
	unix.Sync()
	if err := os.WriteFile(procDropCaches, []byte(strconv.Itoa(level)+"\n"), 0); err != nil {
		return fmt.Errorf("measure: drop caches: %w", err)
	}
	return nil
}

// DentryState reads /proc/sys/fs/dentry-state: the number of dentries allocated, and how many of
// them are unused (cached but referenced by nobody, the ones dropping caches frees).
func DentryState() (nrDentry, nrUnused int64, err error) {
	b, err := os.ReadFile(procDentryState)
	if err != nil {
		return 0, 0, fmt.Errorf("measure: dentry state: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("measure: dentry state: %s: unexpected content %q", procDentryState, b)
	}
	if nrDentry, err = strconv.ParseInt(f[0], 10, 64); err == nil {
		nrUnused, err = strconv.ParseInt(f[1], 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("measure: dentry state: %s: %w", procDentryState, err)
	}
	return nrDentry, nrUnused, nil
}
