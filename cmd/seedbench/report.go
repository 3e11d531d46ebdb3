package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/seedbench/seedbench/internal/gate"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/report"
	"github.com/seedbench/seedbench/internal/result"
)

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", "RESULT.json... [-o FILE] [--format table|markdown|gobench|github-smaller|github-bigger]", stderr)
	out := fs.String("o", "", "write the report to FILE instead of stdout (Markdown when FILE ends in .md)")
	format := fs.String("format", "", "table | markdown | gobench (Go benchmark format, for benchstat) | github-smaller | github-bigger (github-action-benchmark's customSmallerIsBetter / customBiggerIsBetter JSON: the metrics where lower / higher is better) (default: markdown for a .md file, else table)")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("report: name at least one result file")
	}
	md := *format == "markdown" || (*format == "" && strings.HasSuffix(*out, ".md"))
	if *format != "" && !slices.Contains([]string{"markdown", "table", "gobench", "github-smaller", "github-bigger"}, *format) {
		return usagef("report: --format must be table, markdown, gobench, github-smaller or github-bigger, not %q", *format)
	}
	var results []*result.Result
	trials := map[int]*report.Doc{} // a trials file among the results: the gate, measured
	for _, f := range files {
		if t, err := gate.ReadTrials(f); err == nil {
			trials[len(results)] = report.TrialsDoc(t)
			results = append(results, nil)
			continue
		}
		if t, err := gate.ReadPairedTrials(f); err == nil {
			trials[len(results)] = report.PairedTrialsDoc(t)
			results = append(results, nil)
			continue
		}
		r, err := result.ReadFile(f)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	w := stdout
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return err
		}
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if gh, ok := map[string]metric.Better{"github-smaller": metric.Lower, "github-bigger": metric.Higher}[*format]; ok {
		var rs []*result.Result
		for _, r := range results {
			if r != nil {
				rs = append(rs, r)
			}
		}
		return report.WriteGitHubBenchmarks(w, rs, gh)
	}
	if md {
		return writePage(w, *out, files, results, trials)
	}
	for i, r := range results {
		if i > 0 {
			io.WriteString(w, "\n")
		}
		var err error
		switch {
		case r == nil && *format == "gobench":
			continue
		case r == nil:
			err = trials[i].Text(w, report.TextOptions{Width: termWidth(w), Details: true})
		case *format == "gobench":
			err = report.GoBench(w, r)
		default:
			err = report.Build(r).Text(w, report.TextOptions{Width: termWidth(w), Details: true})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writePage writes the results as one Markdown page (report.Page): the answer first, then each
// result's report; written to a file (out), each result's figures too, linked from its report.
func writePage(w io.Writer, out string, files []string, results []*result.Result, trials map[int]*report.Doc) error {
	entries := make([]report.PageEntry, len(results))
	plotted := map[string]bool{}
	for i, r := range results {
		if r == nil {
			entries[i] = report.PageEntry{Doc: trials[i]}
			continue
		}
		doc := report.Build(r)
		if out != "" {
			// Plots are named by the scenario; a second result of one scenario adds its run's time.
			base := r.Scenario.Name
			if plotted[base] {
				base += "-" + strings.SplitN(r.Run.ID, "-", 2)[0]
			}
			plotted[r.Scenario.Name] = true
			s, err := plotSection(filepath.Dir(out), base, r)
			if err != nil {
				return err
			}
			if s != nil {
				doc.Sections = append(doc.Sections, s)
			}
		}
		entries[i] = report.PageEntry{Result: r, Doc: doc}
	}
	return report.Page("seedbench report "+strings.Join(files, " "), entries).Markdown(w)
}

// plotsDir is where a Markdown report's plots go, relative to the report.
const plotsDir = "results/plots"

// plotSection renders r's figures (SVG and PNG) under plotsDir next to the report: a section
// linking the SVGs, or nil when r has none.
func plotSection(dir, base string, r *result.Result) (*report.Section, error) {
	figs, err := report.Plots(filepath.Join(dir, plotsDir), base, r)
	if err != nil {
		return nil, fmt.Errorf("plots: %w", err)
	}
	if len(figs) == 0 {
		return nil, nil
	}
	s := &report.Section{Title: "plots", Level: 2}
	for _, f := range figs {
		s.Lines = append(s.Lines, fmt.Sprintf("![%s](%s)", f.Title, filepath.ToSlash(filepath.Join(plotsDir, f.SVG))))
	}
	return s, nil
}
