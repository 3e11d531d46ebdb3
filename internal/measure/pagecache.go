package measure

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"unsafe"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// pageSize is the unit both cachestat(2) and mincore(2) count in.
var pageSize = int64(os.Getpagesize())

// noCachestat is set once cachestat(2) has returned ENOSYS (kernel < 6.5), so later calls go
// straight to mincore.
var noCachestat atomic.Bool

// Resident returns the bytes of path's page cache that are resident, in whole pages (so a 1-byte
// file that was read counts one page). A zero-length file is 0. It follows symlinks and reports an
// error for anything but a regular file.
//
// It asks cachestat(2) (kernel ≥ 6.5), which counts the pages of the file's mapping without touching
// them, and falls back to mmap + mincore(2) when the kernel lacks it. On overlayfs, cachestat sees
// only the overlay inode's mapping, which is always empty, while an overlay mmap maps the real
// (upper or lower) file: overlay paths are therefore measured with mincore, and report the real
// file's cache. A FUSE file has a page cache of its own, separate from its backing file's. The
// design's rule stands: account for the backing files; a merged path is a convenience.
func Resident(path string) (int64, error) {
	f, _, err := openRegular(path, 0)
	if err != nil {
		return 0, fmt.Errorf("measure: resident: %w", err)
	}
	defer f.Close()
	n, err := residentFile(f)
	if err != nil {
		return 0, fmt.Errorf("measure: resident %s: %w", path, err)
	}
	return n, nil
}

// openRegular opens path read-only without blocking (a FIFO must not hang a walk) and checks that it
// is a regular file.
func openRegular(path string, extra int) (*os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|extra, 0)
	if err != nil {
		return nil, st, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, st, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		return nil, st, fmt.Errorf("%s: %w", path, errNotRegular)
	}
	return f, st, nil
}

var errNotRegular = errors.New("not a regular file")

// residentFile measures an open regular file with cachestat, or with mincore when cachestat is
// missing or blind (overlayfs).
func residentFile(f *os.File) (int64, error) {
	p, err := filePages(f)
	return p.resident, err
}

// pages is what an open file holds in the page cache: resident bytes, and — when cachestat could
// tell (dirtyKnown) — how many of them are dirty or under writeback.
type pages struct {
	resident, dirty int64
	dirtyKnown      bool
}

// filePages asks cachestat for f's pages, or mincore (which cannot tell dirty pages) when cachestat
// is missing or blind (overlayfs).
func filePages(f *os.File) (pages, error) {
	var sfs unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &sfs); err != nil {
		return pages{}, fmt.Errorf("fstatfs: %w", err)
	}
	if sfs.Type != unix.OVERLAYFS_SUPER_MAGIC && !noCachestat.Load() {
		cs, err := cachestat(f)
		if err == nil {
			return pages{resident: int64(cs.Cache) * pageSize, dirty: int64(cs.Dirty+cs.Writeback) * pageSize, dirtyKnown: true}, nil
		}
		// ENOSYS: old kernel; EOPNOTSUPP: a filesystem cachestat refuses (hugetlbfs).
		if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EOPNOTSUPP) {
			return pages{}, err
		}
		if errors.Is(err, unix.ENOSYS) {
			noCachestat.Store(true)
		}
	}
	n, err := residentMincore(f)
	return pages{resident: n}, err
}

// cachestat asks cachestat(2) about the whole file (len 0 = to the end).
func cachestat(f *os.File) (unix.Cachestat_t, error) {
	var cs unix.Cachestat_t
	rng := unix.CachestatRange{Off: 0, Len: 0}
	if err := unix.Cachestat(uint(f.Fd()), &rng, &cs, 0); err != nil {
		return cs, fmt.Errorf("cachestat: %w", err)
	}
	return cs, nil
}

// mincoreWindow bounds how much of a file is mapped at once (and the size of the vector).
const mincoreWindow = 1 << 30

// residentMincore maps the file window by window and counts the pages mincore(2) reports resident.
// Mapping does not fault pages in (no access is made). Since Linux 5.0 mincore reports page-cache
// residency only for files the caller could write (or owns); seedbench runs as root.
func residentMincore(f *os.File) (int64, error) {
	var pages int64
	err := eachMincore(f, func(_ int64, vec []byte) {
		for _, v := range vec {
			pages += int64(v & 1)
		}
	})
	return pages * pageSize, err
}

