package layer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Workers write files in parallel (default runtime.NumCPU()).
	Workers int
}

// Apply writes the tree into root, an existing directory (the mounted active snapshot), the way a
// tar extraction of the layer would, with ordinary syscalls:
//
//  1. in path order, Whiteouts are removed (rm -rf; nothing happens if a parent of the path is
//     missing, not a directory, or a symlink — Merge agrees), Opaque directories removed and
//     re-created, and directories created — an existing directory is kept, and its mode set
//     unless the entry is Implicit; a non-directory in the way (a symlink too) is removed;
//  2. regular files and symlinks are written by Workers goroutines, directory by directory; a
//     path that exists is removed first (unlink, never a write through an old inode, so a lower
//     hardlink or a symlink is never written through);
//  3. hardlinks are made, once their targets exist.
//
// Every path is resolved inside root: parent directories are opened with openat2
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS and everything else is *at syscalls on a single name, so
// a symlink planted by a lower layer can never send a write outside root (an absolute symlink
// resolves against root, as in the container). Modes are set exactly (fchmod where the umask would
// clear bits). Nothing is fsynced: a build step does not sync; the caller decides.
func (t *Tree) Apply(ctx context.Context, root string, opt ApplyOptions) error {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("layer %s: apply: open %s: %w", t.Layer, root, err)
	}
	defer unix.Close(rfd)
	a := &applier{t: t, rootfd: rfd, umask: processUmask()}
	wrap := func(e *Entry, err error) error {
		return fmt.Errorf("layer %s: apply %s %s: %w", t.Layer, e.Kind, e.Path, err)
	}

	var writes, links []int
	for i := range t.Entries {
		e := &t.Entries[i]
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("layer %s: apply: %w", t.Layer, err)
			}
		}
		switch e.Kind {
		case Whiteout, Opaque, Dir:
			if err := a.dir(e); err != nil {
				return wrap(e, err)
			}
		case File, Symlink:
			if e.Real != nil {
				return wrap(e, fmt.Errorf("content from an image layer: apply the layer's tar"))
			}
			writes = append(writes, i)
		case Hardlink:
			links = append(links, i)
		default:
			return wrap(e, fmt.Errorf("unknown kind"))
		}
	}

	items := a.plan(writes)
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = max(1, min(workers, len(items)))
	var (
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err })
		failed.Store(true)
	}
	for range workers {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				if err := ctx.Err(); err != nil {
					fail(fmt.Errorf("layer %s: apply: %w", t.Layer, err))
					return
				}
				if e, err := a.writeItem(items[i]); err != nil {
					fail(wrap(e, err))
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}

	for _, i := range links {
		e := &t.Entries[i]
		if err := a.hardlink(e); err != nil {
			return wrap(e, err)
		}
	}
	return nil
}

type applier struct {
	t      *Tree
	rootfd int
	umask  fs.FileMode
}

// item is a batch of files and symlinks of one directory.
type item struct {
	dir   string
	idx   []int
	bytes int64
}

const (
	itemFiles = 128
	itemBytes = 8 << 20
)

// plan groups writes by directory (one openat2 per batch) into batches of bounded size, big
// files alone and first so they do not end up last on one worker.
func (a *applier) plan(writes []int) []item {
	var big, small []item
	byDir := map[string]int{}
	for _, i := range writes {
		e := &a.t.Entries[i]
		d := parent(e.Path)
		if e.Kind == File && e.Size >= itemBytes {
			big = append(big, item{dir: d, idx: []int{i}, bytes: e.Size})
			continue
		}
		k, ok := byDir[d]
		if !ok || len(small[k].idx) >= itemFiles || small[k].bytes >= itemBytes {
			small = append(small, item{dir: d})
			k = len(small) - 1
			byDir[d] = k
		}
		small[k].idx = append(small[k].idx, i)
		if e.Kind == File {
			small[k].bytes += e.Size
		}
	}
	slices.SortStableFunc(big, func(x, y item) int {
		switch {
		case x.bytes > y.bytes:
			return -1
		case x.bytes < y.bytes:
			return 1
		}
		return 0
	})
	return append(big, small...)
}

func base(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// openDir opens directory dir (relative to root, "" = root) for *at calls. The caller closes the
// fd unless it is the root's.
func (a *applier) openDir(dir string) (int, error) {
	if dir == "" {
		return a.rootfd, nil
	}
	return openIn(a.rootfd, dir, unix.O_PATH|unix.O_DIRECTORY, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS)
}

func (a *applier) closeDir(fd int) {
	if fd != a.rootfd {
		unix.Close(fd)
	}
}

// openIn is openat2 relative to dirfd, retrying the EAGAIN a concurrent rename can cause.
func openIn(dirfd int, p string, flags int, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolve}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, p, &how)
		if (err == unix.EAGAIN || err == unix.EINTR) && i < 16 {
			continue
		}
		return fd, err
	}
}

func (a *applier) needChmod(m fs.FileMode) bool { return m&a.umask != 0 }

