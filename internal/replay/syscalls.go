package replay

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw syscalls on pre-converted paths: the timed regions call these and nothing else, so a timer
// wraps the kernel's work, not Go's string conversion or allocation.

func openat2(dirfd int, p *byte, how *unix.OpenHow) (int, unix.Errno) {
	fd, _, e := unix.Syscall6(unix.SYS_OPENAT2, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(how)), unsafe.Sizeof(*how), 0, 0)
	return int(fd), e
}

func openat(dirfd int, p *byte, flags int, mode uint32) (int, unix.Errno) {
	fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(flags|unix.O_CLOEXEC), uintptr(mode), 0, 0)
	return int(fd), e
}

func write(fd int, b []byte) (int, unix.Errno) {
	n, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	return int(n), e
}

func read(fd int, b []byte) (int, unix.Errno) {
	n, _, e := unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	return int(n), e
}

func closefd(fd int) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	return e
}

func ftruncate(fd int, size int64) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_FTRUNCATE, uintptr(fd), uintptr(size), 0)
	return e
}

func fchmodat(dirfd int, p *byte, mode uint32) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_FCHMODAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(mode), 0, 0, 0)
	return e
}

func unlinkat(dirfd int, p *byte, flags int) unix.Errno {
	_, _, e := unix.Syscall(unix.SYS_UNLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flags))
	return e
}

func renameat(dirfd int, from, to *byte) unix.Errno {
	_, _, e := unix.Syscall6(unix.SYS_RENAMEAT, uintptr(dirfd), uintptr(unsafe.Pointer(from)),
		uintptr(dirfd), uintptr(unsafe.Pointer(to)), 0, 0)
	return e
}

// errno turns a raw errno into an error (nil for 0).
func errno(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func mustPtr(s string) *byte {
	b, err := unix.BytePtrFromString(s)
	if err != nil {
		// Paths come from the validated plan, which rejects NUL bytes.
		return &[]byte{0}[0]
	}
	return b
}
