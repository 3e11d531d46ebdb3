package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/seedbench/seedbench/internal/gate"
	"github.com/seedbench/seedbench/internal/report"
	"github.com/seedbench/seedbench/internal/result"
)

// cmdHistory shows a series of results of one scenario over time: each class's level run by run and
// the change points found on it (internal/gate), each quantity's steps.
func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("history", "DIR|RESULT.json... [--noise FILE] [--format table|markdown|json] [--all] [--plot FILE.svg] [--html FILE.html] [--min-effect F] [--alpha F]", stderr)
	format := fs.String("format", "table", "table | markdown | json")
	all := fs.Bool("all", false, "list every class's levels, not only the change points")
	noiseFile := fs.String("noise", "", "noise floors learnt from A/A runs (seedbench noise; default: noise.json in the first directory or beside the first result, if there is one)")
	plotFile := fs.String("plot", "", "draw the classes with change points to FILE.svg (and FILE.png)")
	htmlFile := fs.String("html", "", "write one self-contained HTML page to FILE: a chart per class (each run's level and interval, the noise band, the change points) and the verdicts")
	minEffect := fs.Float64("min-effect", gate.DefaultMinEffect, "the smallest change a change point is reported for, as a fraction (0.05 = 5%)")
	alpha := fs.Float64("alpha", gate.DefaultAlpha, "the false discovery rate over the classes")
	args, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usagef("history: name a directory of results or the result files")
	}
	if *format != "table" && *format != "markdown" && *format != "json" {
		return usagef("history: --format must be table, markdown or json, not %q", *format)
	}
	if !(*minEffect >= 0 && *minEffect < 10) || !(*alpha > 0 && *alpha < 1) {
		return usagef("history: --min-effect is a fraction (0.05 for 5%%) and --alpha in (0, 1)")
	}
	var rs []*result.Result
	noiseDir := ""
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && st.IsDir() {
			d, err := readDir(a)
			if err != nil {
				return err
			}
			rs = append(rs, d...)
			if noiseDir == "" {
				noiseDir = a
			}
			continue
		}
		r, err := result.ReadFile(a)
		if err != nil {
			return err
		}
		rs = append(rs, r)
		if noiseDir == "" {
			noiseDir = filepath.Dir(a)
		}
	}
	opt := gate.Options{Alpha: *alpha, MinEffect: *minEffect}
	if opt.Noise, err = loadNoise(*noiseFile, noiseDir); err != nil {
		return err
	}
	h, err := gate.BuildHistory(rs, opt)
	if err != nil {
		return err
	}
	if *plotFile != "" {
		if f := report.HistoryFigure(h); f != nil {
			base := *plotFile
			if ext := filepath.Ext(base); ext == ".svg" || ext == ".png" {
				base = base[:len(base)-len(ext)]
			}
			if err := report.WriteFigure(f, base); err != nil {
				return fmt.Errorf("history plot: %w", err)
			}
		}
	}
	if *htmlFile != "" {
		if err := writeHistoryHTML(*htmlFile, h); err != nil {
			return err
		}
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(h)
	case "markdown":
		return report.HistoryDoc(h, *all).Markdown(stdout)
	default:
		return report.HistoryDoc(h, *all).Text(stdout, report.TextOptions{Width: termWidth(stdout), Details: true})
	}
}

// writeHistoryHTML writes h's page to file, whole or not at all (a temporary file renamed into
// place), so a published page is never half written.
func writeHistoryHTML(file string, h *gate.History) error {
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("history --html: %w", err)
	}
	f, err := os.CreateTemp(dir, ".history-*.html")
	if err != nil {
		return fmt.Errorf("history --html: %w", err)
	}
	defer os.Remove(f.Name())
	if err := report.HistoryHTML(f, h); err != nil {
		f.Close()
		return fmt.Errorf("history --html %s: %w", file, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("history --html: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("history --html: %w", err)
	}
	if err := os.Rename(f.Name(), file); err != nil {
		return fmt.Errorf("history --html: %w", err)
	}
	return nil
}
