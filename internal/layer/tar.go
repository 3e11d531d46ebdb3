package layer

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/containerd/containerd/v2/pkg/archive"
)

// Real identifies the content of a file that came from an image layer (a tar), not from a content
// ID: its bytes have no header to read, so Verify hashes them. Head is a hash of the first HeadSize
// bytes (what a header check reads), All of every byte (what a full check reads); both are the first
// 8 bytes of a SHA-256.
type Real struct {
	Head, All uint64
}

// HeadSize is how many leading bytes of a real file Real.Head covers.
const HeadSize = 4096

// TarError is a problem with one entry of an image layer's tar: the layer, the entry's position
// (1-based) and name as the tar has them, and what is wrong.
type TarError struct {
	Layer string
	Entry int
	Name  string
	Err   error
}

func (e *TarError) Error() string {
	if e.Entry == 0 {
		return fmt.Sprintf("layer %s: entry %q: %v", e.Layer, e.Name, e.Err)
	}
	if e.Name == "" {
		return fmt.Sprintf("layer %s: tar entry %d: %v", e.Layer, e.Entry, e.Err)
	}
	return fmt.Sprintf("layer %s: tar entry %d (%q): %v", e.Layer, e.Entry, e.Name, e.Err)
}

func (e *TarError) Unwrap() error { return e.Err }

// Tar whiteout names (the OCI image spec's layer format).
const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
	whiteoutMeta   = ".wh..wh." // AUFS's own entries (hardlink directories): not content
)

// FromTar reads an image layer (an uncompressed tar) and returns its tree: each entry as an applier
// writes it, a regular file's content identified by Real (hashed as it is read), whiteouts and
// opaque markers as Whiteout and Opaque entries, device nodes and FIFOs as Node entries. It refuses
// what would write outside the snapshot or through a link — an absolute name, a name or hardlink
// target climbing out with "..", an entry below a symlink the layer itself made — naming the entry.
// A later entry at the same path replaces an earlier one, as it does when the tar is applied.
// A truncated or corrupt tar is an error naming the last entry read.
func FromTar(layerName string, r io.Reader) (*Tree, error) {
	tr := tar.NewReader(r)
	m := map[string]*Entry{}
	h := sha256.New()
	buf := make([]byte, 256<<10)
	n, last := 0, ""
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		n++
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("the tar ends in the middle of an entry (truncated)")
			}
			return nil, &TarError{Layer: layerName, Entry: n, Name: "", Err: fmt.Errorf("after %q: %w", last, err)}
		}
		last = hdr.Name
		fail := func(format string, args ...any) error {
			return &TarError{Layer: layerName, Entry: n, Name: hdr.Name, Err: fmt.Errorf(format, args...)}
		}
		p, err := tarPath(hdr.Name)
		if err != nil {
			return nil, fail("%v", err)
		}
		if p == "" || hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // the root itself
		}
		if via := symlinkParent(m, p); via != "" {
			return nil, fail("written through the symlink %s this layer makes (it may point anywhere): refused", via)
		}
		dir, name := parent(p), path.Base(p)
		e := Entry{Path: p, Mode: fs.FileMode(hdr.Mode) & fs.ModePerm}
		switch {
		case name == whiteoutOpaque:
			if dir == "" {
				return nil, fail("an opaque marker for the image root: refused")
			}
			e = Entry{Path: dir, Kind: Opaque, Mode: 0o755}
			if old, ok := m[dir]; ok && isDir(old.Kind) {
				e.Mode = old.Mode
			}
		case strings.HasPrefix(name, whiteoutMeta):
			continue
		case strings.HasPrefix(name, whiteoutPrefix):
			e = Entry{Path: path.Join(dir, strings.TrimPrefix(name, whiteoutPrefix)), Kind: Whiteout}
		case hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA: //nolint:staticcheck // old tars use it
			real, err := hashContent(tr, h, buf, hdr.Size)
			if err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					err = errors.New("the tar ends in the middle of this file (truncated)")
				}
				return nil, fail("%v", err)
			}
			e.Kind, e.Size, e.Real = File, hdr.Size, real
			e.ID = real.All | 1 // an identity: never 0, which marks an unresolved hardlink
		case hdr.Typeflag == tar.TypeDir:
			e.Kind = Dir
			if old, ok := m[p]; ok && old.Kind == Opaque {
				e.Kind = Opaque // the marker may come first
			}
		case hdr.Typeflag == tar.TypeSymlink:
			e.Kind, e.Target, e.Mode = Symlink, hdr.Linkname, 0o777
		case hdr.Typeflag == tar.TypeLink:
			t, err := tarPath(hdr.Linkname)
			if err != nil || t == "" {
				return nil, fail("a hardlink to %q, outside the layer: refused", hdr.Linkname)
			}
			if via := symlinkParent(m, t); via != "" {
				return nil, fail("a hardlink to %s, through the symlink %s: refused", t, via)
			}
			e.Kind, e.Target = Hardlink, t
		case hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock || hdr.Typeflag == tar.TypeFifo:
			e.Kind = Node
			e.Mode |= map[byte]fs.FileMode{tar.TypeChar: fs.ModeDevice | fs.ModeCharDevice, tar.TypeBlock: fs.ModeDevice, tar.TypeFifo: fs.ModeNamedPipe}[hdr.Typeflag]
		default:
			return nil, fail("tar type %q: not a file, directory, link, device node or FIFO", hdr.Typeflag)
		}
		if old, ok := m[e.Path]; ok && isDir(old.Kind) && !isDir(e.Kind) && e.Kind != Whiteout {
			for q := range m {
				if under(q, e.Path) {
					delete(m, q)
				}
			}
		}
		m[e.Path] = &e
	}
	t := &Tree{Layer: layerName, Source: "tar", Entries: make([]Entry, 0, len(m))}
	addImplicitParents(m)
	for _, e := range m {
		t.Entries = append(t.Entries, *e)
	}
	sortEntries(t.Entries)
	// A hardlink to a file of this layer carries the file's identity, as Build's do; containerd's
	// applier sets the inode's mode from the link's header, so the file takes it too (a tar writer
	// gives both the same).
	modes := map[string]fs.FileMode{}
	for _, e := range t.Entries {
		if e.Kind == Hardlink {
			modes[e.Target] = e.Mode
		}
	}
	for i := range t.Entries {
		e := &t.Entries[i]
		if md, ok := modes[e.Path]; ok && e.Kind == File {
			e.Mode = md
		}
	}
	for i := range t.Entries {
		e := &t.Entries[i]
		if e.Kind != Hardlink {
			continue
		}
		if tgt, ok := m[e.Target]; ok && tgt.Kind == File {
			e.ID, e.Size, e.Real = tgt.ID, tgt.Size, tgt.Real
		}
	}
	return t, nil
}

