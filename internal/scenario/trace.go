package scenario

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A trace is what a real program did to the files of its image, in order: recorded by `seedbench
// trace` (strace of the program chrooted in the mounted stack), replayed by the workload op
// `trace`. One access per line, tab-separated; lines starting with '#' are comments (the recording's
// command and image):
//
//	stat    PATH                a lookup that found PATH (stat, access, an exec's lookup)
//	miss    PATH                a lookup that did not (ENOENT, ENOTDIR)
//	open    PATH                an open for reading that succeeded
//	read    PATH OFFSET LENGTH  bytes read (read, pread; in a trace recorded before `map`, an mmap)
//	map     PATH OFFSET LENGTH  bytes mapped (an mmap, an exec): the program may touch any page of them
//	readlink PATH               a symlink read
//
// and, after the accesses, what the start left in the page cache (mincore of every file of the
// image, its page cache evicted before the start), as page-aligned ranges:
//
//	pages    PATH OFFSET LENGTH  resident with readahead off: the pages the start read or faulted in
//	pages-ra PATH OFFSET LENGTH  resident with the filesystem's default readahead
//
// Paths are absolute in the image; every open, read and stat follows symlinks, inside the image.
type Trace struct {
	Name    string // the file's base name without extension
	File    string
	Comment []string
	Entries []TraceEntry
	// Pages and PagesRA are the page-level residency ranges (Op TracePages, TracePagesRA), not
	// accesses: the replay reads a mapping at Pages' ranges (Faulted), and never replays them.
	Pages, PagesRA []TraceEntry
}

// TraceEntry is one access of a trace.
type TraceEntry struct {
	Op     TraceOp
	Path   string // absolute, cleaned
	Off    int64
	Len    int64
	Line   int
	Follow bool // (not recorded) set for stat-like ops that follow a final symlink: always true today
	// Mapped: a read entry that was an mmap (written as `map`): its bytes were mapped, and only the
	// pages the program faulted in were read.
	Mapped bool
}

// TraceOp is the kind of a trace entry.
type TraceOp string

// The trace entry kinds.
const (
	TraceStat     TraceOp = "stat"
	TraceMiss     TraceOp = "miss"
	TraceOpen     TraceOp = "open"
	TraceRead     TraceOp = "read"
	TraceReadlink TraceOp = "readlink"
	TraceMap      TraceOp = "map"      // read as a TraceRead entry with Mapped set
	TracePages    TraceOp = "pages"    // into Trace.Pages
	TracePagesRA  TraceOp = "pages-ra" // into Trace.PagesRA
)

var traceOps = []TraceOp{TraceStat, TraceMiss, TraceOpen, TraceRead, TraceReadlink, TraceMap, TracePages, TracePagesRA}

// ranged: the entry kinds that carry an offset and a length.
func ranged(op TraceOp) bool {
	return op == TraceRead || op == TraceMap || op == TracePages || op == TracePagesRA
}

// TraceHeader opens every trace file.
const TraceHeader = "# seedbench trace v1"

// maxTraceEntries bounds a trace (a program's start is thousands of accesses, not millions).
const maxTraceEntries = 1 << 20

// ParseTrace reads a trace; errors name file:line and the fix.
func ParseTrace(file string, r io.Reader) (*Trace, error) {
	t := &Trace{File: file, Name: strings.TrimSuffix(path.Base(file), path.Ext(file))}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxPathLen+256)
	n := 0
	var errs Errors
	fail := func(format string, args ...any) {
		errs = append(errs, Error{File: file, Line: n, Msg: fmt.Sprintf(format, args...)})
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 && line != TraceHeader {
			fail("not a seedbench trace: the first line must be %q (record one with seedbench trace)", TraceHeader)
			break
		}
		if line == "" || strings.HasPrefix(line, "#") {
			if n > 1 {
				t.Comment = append(t.Comment, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			}
			continue
		}
		if len(errs) >= maxErrors {
			break
		}
		f := strings.Split(line, "\t")
		op := TraceOp(f[0])
		if !containsOp(op) {
			fail("unknown access %q: want one of stat, miss, open, read, map, readlink, pages, pages-ra", f[0])
			continue
		}
		want := 2
		if ranged(op) {
			want = 4
		}
		if len(f) != want {
			fail("%s takes %d tab-separated fields, got %d", op, want, len(f))
			continue
		}
		p := f[1]
		if !strings.HasPrefix(p, "/") || strings.IndexByte(p, 0) >= 0 || len(p) > maxPathLen {
			fail("path %q: an absolute path in the image, at most %d bytes", p, maxPathLen)
			continue
		}
		e := TraceEntry{Op: op, Path: path.Clean(p), Line: n, Follow: true}
		if ranged(op) {
			off, err1 := strconv.ParseInt(f[2], 10, 64)
			ln, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil || off < 0 || ln <= 0 || off > 1<<40 || ln > 1<<32 {
				fail("%s %s: offset %q and length %q must be integers, offset ≥ 0, length > 0", op, p, f[2], f[3])
				continue
			}
			e.Off, e.Len = off, ln
		}
		if len(t.Entries)+len(t.Pages)+len(t.PagesRA) >= maxTraceEntries {
			fail("more than %d accesses: trace a shorter run", maxTraceEntries)
			break
		}
		switch op {
		case TracePages:
			t.Pages = append(t.Pages, e)
			continue
		case TracePagesRA:
			t.PagesRA = append(t.PagesRA, e)
			continue
		case TraceMap:
			e.Op, e.Mapped = TraceRead, true
		}
		if len(t.Pages)+len(t.PagesRA) > 0 {
			fail("%s after the page ranges: the accesses come first, then pages and pages-ra", op)
			continue
		}
		t.Entries = append(t.Entries, e)
	}
	if err := sc.Err(); err != nil {
		fail("%v", err)
	}
	if len(errs) > 0 {
		return nil, &errs
	}
	if len(t.Entries) == 0 {
		return nil, &Errors{{File: file, Line: n, Msg: "the trace has no accesses"}}
	}
	return t, nil
}

