package scenario

import (
	"fmt"
	"sort"
	"strings"

	"github.com/seedbench/seedbench/internal/units"
)

// Error is one problem in a scenario file, at a line, about a field path such as
// layers[2].generate.total or workload[1].how. Msg says what is wrong and how to fix it.
type Error struct {
	File  string
	Line  int // 1-based; 0 when unknown (a scenario built in code)
	Field string
	Msg   string
}

// Error formats the problem as FILE:LINE: field: message.
func (e Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors are every problem found in one file, sorted by line. Load, Parse and Resolve return them as
// a *Errors, so callers can inspect each one:
//
//	var errs *scenario.Errors
//	if errors.As(err, &errs) { for _, e := range *errs { … } }
type Errors []Error

// Error joins the problems, one per line.
func (e *Errors) Error() string {
	if e == nil {
		return ""
	}
	lines := make([]string, len(*e))
	for i, x := range *e {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (e *Errors) Unwrap() []error {
	if e == nil {
		return nil
	}
	out := make([]error, len(*e))
	for i, x := range *e {
		out[i] = x
	}
	return out
}

// errorList collects problems with their positions; lines come from the positions table the decoder
// filled (field path → line), falling back to the closest enclosing field.
type errorList struct {
	file string
	pos  positions
	errs Errors
	// validating is set once decoding is done. A value that failed to decode is left zero, so
	// validation skips fields at or under a path with a decode error (bad), and reports at most
	// one problem per field (seen): each problem is reported once, not with its consequences.
	validating bool
	bad        map[string]bool
	seen       map[string]bool
	dropped    int // problems beyond maxErrors
}

// maxErrors bounds the problems reported for one file; the rest are counted.
const maxErrors = 500

// positions maps a field path (layers[2].generate.total) to the line it is written on.
type positions map[string]int

// line finds the line of path or of its closest recorded ancestor.
func (p positions) line(path string) int {
	for {
		if l, ok := p[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// has reports whether path was written in the file.
func (p positions) has(path string) bool {
	_, ok := p[path]
	return ok
}

// parentPath strips the last .key or [i] from a field path; it always returns a shorter string.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func (l *errorList) addf(path, format string, args ...any) {
	l.add(Error{File: l.file, Line: l.pos.line(path), Field: path, Msg: fmt.Sprintf(format, shorten(args)...)})
}

func (l *errorList) addAt(line int, path, format string, args ...any) {
	l.add(Error{File: l.file, Line: line, Field: path, Msg: fmt.Sprintf(format, shorten(args)...)})
}

// shorten cuts every string argument too long to quote whole (units.Clip): a message quotes what is wrong, it does
// not echo a megabyte back.
func shorten(args []any) []any {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = units.Clip(s)
		}
	}
	return args
}

func (l *errorList) add(e Error) {
	if l.bad == nil {
		l.bad, l.seen = map[string]bool{}, map[string]bool{}
	}
	if l.validating {
		if l.seen[e.Field] {
			return
		}
		for p := e.Field; ; p = parentPath(p) {
			if l.bad[p] {
				return
			}
			if p == "" {
				break
			}
		}
	} else {
		l.bad[e.Field] = true
	}
	l.seen[e.Field] = true
	if len(l.errs) >= maxErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, e)
}

// err returns the sorted problems, or nil.
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	errs := append(Errors(nil), l.errs...)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	if l.dropped > 0 {
		last := errs[len(errs)-1]
		errs = append(errs, Error{File: l.file, Line: last.Line, Msg: fmt.Sprintf("%d more problems not shown: fix these first", l.dropped)})
	}
	return &errs
}

// join appends a field or an index to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
