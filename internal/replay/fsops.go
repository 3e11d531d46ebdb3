package replay

import (
	"fmt"
	"path"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// root is a mounted container (or build) rootfs, held open as a directory fd. Every path an op uses is
// resolved inside it: opens go through openat2(RESOLVE_IN_ROOT), so a symlink planted by a layer
// cannot redirect a write outside the container.
type root struct {
	fd   int
	path string
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &root{fd: fd, path: dir}, nil
}

func (r *root) close() {
	if r != nil && r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

const resolveInRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// open opens rel inside the root.
func (r *root) open(rel string, flags int, mode uint32) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode), Resolve: resolveInRoot}
	return unix.Openat2(r.fd, rel, &how)
}

// dir opens the parent directory of rel inside the root and returns it with rel's base name, so a
// timed unlinkat/mkdirat/renameat touches one component only.
func (r *root) dir(rel string) (int, string, error) {
	d, base := path.Split(rel)
	if d == "" {
		d = "."
	}
	fd, err := r.open(d, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return -1, "", fmt.Errorf("open %s in %s: %w", d, r.path, err)
	}
	return fd, base, nil
}

// mkdirAll creates rel and its parents inside the root (untimed set-up).
func (r *root) mkdirAll(rel string) error {
	cur := ""
	for _, c := range splitPath(rel) {
		cur = path.Join(cur, c)
		fd, base, err := r.dir(cur)
		if err != nil {
			return err
		}
		err = unix.Mkdirat(fd, base, 0o755)
		unix.Close(fd)
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("mkdir %s: %w", cur, err)
		}
	}
	return nil
}

// splitPath returns the components of a relative path, cleaned ("a//b/./c" → a, b, c).
func splitPath(p string) []string {
	p = path.Clean("/" + p)[1:]
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// cpath is a path converted once to a NUL-terminated byte string, so a timed stat loop does no
// allocation and no conversion: the timer wraps the syscall and nothing else.
type cpath struct {
	rel string
	ptr *byte
}

func cpaths(rels []string) ([]cpath, error) {
	out := make([]cpath, len(rels))
	for i, r := range rels {
		b, err := unix.BytePtrFromString(r)
		if err != nil {
			return nil, err
		}
		out[i] = cpath{rel: r, ptr: b}
	}
	return out, nil
}

// fstatat is newfstatat(dirfd, p, st, AT_SYMLINK_NOFOLLOW) with no allocation. The paths are the
// workload's own (under seedbench/), which contain no symlinks, so resolving them relative to the
// root fd stays inside the container.
func fstatat(dirfd int, p *byte, st *unix.Stat_t) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	return e
}
