package scenario

import (
	"bufio"
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/seedbench/seedbench/internal/units"
)

// A manifest lists one layer's entries as captured from a real filesystem — path, type, size, mode,
// link target, never contents — so a scenario can rebuild exactly that tree's shape with synthetic
// contents from its seed (`manifest: FILE` in a layer). scenarios/manifests/ holds those of a real
// Debian bookworm + emacs-nox + apache2 stack.
//
// The format is text, one entry per line, tab-separated:
//
//	TYPE  MODE  SIZE  PATH  [TARGET]
//
// TYPE is f (regular file), d (directory), l (symlink: TARGET is its text), h (hardlink: TARGET the
// path of the file it names, in this layer or below), w (whiteout: PATH removed from the layers
// below) or o (opaque directory: its lower contents hidden). MODE is octal, SIZE bytes (0 but for
// files). Paths are relative to the image root. Lines starting with # and empty lines are ignored.
const manifestHeader = "# seedbench manifest v1: TYPE MODE SIZE PATH [TARGET], tab-separated"

// MaxManifestSize bounds a manifest file (a real image's layer lists tens of thousands of entries,
// a few megabytes).
const MaxManifestSize = 64 << 20

// maxManifestEntries bounds the entries of one manifest.
const maxManifestEntries = 1_000_000

// ManifestEntry is one line of a manifest.
type ManifestEntry struct {
	Type   byte // f d l h w o
	Mode   uint32
	Size   int64
	Path   string
	Target string
}

// ParseManifest reads a manifest; problems are reported as FILE:LINE: message, at most maxErrors.
func ParseManifest(file string, r io.Reader) ([]ManifestEntry, error) {
	l := &errorList{file: file}
	var out []ManifestEntry
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 64<<10)
	line := 0
	for s.Scan() {
		line++
		text := s.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) < 4 || len(f) > 5 {
			l.addAt(line, "", "%d fields: a line is TYPE, MODE, SIZE, PATH and, for a link, TARGET, separated by tabs", len(f))
			continue
		}
		e := ManifestEntry{Path: f[3]}
		if len(f) == 5 {
			e.Target = f[4]
		}
		if len(f[0]) != 1 || !strings.Contains("fdlhwo", f[0]) {
			l.addAt(line, "", "unknown type %q: use f (file), d (dir), l (symlink), h (hardlink), w (whiteout) or o (opaque dir)", f[0])
			continue
		}
		e.Type = f[0][0]
		m, err := strconv.ParseUint(f[1], 8, 32)
		if err != nil || m > 0o7777 {
			l.addAt(line, "", "mode %q must be octal, at most 7777", f[1])
			continue
		}
		e.Mode = uint32(m)
		if e.Size, err = strconv.ParseInt(f[2], 10, 64); err != nil || e.Size < 0 || e.Size > int64(maxBytes) {
			l.addAt(line, "", "size %q must be a byte count from 0 to %d", f[2], int64(maxBytes))
			continue
		}
		if e.Size != 0 && e.Type != 'f' {
			l.addAt(line, "", "size %d on a %s: only files have a size", e.Size, manifestTypeName(e.Type))
			continue
		}
		if problem, _ := pathProblem(e.Path); problem != "" {
			l.addAt(line, "", "path %q %s", e.Path, problem)
			continue
		}
		switch {
		case (e.Type == 'l' || e.Type == 'h') && e.Target == "":
			l.addAt(line, "", "a %s needs a TARGET (the fifth field)", manifestTypeName(e.Type))
			continue
		case e.Type != 'l' && e.Type != 'h' && e.Target != "":
			l.addAt(line, "", "a %s has no TARGET: remove the fifth field", manifestTypeName(e.Type))
			continue
		case e.Type == 'h':
			if problem, _ := pathProblem(e.Target); problem != "" {
				l.addAt(line, "", "hardlink target %q %s", e.Target, problem)
				continue
			}
		case len(e.Target) > maxPathLen:
			l.addAt(line, "", "symlink target of %d bytes, more than %d", len(e.Target), maxPathLen)
			continue
		}
		if len(out) == maxManifestEntries {
			l.addAt(line, "", "more than %d entries: split the layer", maxManifestEntries)
			break
		}
		out = append(out, e)
	}
	if err := s.Err(); err != nil {
		l.addAt(line+1, "", "%v", err)
	}
	if err := l.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func manifestTypeName(t byte) string {
	return map[byte]string{'f': "file", 'd': "dir", 'l': "symlink", 'h': "hardlink", 'w': "whiteout", 'o': "opaque dir"}[t]
}

// WriteManifest writes entries as a manifest.
func WriteManifest(w io.Writer, entries []ManifestEntry) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, manifestHeader)
	for _, e := range entries {
		fmt.Fprintf(bw, "%c\t%04o\t%d\t%s", e.Type, e.Mode, e.Size, e.Path)
		if e.Target != "" {
			fmt.Fprintf(bw, "\t%s", e.Target)
		}
		fmt.Fprintln(bw)
	}
	return bw.Flush()
}

// loadManifests reads the manifests the scenario's layers name (relative to the scenario file) and
// adds their entries to the layers: files, directories and links to Files (marked as from the
// manifest), whiteouts to Delete, opaque directories to Opaque.
func (d *decoder) loadManifests(sc *Scenario) {
	for i := range sc.Layers {
		l := &sc.Layers[i]
		if l.Manifest == "" {
			continue
		}
		mp := join(index("layers", i), "manifest")
		path := l.Manifest
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(sc.File), path)
		}
		data, err := readBounded(path, MaxManifestSize)
		if err != nil {
			d.addAt(d.pos.line(mp), mp, "%v: give the path of a manifest, relative to the scenario file", err)
			continue
		}
		entries, err := ParseManifest(path, bytes.NewReader(data))
		if err != nil {
			if errs, ok := err.(*Errors); ok {
				for _, e := range *errs {
					d.add(e)
				}
				continue
			}
			d.addAt(d.pos.line(mp), mp, "%v", err)
			continue
		}
		for _, e := range entries {
			switch e.Type {
			case 'w':
				l.Delete = append(l.Delete, e.Path)
			case 'o':
				l.Opaque = append(l.Opaque, e.Path)
			default:
				f := File{Path: e.Path, Type: map[byte]string{'f': "file", 'd': "dir", 'l': "symlink", 'h': "hardlink"}[e.Type],
					Size: units.Size(e.Size), Target: e.Target, fromManifest: true}
				if e.Type == 'f' || e.Type == 'd' {
					f.Mode = fmt.Sprintf("%04o", e.Mode&0o777) // setuid, setgid and sticky bits are not rebuilt
				}
				l.Files = append(l.Files, f)
			}
		}
	}
}

// readBounded reads a regular file of at most limit bytes (a FIFO or a device is refused before it
// is read).
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", path, fileKind(fi.Mode()))
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is %s, more than %s", path, units.Size(fi.Size()).Approx(), units.Size(limit))
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s grew past %s while it was read", path, units.Size(limit))
	}
	return data, nil
}

// keepInQuick reports whether a manifest entry stays in a --quick plan scaled by scale: a stable
// choice by the path's hash, so the sample keeps the manifest's proportions and every run makes
// the same one.
func keepInQuick(path string, scale float64) bool {
	h := fnv.New64a()
	h.Write([]byte(path))
	return float64(h.Sum64()%1_000_000) < scale*1_000_000
}
