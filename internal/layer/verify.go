package layer

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// FullContent lists files whose every byte is compared (files with an Edit always are).
	FullContent []string
	// AllContent compares every byte of every file.
	AllContent bool
	// HeaderShare, when in (0, 1), reads the identity (header, or a real file's head) of that share
	// of the unchanged files only — a stable sample by path — instead of every one; names, kinds,
	// sizes, modes, link targets and changed files are always checked in full.
	HeaderShare float64
	// Workers walk directories in parallel (default 4 × runtime.NumCPU(): the walk mostly waits on
	// reads — a cold backing through its loop device, a FUSE mount fetching from a registry — so
	// more readers than CPUs keep them busy).
	Workers int
	// MaxProblems caps the list returned (default 50); the count of all is still reported.
	MaxProblems int
}

// Problem is one difference between the expected view and the real tree.
type Problem struct {
	Path string // "" for the summary entry
	Msg  string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// Verify walks root (a mounted container) and compares it with v: every expected path must exist
// with the right kind, size, permission bits, symlink target and hardlink identity (same inode as
// the file it links to), and nothing else may exist — which is how shadowing, whiteouts and opaque
// directories are checked. Every file's 16-byte header is compared (its identity); files with an
// Edit, those in opt.FullContent, or all with opt.AllContent are compared byte for byte.
//
// Problems are sorted by path; if there are more than MaxProblems, the first MaxProblems are
// returned followed by a summary Problem with an empty Path giving the total. The error is for
// failures to verify at all (root unreadable, ctx done); a file that cannot be read is a Problem.
func Verify(ctx context.Context, root string, v *View, opt VerifyOptions) ([]Problem, error) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("verify: open %s: %w", root, err)
	}
	defer unix.Close(rfd)
	w := &walker{v: v, rootfd: rfd, all: opt.AllContent, share: opt.HeaderShare, kids: map[string][]string{}, full: map[string]bool{},
		inodes: map[string][2]uint64{}, linked: map[string]bool{}}
	for p, e := range v.m {
		d := parent(p)
		w.kids[d] = append(w.kids[d], base(p))
		if e.Kind == Hardlink {
			w.linked[p], w.linked[e.Target] = true, true
		}
	}
	for _, p := range opt.FullContent {
		w.full[p] = true
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = 4 * runtime.NumCPU()
	}
	w.queue.cond = sync.NewCond(&w.queue.mu)
	w.queue.items = []string{""}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := &bufs{}
			for {
				d, ok := w.queue.pop()
				if !ok {
					return
				}
				var sub []string
				if ctx.Err() == nil {
					sub = w.dir(d, buf)
				}
				w.queue.done(sub)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	for p, e := range v.m {
		if e.Kind != Hardlink {
			continue
		}
		a, ok1 := w.inodes[p]
		b, ok2 := w.inodes[e.Target]
		switch {
		case e.ID == 0:
			w.problem(p, "hardlink target %s did not exist when the link was made", e.Target)
		case ok1 && ok2 && a != b:
			w.problem(p, "not a hardlink of %s (inode %d, want %d)", e.Target, a[1], b[1])
		}
	}
	ps := w.problems
	slices.SortFunc(ps, func(a, b Problem) int {
		if c := ComparePaths(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Msg, b.Msg)
	})
	limit := opt.MaxProblems
	if limit <= 0 {
		limit = 50
	}
	if len(ps) > limit {
		n := len(ps)
		ps = append(ps[:limit:limit], Problem{Msg: fmt.Sprintf("%d problems in all, %d not listed", n, n-limit)})
	}
	return ps, nil
}

type walker struct {
	v        *View
	rootfd   int
	all      bool
	share    float64
	kids     map[string][]string // directory → expected names
	full     map[string]bool
	linked   map[string]bool // paths whose inode is recorded
	queue    dirQueue
	mu       sync.Mutex
	problems []Problem
	inodes   map[string][2]uint64 // dev, ino
}

type bufs struct{ got, want []byte }