// tarPath cleans a tar entry's name into a tree path ("" for the root). Names are relative ("./"
// prefixes are common); an absolute name or one that climbs out with ".." is refused: containerd's
// applier would quietly keep it inside the snapshot, but an image that carries one is broken or
// hostile, and the run says so.
func tarPath(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("an absolute name: refused (a layer's names are relative to its root)")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("a name with a NUL byte: refused")
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("a name that climbs out of the layer (..): refused")
		}
	}
	p := path.Clean(name)
	if p == "." {
		return "", nil
	}
	if len(p) > maxTarPath {
		return "", fmt.Errorf("a name of %d bytes: the longest a path may be is %d", len(p), maxTarPath)
	}
	return p, nil
}

// maxTarPath is PATH_MAX less the room a snapshot's mount point takes.
const maxTarPath = 3072

// symlinkParent returns the nearest parent of p that m holds as a symlink ("" if none).
func symlinkParent(m map[string]*Entry, p string) string {
	for d := parent(p); d != ""; d = parent(d) {
		if e, ok := m[d]; ok {
			if e.Kind == Symlink {
				return d
			}
			return ""
		}
	}
	return ""
}

// addImplicitParents adds the directories a tar leaves out (it may list a file before, or without,
// its parent) as Implicit 0755 directories, as the applier makes them.
func addImplicitParents(m map[string]*Entry) {
	var missing []string
	for p := range m {
		for d := parent(p); d != ""; d = parent(d) {
			if _, ok := m[d]; ok {
				break
			}
			missing = append(missing, d)
		}
	}
	for _, d := range missing {
		if _, ok := m[d]; !ok {
			m[d] = &Entry{Path: d, Kind: Dir, Mode: 0o755, Implicit: true}
		}
	}
}

