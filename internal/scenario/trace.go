package scenario

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"path/filepath"
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
//	read    PATH OFFSET LENGTH  bytes read (read, pread, and an mmap of the file, whose pages the
//	                            program may touch)
//	readlink PATH               a symlink read
//
// Paths are absolute in the image; every open, read and stat follows symlinks, inside the image.
type Trace struct {
	Name    string // the file's base name without extension
	File    string
	Comment []string
	Entries []TraceEntry
}

// TraceEntry is one access of a trace.
type TraceEntry struct {
	Op     TraceOp
	Path   string // absolute, cleaned
	Off    int64
	Len    int64
	Line   int
	Follow bool // (not recorded) set for stat-like ops that follow a final symlink: always true today
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
)

var traceOps = []TraceOp{TraceStat, TraceMiss, TraceOpen, TraceRead, TraceReadlink}

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
			fail("unknown access %q: want one of stat, miss, open, read, readlink", f[0])
			continue
		}
		want := 2
		if op == TraceRead {
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
		if op == TraceRead {
			off, err1 := strconv.ParseInt(f[2], 10, 64)
			ln, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 != nil || err2 != nil || off < 0 || ln <= 0 || off > 1<<40 || ln > 1<<32 {
				fail("read %s: offset %q and length %q must be integers, offset ≥ 0, length > 0", p, f[2], f[3])
				continue
			}
			e.Off, e.Len = off, ln
		}
		if len(t.Entries) >= maxTraceEntries {
			fail("more than %d accesses: trace a shorter run", maxTraceEntries)
			break
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
	for _, e := range t.Entries {
		if e.Op == TraceRead {
			fmt.Fprintf(bw, "%s\t%s\t%d\t%d\n", e.Op, e.Path, e.Off, e.Len)
		} else {
			fmt.Fprintf(bw, "%s\t%s\n", e.Op, e.Path)
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
