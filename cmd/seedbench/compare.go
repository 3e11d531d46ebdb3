package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/seedbench/seedbench/internal/gate"
	"github.com/seedbench/seedbench/internal/report"
	"github.com/seedbench/seedbench/internal/result"
)

// cmdCompare judges a new result against a base one (internal/gate): exit 3 on a regression only
// (the nightly gate).
func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", "BASE.json NEW.json [--noise FILE] [--format table|markdown|json] [--all] [--force] [--min-effect F] [--alpha F]", stderr)
	format := fs.String("format", "table", "table | markdown | json")
	all := fs.Bool("all", false, "list every class and quantity, not only those that changed")
	noiseFile := fs.String("noise", "", "noise floors learnt from A/A runs (seedbench noise; default: noise.json beside BASE.json, if there is one)")
	force := fs.Bool("force", false, "compare runs the environment check calls incomparable (another machine, plan, backing or measuring code)")
	minEffect := fs.Float64("min-effect", gate.DefaultMinEffect, "the smallest change a verdict is given for, as a fraction (0.05 = 5%)")
	alpha := fs.Float64("alpha", gate.DefaultAlpha, "the false discovery rate over the classes of times")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 2 {
		return usagef("compare: name two result files, BASE.json and NEW.json")
	}
	if *format != "table" && *format != "markdown" && *format != "json" {
		return usagef("compare: --format must be table, markdown or json, not %q", *format)
	}
	if !(*minEffect >= 0 && *minEffect < 10) || !(*alpha > 0 && *alpha < 1) {
		return usagef("compare: --min-effect is a fraction (0.05 for 5%%) and --alpha in (0, 1)")
	}
	base, err := result.ReadFile(files[0])
	if err != nil {
		return err
	}
	next, err := result.ReadFile(files[1])
	if err != nil {
		return err
	}
	opt := gate.Options{Alpha: *alpha, MinEffect: *minEffect, Force: *force}
	path := *noiseFile
	if path == "" {
		if p := filepath.Join(filepath.Dir(files[0]), "noise.json"); fileExists(p) {
			path = p
		}
	}
	if path != "" {
		if opt.Noise, err = gate.ReadNoise(path); err != nil {
			return err
		}
	}
	rep, err := gate.Compare(base, next, opt)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		err = report.WriteCompareJSON(stdout, rep)
	case "markdown":
		err = report.CompareDoc(rep, *all).Markdown(stdout)
	default:
		err = report.CompareDoc(rep, *all).Text(stdout, report.TextOptions{Width: termWidth(stdout), Details: true})
	}
	if err != nil {
		return err
	}
	if n := rep.Regressions(); n > 0 {
		return codeError{code: exitRegression, err: fmt.Errorf("%d regressions against %s", n, files[0])}
	}
	return nil
}

// cmdNoise learns noise floors from A/A results (runs of one plan on one kind of machine, with one
// measuring code, no faults) and writes them for compare.
func cmdNoise(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("noise", "RESULT.json... [-o FILE]", stderr)
	out := fs.String("o", "", "where to write the noise floors (default: noise.json beside the first result)")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("noise: name the result files of A/A runs, 3 at least")
	}
	var rs []*result.Result
	for _, f := range files {
		r, err := result.ReadFile(f)
		if err != nil {
			return err
		}
		rs = append(rs, r)
	}
	n, err := gate.Learn(rs)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(filepath.Dir(files[0]), "noise.json")
	}
	if err := gate.WriteNoise(*out, n); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "noise floors of %d classes from %d runs: %s\n", len(n.Classes), len(rs), *out)
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}
