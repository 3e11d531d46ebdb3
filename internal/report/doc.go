package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/mattn/go-runewidth"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// A Doc is a report as data: sections of lines, a table, and notes, built once from a result (or a
// comparison, or the driver catalogue) and rendered to terminal text (Text) or Markdown (Markdown).
type Doc struct {
	Sections []*Section
}

// Section is one part of a Doc.
type Section struct {
	// Title heads the section; Level 1 is a document's own heading (a result), 2 a section in it.
	Title string
	Level int
	// Anchor, when set, is the id a Markdown link reaches the section by ("#anchor").
	Anchor string
	// Lines come before the table: a header's facts, a paragraph, a list (Bullets).
	Lines   []string
	Bullets bool
	// Indent starts the continuation of a wrapped line (text only; default two spaces).
	Indent string
	Table  *Table
	// After are lines under the table: its legend.
	After []string
	// Notes explain the marks in the table's cells.
	Notes []Note
	// Detail sections are left out of a terminal summary (TextOptions.Details false).
	Detail bool
}

// Table is rows of cells under a header. The first Key columns are left-aligned and identify a row;
// the others are right-aligned values. Text rendering splits a table too wide for the terminal into
// several, each with the Key columns and as many value columns as fit.
type Table struct {
	Header []string
	Key    int
	// Left columns are left-aligned (text); the rest right-aligned (figures). 0 = Key.
	Left int
	Rows [][]string
}

func (t *Table) left() int {
	if t.Left > 0 {
		return t.Left
	}
	return t.Key
}

// Note is one explanation, numbered; the cells it applies to carry its number.
type Note struct {
	Ref  int
	Text string
}

// TextOptions tune Text.
type TextOptions struct {
	// Width is the terminal's width in columns (0 = 120).
	Width int
	// Details shows every section; false leaves out the Detail ones.
	Details bool
}

// DefaultWidth is the width text is laid out for when the terminal's is unknown.
const DefaultWidth = 120

// Text renders d for a terminal: headings, wrapped lines, box tables fitted to the width, notes.
func (d *Doc) Text(w io.Writer, opt TextOptions) error {
	width := opt.Width
	if width <= 0 {
		width = DefaultWidth
	}
	ew := &errWriter{w: w}
	first := true
	for _, s := range d.Sections {
		if s.Detail && !opt.Details {
			continue
		}
		if !first && (s.Title != "" || s.Table != nil) {
			fmt.Fprintln(ew)
		}
		first = false
		if s.Title != "" {
			fmt.Fprintln(ew, s.Title)
		}
		for _, l := range s.Lines {
			prefix, indent := "", "  "
			if s.Bullets {
				prefix = "- "
			}
			if s.Indent != "" {
				indent = s.Indent
			}
			writeWrapped(ew, prefix+l, indent, width)
		}
		if s.Table != nil {
			if err := s.Table.text(ew, width); err != nil {
				return fmt.Errorf("report: %s: %w", s.Title, err)
			}
		}
		for _, l := range s.After {
			writeWrapped(ew, l, "  ", width)
		}
		for _, n := range s.Notes {
			writeWrapped(ew, fmt.Sprintf("  [%d] %s", n.Ref, n.Text), "      ", width)
		}
	}
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}
	return nil
}

// Markdown renders d as Markdown: "##" and "###" headings, lines as a list or paragraphs, tables,
// notes as a list.
func (d *Doc) Markdown(w io.Writer) error {
	ew := &errWriter{w: w}
	for i, s := range d.Sections {
		if i > 0 {
			fmt.Fprintln(ew)
		}
		if s.Anchor != "" {
			fmt.Fprintf(ew, "<a id=\"%s\"></a>\n\n", s.Anchor)
		}
		if s.Title != "" {
			fmt.Fprintf(ew, "%s %s\n\n", strings.Repeat("#", s.Level+1), s.Title)
		}
		for _, l := range s.Lines {
			if s.Bullets {
				fmt.Fprintf(ew, "- %s\n", l)
			} else {
				fmt.Fprintf(ew, "%s\n\n", l)
			}
		}
		if s.Table != nil {
			if s.Bullets && len(s.Lines) > 0 {
				fmt.Fprintln(ew)
			}
			if err := s.Table.markdown(ew); err != nil {
				return fmt.Errorf("report: %s: %w", s.Title, err)
			}
		}
		if len(s.After) > 0 {
			fmt.Fprintln(ew)
			for _, l := range s.After {
				fmt.Fprintf(ew, "- %s\n", l)
			}
		}
		if len(s.Notes) > 0 {
			fmt.Fprintf(ew, "\nnotes:\n\n")
			for _, n := range s.Notes {
				fmt.Fprintf(ew, "- [%d] %s\n", n.Ref, n.Text)
			}
		}
	}
	if ew.err != nil {
		return fmt.Errorf("report: %w", ew.err)
	}
	return nil
}