func (a *applier) dir(e *Entry) error {
	var pfd int
	var err error
	if e.Kind == Whiteout {
		// A whiteout has no parent entries in its tree: its parents are whatever the lower
		// layers hold. One of them being a symlink (or missing, or a file) means there is
		// nothing to delete at that path, as Merge sees it: never follow it.
		pfd = a.rootfd
		if d := parent(e.Path); d != "" {
			pfd, err = openIn(a.rootfd, d, unix.O_PATH|unix.O_DIRECTORY, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_SYMLINKS)
			if err == unix.ENOENT || err == unix.ENOTDIR || err == unix.ELOOP {
				return nil
			}
		}
	} else {
		pfd, err = a.openDir(parent(e.Path))
	}
	if err != nil {
		return fmt.Errorf("open parent: %w", err)
	}
	defer a.closeDir(pfd)
	name := base(e.Path)
	switch e.Kind {
	case Whiteout:
		return removeAt(pfd, name)
	case Opaque:
		if err := removeAt(pfd, name); err != nil {
			return err
		}
	}
	mode := uint32(e.Mode.Perm())
	err = unix.Mkdirat(pfd, name, mode)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if !e.Implicit && st.Mode&0o777 != mode {
				return unix.Fchmodat(pfd, name, mode, 0)
			}
			return nil
		}
		if err := removeAt(pfd, name); err != nil {
			return err
		}
		err = unix.Mkdirat(pfd, name, mode)
	}
	if err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	if a.needChmod(e.Mode) {
		return unix.Fchmodat(pfd, name, mode, 0)
	}
	return nil
}

func (a *applier) writeItem(it item) (*Entry, error) {
	pfd, err := a.openDir(it.dir)
	if err != nil {
		return &a.t.Entries[it.idx[0]], fmt.Errorf("open parent: %w", err)
	}
	defer a.closeDir(pfd)
	for _, i := range it.idx {
		e := &a.t.Entries[i]
		var err error
		if e.Kind == File {
			err = a.file(pfd, e)
		} else {
			err = a.symlink(pfd, e)
		}
		if err != nil {
			return e, err
		}
	}
	return nil, nil
}

func (a *applier) file(pfd int, e *Entry) error {
	name := base(e.Path)
	mode := uint32(e.Mode.Perm())
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(pfd, name, flags, mode)
	if err == unix.EEXIST {
		if err := removeAt(pfd, name); err != nil {
			return err
		}
		fd, err = unix.Openat(pfd, name, flags, mode)
	}
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if a.needChmod(e.Mode) {
		if err := unix.Fchmod(fd, mode); err != nil {
			unix.Close(fd)
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := writeContent(fd, e.ID, e.Size); err != nil {
		unix.Close(fd)
		return fmt.Errorf("write: %w", err)
	}
	return unix.Close(fd)
}

// writeContent writes size bytes of content id at the start of fd: the header and the first
// chunk in one writev, then chunks straight from the pool.
func writeContent(fd int, id uint64, size int64) error {
	h := header(id)
	var off int64
	for off < size {
		var n int
		var err error
		if off < HeaderSize {
			hs := h[off:min(HeaderSize, size)]
			if size > HeaderSize {
				body := window(id, HeaderSize, int(min(size-HeaderSize, Chunk-HeaderSize)))
				n, err = unix.Writev(fd, [][]byte{hs, body})
			} else {
				n, err = unix.Write(fd, hs)
			}
		} else {
			n, err = unix.Write(fd, window(id, off, int(min(size-off, Chunk))))
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return io.ErrShortWrite
		}
		off += int64(n)
	}
	return nil
}

func (a *applier) symlink(pfd int, e *Entry) error {
	name := base(e.Path)
	err := unix.Symlinkat(e.Target, pfd, name)
	if err == unix.EEXIST {
		if err := removeAt(pfd, name); err != nil {
			return err
		}
		err = unix.Symlinkat(e.Target, pfd, name)
	}
	return err
}

func (a *applier) hardlink(e *Entry) error {
	tfd, err := a.openDir(parent(e.Target))
	if err != nil {
		return fmt.Errorf("open target's parent: %w", err)
	}
	defer a.closeDir(tfd)
	pfd, err := a.openDir(parent(e.Path))
	if err != nil {
		return fmt.Errorf("open parent: %w", err)
	}
	defer a.closeDir(pfd)
	name, tname := base(e.Path), base(e.Target)
	err = unix.Linkat(tfd, tname, pfd, name, 0)
	if err == unix.EEXIST {
		if err := removeAt(pfd, name); err != nil {
			return err
		}
		err = unix.Linkat(tfd, tname, pfd, name, 0)
	}
	if err != nil {
		return fmt.Errorf("link to %s: %w", e.Target, err)
	}
	return nil
}

// removeAt removes name in directory dirfd and, for a directory, everything below it, without
// following any symlink (rm -rf). A missing name is not an error.
func removeAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	names, err := readNames(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAt(fd, n); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// readNames lists a directory opened for reading (without "." and ".."), leaving fd open.
func readNames(fd int) ([]string, error) {
	buf := make([]byte, 32<<10)
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// processUmask reads the umask from /proc/self/status (reading it with umask(2) would change it
// for other goroutines); unknown = every bit, so every mode is set explicitly.
var processUmask = sync.OnceValue(umaskFromProc)

func umaskFromProc() fs.FileMode {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0o777
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return fs.FileMode(m) & 0o777
			}
		}
	}
	return 0o777
}
