// Package layer turns a scenario layer into a tree of entries and that tree into files.
//
// The life of a layer:
//
//	Build(PlanLayer, seed) → *Tree          deterministic: same input, byte-identical tree, anywhere
//	(*Tree).Apply(ctx, mountedSnapshot, …)   writes the tree as a build step would (no fsync)
//	Merge([]*Tree bottom→top) → *View        the container view overlay semantics predict
//	(*View).Created/Removed/Appended/…       what a workload did inside one container
//	Verify(ctx, mountedContainer, view, …)   walks the real tree and lists every difference
//
// A Tree is what one build step writes: regular files, directories, symlinks, hardlinks, and two
// kinds of removal of lower content — a Whiteout (`rm -rf path`) and an Opaque directory
// (`rm -rf dir && mkdir dir`). Apply performs removals with ordinary unlink/rmdir calls: the
// snapshotter's filesystem (overlay upper, a native copy, a btrfs snapshot) records them in its own
// way, which is exactly what is being measured.
//
// File contents are synthesised from a content ID (see Content): every file starts with a 16-byte
// header naming its ID, so reading 16 bytes proves a file's identity, and the rest comes from a
// shared pseudo-random pool, so writing is as cheap as a memcpy and contents do not compress.
//
// Paths are slash-separated, relative to the snapshot root, cleaned, without "." or "..".
package layer

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Kind is the type of a tree entry.
type Kind uint8

// Entry kinds.
const (
	File     Kind = iota + 1 // regular file: Size bytes of content ID
	Dir                      // directory
	Symlink                  // symbolic link to Target (any string, not resolved)
	Hardlink                 // another name for the file at Target (a path in this layer or below)
	Whiteout                 // Path and everything below it removed from the lower layers
	Opaque                   // directory whose lower contents are hidden (rm -rf + mkdir)
	Node                     // a device node or FIFO from an image layer (Mode holds its type bits)
)

var kindNames = [...]string{"invalid", "file", "dir", "symlink", "hardlink", "whiteout", "opaque", "node"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Entry is one path of a tree or of a view.
type Entry struct {
	Path   string
	Kind   Kind
	Size   int64       // File (and Hardlink in a View): content length
	Mode   fs.FileMode // permission bits only (0777); a Node's also its type bits
	Target string      // Symlink: link text; Hardlink: path of the linked file
	// ID is the content identity of a File (see Content). A Hardlink carries its file's ID once
	// known (always in a View; in a Tree only when the target is in the same layer).
	ID uint64
	// Implicit marks a directory that exists only as a parent (mkdir -p): applying it keeps an
	// existing directory and its mode; only a missing one is created, with Mode.
	Implicit bool
	// Real identifies the content of a file that came from an image layer's tar (its ID is then
	// derived from Real, and its bytes cannot be synthesised).
	Real *Real
	// Edit is set in a View for a file the workload changed after the image was built; its content
	// is then described by Edit (see Edit), and Verify checks every byte of it.
	Edit *Edit
}

// Edit describes the content of a file modified in a container: the first Keep bytes of content
// ID, then Tail, then zero bytes up to Size (a truncate that extends the file).
type Edit struct {
	Keep int64
	Tail []byte
}

// ContentAt fills p with the expected bytes of a File (or Hardlink) entry at offset off and returns
// how many bytes exist there (less than len(p) at the end of the file).
func (e *Entry) ContentAt(p []byte, off int64) int {
	if off >= e.Size {
		return 0
	}
	if rest := e.Size - off; int64(len(p)) > rest {
		p = p[:rest]
	}
	if e.Edit == nil {
		Content(e.ID, off, p)
		return len(p)
	}
	n := 0
	if off < e.Edit.Keep {
		k := min(int64(len(p)), e.Edit.Keep-off)
		Content(e.ID, off, p[:k])
		n = int(k)
	}
	for n < len(p) {
		o := off + int64(n) - e.Edit.Keep
		if o < int64(len(e.Edit.Tail)) {
			n += copy(p[n:], e.Edit.Tail[o:])
			continue
		}
		clear(p[n:])
		n = len(p)
	}
	return len(p)
}

// Tree is the content of one layer: entries sorted by path, component by component (see
// ComparePaths), so a directory comes before anything inside it.
type Tree struct {
	Layer string
	// Source says where the tree came from: generate, files, generate+files (+delete, +opaque).
	Source  string
	Entries []Entry
}

// Stats counts a tree's entries; the fields match result.Layer.
type Stats struct {
	Files, Dirs, Symlinks, Hardlinks, Whiteouts, Opaques int
	Bytes                                                int64 // sum of regular file sizes
	DiskBytes                                            int64 // sizes rounded up to 4 KiB, plus 4 KiB per directory
}

const block = 4096

// Stats counts the tree's entries. Opaque directories count as Opaques, not Dirs.
func (t *Tree) Stats() Stats {
	var s Stats
	for i := range t.Entries {
		e := &t.Entries[i]
		switch e.Kind {
		case File:
			s.Files++
			s.Bytes += e.Size
			s.DiskBytes += (e.Size + block - 1) / block * block
		case Dir:
			s.Dirs++
			s.DiskBytes += block
		case Opaque:
			s.Opaques++
			s.DiskBytes += block
		case Symlink:
			s.Symlinks++
		case Hardlink:
			s.Hardlinks++
		case Whiteout:
			s.Whiteouts++
		}
	}
	return s
}

// ComparePaths orders paths component by component ("a/b" < "a/b/c" < "a-b"): a directory sorts
// before everything inside it, and a subtree is contiguous.
func ComparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			return -1
		}
		if cb == '/' {
			return 1
		}
		if ca < cb {
			return -1
		}
		return 1
	}
	return len(a) - len(b)
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return ComparePaths(a.Path, b.Path) })
}

// cleanPath validates a relative slash path and returns it cleaned.
func cleanPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty path")
	}
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q: must be relative to the image root", p)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q: contains NUL", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "", fmt.Errorf("path %q: must not contain ..", p)
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", fmt.Errorf("path %q: names the image root", p)
	}
	return c, nil
}

// parent returns the parent directory of p ("" for a top-level path).
func parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// under reports whether p is strictly below dir.
func under(p, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}