func containsOp(op TraceOp) bool {
	for _, o := range traceOps {
		if o == op {
			return true
		}
	}
	return false
}

// WriteTrace writes t in the format ParseTrace reads.
func WriteTrace(w io.Writer, t *Trace) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, TraceHeader)
	for _, c := range t.Comment {
		fmt.Fprintf(bw, "# %s\n", c)
	}
	for _, e := range slices.Concat(t.Entries, t.Pages, t.PagesRA) {
		op := e.Op
		if e.Mapped {
			op = TraceMap
		}
		if ranged(op) {
			fmt.Fprintf(bw, "%s\t%s\t%d\t%d\n", op, e.Path, e.Off, e.Len)
		} else {
			fmt.Fprintf(bw, "%s\t%s\n", op, e.Path)
		}
	}
	return bw.Flush()
}

// MaxTraceSize bounds a trace file.
const MaxTraceSize = 64 << 20

// loadTraces reads the trace files the workload's trace ops name (relative to the scenario file).
func (d *decoder) loadTraces(sc *Scenario) {
	for i := range sc.Workload {
		op := &sc.Workload[i]
		if op.Trace == "" {
			continue
		}
		tp := join(index("workload", i), "trace")
		p := op.Trace
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(sc.File), p)
		}
		data, err := readBounded(p, MaxTraceSize)
		if err != nil {
			d.addAt(d.pos.line(tp), tp, "%v: give the path of a trace file (seedbench trace records one), relative to the scenario file", err)
			continue
		}
		t, err := ParseTrace(p, bytes.NewReader(data))
		if err != nil {
			if errs, ok := err.(*Errors); ok {
				for _, e := range *errs {
					d.add(e)
				}
				continue
			}
			d.addAt(d.pos.line(tp), tp, "%v", err)
			continue
		}
		op.trace = t
	}
}

func (v *validator) traceOp(op *Op, wp string) {
	if op.Trace == "" {
		v.addf(wp, "trace needs the trace file to replay: add `trace: traces/NAME.trace` (seedbench trace records one)")
	}
}

func (r *resolver) traceTargets(po *PlanOp, op *Op, _ string) {
	po.Trace = op.trace
}

// PageBytes is the bytes of ranges (Trace.Pages or PagesRA): what the start held in the page cache.
func PageBytes(ranges []TraceEntry) int64 {
	var n int64
	for _, r := range ranges {
		n += r.Len
	}
	return n
}

// Faulted returns entries with each mapping (a Mapped read) of a file that has page ranges replaced
// by reads of the pages of it the program faulted in: Pages' ranges inside the mapping, each page
// once (the first mapping that covers it reads it). A mapping of a file without page ranges, and
// every other entry, is kept as it is. Without page ranges, entries come back unchanged.
func (t *Trace) Faulted(entries []TraceEntry) []TraceEntry {
	if len(t.Pages) == 0 {
		return entries
	}
	byFile := map[string][]TraceEntry{}
	for _, r := range t.Pages {
		byFile[r.Path] = append(byFile[r.Path], r)
	}
	read := map[string][][2]int64{} // per file, the page ranges already read by an earlier mapping
	out := make([]TraceEntry, 0, len(entries))
	for _, e := range entries {
		rs, ok := byFile[e.Path]
		if !e.Mapped || !ok {
			out = append(out, e)
			continue
		}
		lo, hi := e.Off, e.Off+e.Len
		for _, r := range rs {
			a, b := max(lo, r.Off), min(hi, r.Off+r.Len)
			for _, done := range read[e.Path] {
				if a >= done[0] && a < done[1] {
					a = done[1]
				}
			}
			if b > a {
				f := e
				f.Off, f.Len = a, b-a
				out = append(out, f)
				read[e.Path] = append(read[e.Path], [2]int64{a, b})
			}
		}
	}
	return out
}