// hashContent reads size bytes of a file's content from r and returns its identity.
func hashContent(r io.Reader, h hash.Hash, buf []byte, size int64) (*Real, error) {
	h.Reset()
	var head [HeadSize]byte
	nh := 0
	var read int64
	for read < size {
		k, err := r.Read(buf[:min(int64(len(buf)), size-read)])
		if k > 0 {
			nh += copy(head[nh:], buf[:k])
			h.Write(buf[:k])
			read += int64(k)
		}
		if errors.Is(err, io.EOF) && read < size {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	all := sum64(h)
	h.Reset()
	h.Write(head[:nh])
	return &Real{Head: sum64(h), All: all}, nil
}

func sum64(h hash.Hash) uint64 {
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// RealOf hashes a file's content as FromTar does (for checking a file read back).
func RealOf(r io.Reader, size int64) (*Real, error) {
	return hashContent(r, sha256.New(), make([]byte, 256<<10), size)
}

// WithExtra returns t (a layer's tree from its tar) with extra (entries written after the tar in the
// same layer: the files a workload adds) laid over it: an extra entry replaces the tar's at its path,
// except an Implicit directory, which keeps the tar's directory there.
func WithExtra(t, extra *Tree) *Tree {
	if extra == nil || len(extra.Entries) == 0 {
		return t
	}
	m := make(map[string]Entry, len(t.Entries)+len(extra.Entries))
	for _, e := range t.Entries {
		m[e.Path] = e
	}
	for _, e := range extra.Entries {
		if old, ok := m[e.Path]; ok && isDir(old.Kind) && e.Kind == Dir && e.Implicit {
			continue
		}
		if old, ok := m[e.Path]; ok && isDir(old.Kind) && !isDir(e.Kind) {
			for p := range m {
				if under(p, e.Path) {
					delete(m, p)
				}
			}
		}
		m[e.Path] = e
	}
	out := &Tree{Layer: t.Layer, Source: t.Source + "+files", Entries: make([]Entry, 0, len(m))}
	for _, e := range m {
		out.Entries = append(out.Entries, e)
	}
	sortEntries(out.Entries)
	return out
}

// CheckThrough refuses a tree from a tar that writes through a symlink a lower layer made (lower is
// the view of the layers below): an applier resolves such a path inside the snapshot, but the image
// meant it to go wherever the link points, and the layer is not what it says. The tar's own symlinks
// are FromTar's to refuse.
func CheckThrough(lower *View, t *Tree) error {
	if lower == nil {
		return nil
	}
	mine := make(map[string]bool, len(t.Entries))
	for _, e := range t.Entries {
		if !e.Implicit {
			mine[e.Path] = true
		}
	}
	for _, e := range t.Entries {
		if e.Implicit {
			continue
		}
		for d := parent(e.Path); d != ""; d = parent(d) {
			if mine[d] {
				break // the layer makes d itself (a directory over the link)
			}
			if le, ok := lower.Lookup(d); ok && le.Kind == Symlink {
				return &TarError{Layer: t.Layer, Name: e.Path, Err: fmt.Errorf("written through %s, a symlink (to %q) a lower layer made: refused", d, le.Target)}
			}
		}
		if e.Kind == Hardlink {
			for d := parent(e.Target); d != ""; d = parent(d) {
				if mine[d] {
					break
				}
				if le, ok := lower.Lookup(d); ok && le.Kind == Symlink {
					return &TarError{Layer: t.Layer, Name: e.Path, Err: fmt.Errorf("a hardlink to %s, through %s, a symlink a lower layer made: refused", e.Target, d)}
				}
			}
		}
	}
	return nil
}

// ApplyTar applies an image layer's tar (uncompressed) to root, the mounted active snapshot, with
// containerd's archive applier — what containerd's differ does through a mount — and reads the
// stream to its end, so a reader that checks a digest at EOF does.
func ApplyTar(ctx context.Context, root string, r io.Reader) error {
	if _, err := archive.Apply(ctx, root, r); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, r)
	return err
}