// ResidentRanges is the page-aligned byte ranges ([off, end), end clipped to the file's size) of
// the regular file at path held in the page cache, in order, by mincore(2).
func ResidentRanges(path string) ([][2]int64, error) {
	f, fi, err := openRegular(path, 0)
	if err != nil {
		return nil, fmt.Errorf("measure: residency: %w", err)
	}
	defer f.Close()
	size := fi.Size
	var out [][2]int64
	err = eachMincore(f, func(off int64, vec []byte) {
		for i, v := range vec {
			if v&1 == 0 {
				continue
			}
			lo := off + int64(i)*pageSize
			hi := min(lo+pageSize, size)
			if n := len(out); n > 0 && out[n-1][1] == lo {
				out[n-1][1] = hi
			} else {
				out = append(out, [2]int64{lo, hi})
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("measure: residency of %s: %w", path, err)
	}
	return out, nil
}

// eachMincore maps f window by window and passes fn each window's offset and mincore vector.
func eachMincore(f *os.File, fn func(off int64, vec []byte)) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	vec := make([]byte, 0)
	for off := int64(0); off < size; off += mincoreWindow {
		n := min(size-off, mincoreWindow)
		m, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("mmap: %w", err)
		}
		np := (n + pageSize - 1) / pageSize
		if int64(cap(vec)) < np {
			vec = make([]byte, np)
		}
		vec = vec[:np]
		err = mincore(m, vec)
		if uerr := unix.Munmap(m); err == nil && uerr != nil {
			err = fmt.Errorf("munmap: %w", uerr)
		}
		if err != nil {
			return fmt.Errorf("mincore: %w", err)
		}
		fn(off, vec)
	}
	return nil
}

// mincore wraps mincore(2), which x/sys/unix does not provide.
func mincore(b []byte, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if e != 0 {
		return e
	}
	return nil
}

// FileSet is a list of distinct regular files, found once (ListFiles) and then measured or evicted
// many times without walking their tree again: a backing holding full copies has tens of thousands.
type FileSet struct{ paths []string }

// ListFiles lists the distinct regular files under root whose path relative to root (slash
// separated, e.g. "usr/lib/libc.so.6") matches; a nil match takes every file. The walk does not
// follow symlinks, counts a hard-linked inode once, and stays on root's filesystem (walkFiles).
func ListFiles(root string, match func(rel string) bool) (*FileSet, error) {
	set := &FileSet{}
	err := walkFiles(root, match, func(f *os.File) error {
		set.paths = append(set.paths, f.Name())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("measure: list files %s: %w", root, err)
	}
	return set, nil
}

// Len is the number of files in the set.
func (s *FileSet) Len() int { return len(s.paths) }

// each opens every file of the set that is still a regular file there, and calls fn with it.
func (s *FileSet) each(fn func(f *os.File) error) error {
	for _, p := range s.paths {
		f, _, err := openRegular(p, unix.O_NOFOLLOW)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, errNotRegular) {
				continue // removed or replaced since it was listed
			}
			return err
		}
		err = fn(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

// Resident sums the page cache the set's files hold (Resident of each).
func (s *FileSet) Resident() (bytes int64, err error) {
	err = s.each(func(f *os.File) error {
		n, err := residentFile(f)
		bytes += n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("measure: resident: %w", err)
	}
	return bytes, nil
}

// Evict evicts every file of the set (as Evict does each) and returns the sums.
func (s *FileSet) Evict() (EvictResult, error) {
	var total EvictResult
	err := s.each(func(f *os.File) error {
		r, err := evictFile(f)
		total.Files += r.Files
		total.Before += r.Before
		total.After += r.After
		return err
	})
	if err != nil {
		return total, fmt.Errorf("measure: evict: %w", err)
	}
	return total, nil
}

// walkFiles calls fn with each distinct regular file under root that matches, opened read-only.
//
// The walk stays on root's filesystem by skipping the mount points below root (read from
// mountinfo), not by comparing st_dev: btrfs subvolumes (every btrfs snapshot) have their own st_dev
// yet are part of the same filesystem and must be walked.
func walkFiles(root string, match func(rel string) bool, fn func(f *os.File) error) error {
	var rootSt unix.Stat_t
	if err := unix.Stat(root, &rootSt); err != nil {
		return &fs.PathError{Op: "stat", Path: root, Err: err}
	}
	clean := filepath.Clean(root)
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(clean))
	if err != nil {
		return fmt.Errorf("mountinfo: %w", err)
	}
	below := make(map[string]bool, len(mounts))
	for _, m := range mounts {
		if m.Mountpoint != clean {
			below[m.Mountpoint] = true
		}
	}
	type inode struct{ dev, ino uint64 }
	seen := make(map[inode]bool)
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != root {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if below[path] {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if match != nil {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			if !match(filepath.ToSlash(rel)) {
				return nil
			}
		}
		f, st, err := openRegular(path, unix.O_NOFOLLOW)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) || errors.Is(err, errNotRegular) {
				return nil // removed or replaced since the directory was read
			}
			return err
		}
		defer f.Close()
		k := inode{uint64(st.Dev), st.Ino}
		if seen[k] {
			return nil
		}
		seen[k] = true
		return fn(f)
	})
}