func (w *walker) problem(p, format string, args ...any) {
	w.mu.Lock()
	w.problems = append(w.problems, Problem{Path: p, Msg: fmt.Sprintf(format, args...)})
	w.mu.Unlock()
}

// dirQueue hands directories to workers until none is queued and none is being read.
type dirQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []string
	active int
}

func (q *dirQueue) pop() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && q.active > 0 {
		q.cond.Wait()
	}
	if len(q.items) == 0 {
		return "", false
	}
	d := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	q.active++
	return d, true
}

func (q *dirQueue) done(sub []string) {
	q.mu.Lock()
	q.items = append(q.items, sub...)
	q.active--
	q.mu.Unlock()
	q.cond.Broadcast()
}

func join(d, name string) string {
	if d == "" {
		return name
	}
	return d + "/" + name
}

// dir checks the entries of directory d and returns its subdirectories to walk.
func (w *walker) dir(d string, b *bufs) []string {
	rel := d
	if rel == "" {
		rel = "."
	}
	fd, err := openIn(w.rootfd, rel, unix.O_RDONLY|unix.O_DIRECTORY, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_SYMLINKS)
	if err != nil {
		w.problem(d, "open directory: %v", err)
		return nil
	}
	defer unix.Close(fd)
	names, err := readNames(fd)
	if err != nil {
		w.problem(d, "read directory: %v", err)
		return nil
	}
	present := make(map[string]bool, len(names))
	var sub []string
	for _, name := range names {
		present[name] = true
		p := join(d, name)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			w.problem(p, "stat: %v", err)
			continue
		}
		e, ok := w.v.m[p]
		if !ok {
			w.problem(p, "unexpected %s", describe(&st))
			continue
		}
		if w.entry(fd, name, &e, &st, b) && e.Kind == Dir {
			sub = append(sub, p)
		}
	}
	for _, name := range w.kids[d] {
		if !present[name] {
			e := w.v.m[join(d, name)]
			w.problem(join(d, name), "missing %s", e.Kind)
		}
	}
	return sub
}

func describe(st *unix.Stat_t) string {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return fmt.Sprintf("file (%d bytes)", st.Size)
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFCHR:
		if st.Rdev == 0 {
			return "whiteout device (char 0:0): the snapshotter exposes a whiteout"
		}
		return "character device"
	}
	return fmt.Sprintf("file of type %#o", st.Mode&unix.S_IFMT)
}

// entry checks one expected entry against its lstat; it reports whether the kinds match.
func (w *walker) entry(dfd int, name string, e *Entry, st *unix.Stat_t, b *bufs) bool {
	var want uint32
	switch e.Kind {
	case Dir:
		want = unix.S_IFDIR
	case File, Hardlink:
		want = unix.S_IFREG
	case Symlink:
		want = unix.S_IFLNK
	case Node:
		switch {
		case e.Mode&fs.ModeNamedPipe != 0:
			want = unix.S_IFIFO
		case e.Mode&fs.ModeCharDevice != 0:
			want = unix.S_IFCHR
		default:
			want = unix.S_IFBLK
		}
	}
	if st.Mode&unix.S_IFMT != want {
		w.problem(e.Path, "is a %s, want %s", describe(st), e.Kind)
		return false
	}
	if e.Kind != Symlink {
		if got := fs.FileMode(st.Mode & 0o777); got != e.Mode.Perm() {
			w.problem(e.Path, "mode %#o, want %#o", got, e.Mode.Perm())
		}
	}
	switch e.Kind {
	case Symlink:
		t, err := readlinkat(dfd, name)
		if err != nil {
			w.problem(e.Path, "readlink: %v", err)
		} else if t != e.Target {
			w.problem(e.Path, "symlink to %q, want %q", t, e.Target)
		}
	case File, Hardlink:
		if w.linked[e.Path] {
			w.mu.Lock()
			w.inodes[e.Path] = [2]uint64{st.Dev, st.Ino}
			w.mu.Unlock()
		}
		if st.Size != e.Size {
			w.problem(e.Path, "size %d, want %d", st.Size, e.Size)
		}
		if e.ID == 0 {
			return true // an unresolved hardlink: reported once, after the walk
		}
		full := w.all || e.Edit != nil || w.full[e.Path]
		if !full && w.share > 0 && w.share < 1 && !sampled(e.Path, w.share) {
			return true
		}
		if e.Real != nil {
			if e.Edit == nil {
				w.realContent(dfd, name, e, full)
			}
			return true // a real file the workload edited: its size was checked
		}
		if e.Size > 0 || full {
			w.content(dfd, name, e, full, b)
		}
	}
	return true
}