func (t *Table) markdown(w io.Writer) error {
	tt := newTable(w, t.Header, t.left(), true)
	if err := tt.Bulk(t.Rows); err != nil {
		return err
	}
	return tt.Render()
}

// text renders t as box tables no wider than width: the value columns are split into groups that
// fit beside the key columns (at least one value column per group, however wide).
func (t *Table) text(w io.Writer, width int) error {
	widths := make([]int, len(t.Header))
	for i, h := range t.Header {
		widths[i] = runewidth.StringWidth(h)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], runewidth.StringWidth(c))
			}
		}
	}
	colWidth := func(i int) int { return widths[i] + 3 } // "│ " + cell + " "
	key := 1
	for i := range t.Key {
		key += colWidth(i)
	}
	var groups [][]int
	var cur []int
	used := key
	for i := t.Key; i < len(t.Header); i++ {
		if len(cur) > 0 && used+colWidth(i) > width {
			groups, cur, used = append(groups, cur), nil, key
		}
		cur = append(cur, i)
		used += colWidth(i)
	}
	if len(cur) > 0 || len(groups) == 0 {
		groups = append(groups, cur)
	}
	for g, cols := range groups {
		if g > 0 {
			fmt.Fprintln(w)
		}
		left := t.Key // the key columns, and of the value columns those left-aligned
		for _, i := range cols {
			if i < t.left() {
				left++
			}
		}
		pick := func(row []string) []string {
			out := make([]string, 0, t.Key+len(cols))
			for i := range t.Key {
				out = append(out, cell(row, i))
			}
			for _, i := range cols {
				out = append(out, cell(row, i))
			}
			return out
		}
		tt := newTable(w, pick(t.Header), left, false)
		for _, r := range t.Rows {
			if err := tt.Append(pick(r)); err != nil {
				return err
			}
		}
		if err := tt.Render(); err != nil {
			return err
		}
	}
	return nil
}

func cell(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}

// newTable starts a table with header: the first left columns left-aligned, the rest right-aligned;
// Markdown when md.
func newTable(w io.Writer, header []string, left int, md bool) *tablewriter.Table {
	var align tw.Alignment
	for i := range header {
		align = append(align, map[bool]tw.Align{true: tw.AlignLeft, false: tw.AlignRight}[i < left])
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithAlignment(align),
	}
	if md {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(header)
	return t
}

// writeWrapped writes s wrapped at width columns on word boundaries, continuation lines indented.
// A word longer than the width stands on a line of its own.
func writeWrapped(w io.Writer, s, indent string, width int) {
	for _, line := range wrap(s, indent, width) {
		fmt.Fprintln(w, line)
	}
}

func wrap(s, indent string, width int) []string {
	var out []string
	lead := len(s) - len(strings.TrimLeft(s, " "))
	for runewidth.StringWidth(s) > width {
		// Break at the last space that keeps the line within the width, past the indentation; a
		// word longer than the width breaks at the space after it.
		cut, w := -1, 0
		for i, r := range s {
			if w > width {
				break
			}
			if r == ' ' && i > lead {
				cut = i
			}
			w += runewidth.RuneWidth(r)
		}
		if cut < 0 {
			j := strings.IndexByte(s[min(lead+1, len(s)):], ' ')
			if j < 0 {
				break
			}
			cut = lead + 1 + j
		}
		out = append(out, strings.TrimRight(s[:cut], " "))
		s = indent + strings.TrimLeft(s[cut:], " ")
		lead = len(indent)
	}
	return append(out, s)
}

// errWriter keeps the first write error so rendering code can write freely.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