// sampled reports whether path p is in the stable sample of the given share (by an FNV hash of p).
func sampled(p string, share float64) bool {
	h := fnv.New64a()
	h.Write([]byte(p))
	return float64(h.Sum64()%1_000_000) < share*1_000_000
}

func readlinkat(dfd int, name string) (string, error) {
	for n := 256; ; n *= 2 {
		buf := make([]byte, n)
		k, err := unix.Readlinkat(dfd, name, buf)
		if err != nil {
			return "", err
		}
		if k < n {
			return string(buf[:k]), nil
		}
	}
}

// content compares the header (or, if full, every byte) of a file with the expected bytes.
func (w *walker) content(dfd int, name string, e *Entry, full bool, b *bufs) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		w.problem(e.Path, "open: %v", err)
		return
	}
	defer unix.Close(fd)
	if !full {
		var got, want [HeaderSize]byte
		n := e.ContentAt(want[:], 0)
		k, err := preadFull(fd, got[:], 0)
		if err != nil {
			w.problem(e.Path, "read: %v", err)
			return
		}
		if k < n || !bytes.Equal(got[:n], want[:n]) {
			w.problem(e.Path, "%s", headerMismatch(got[:k], want[:n], e))
		}
		return
	}
	if b.got == nil {
		b.got, b.want = make([]byte, Chunk), make([]byte, Chunk)
	}
	for off := int64(0); ; {
		n := e.ContentAt(b.want, off)
		k, err := preadFull(fd, b.got, off)
		if err != nil {
			w.problem(e.Path, "read at %d: %v", off, err)
			return
		}
		if i := firstDiff(b.got[:k], b.want[:n]); i >= 0 {
			at := off + int64(i)
			if at < HeaderSize {
				w.problem(e.Path, "%s", headerMismatch(b.got[:min(k, HeaderSize)], b.want[:min(n, HeaderSize)], e))
			} else {
				w.problem(e.Path, "content differs from byte %d on", at)
			}
			return
		}
		if n < len(b.want) {
			return
		}
		off += int64(n)
	}
}

// realContent compares a real file's content (its first HeadSize bytes, or if full every byte) with
// the hash its layer's tar gave.
func (w *walker) realContent(dfd int, name string, e *Entry, full bool) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		w.problem(e.Path, "open: %v", err)
		return
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	n, want := min(e.Size, HeadSize), e.Real.Head
	if full {
		n, want = e.Size, e.Real.All
	}
	got, err := RealOf(io.LimitReader(f, n), n)
	if err != nil {
		w.problem(e.Path, "read: %v", err)
		return
	}
	if got.All != want {
		what := "its first 4 KiB differ"
		if full {
			what = "its content differs"
		}
		w.problem(e.Path, "%s from the image layer's (sha256 %016x…, want %016x…)", what, got.All, want)
	}
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	if bytes.Equal(a[:n], b[:n]) {
		if len(a) != len(b) {
			return n
		}
		return -1
	}
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func headerMismatch(got, want []byte, e *Entry) string {
	if id, ok := HeaderID(got); ok {
		return fmt.Sprintf("header names content %016x, want %016x (another file's bytes)", id, e.ID)
	}
	return fmt.Sprintf("header %x, want %x", got, want)
}

// preadFull reads up to len(p) bytes at off, stopping early only at end of file.
func preadFull(fd int, p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		k, err := unix.Pread(fd, p[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		if k == 0 {
			break
		}
		n += k
	}
	return n, nil
}
