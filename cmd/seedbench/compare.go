package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/seedbench/seedbench/internal/gate"
	"github.com/seedbench/seedbench/internal/report"
	"github.com/seedbench/seedbench/internal/result"
)

// cmdCompare judges a new result against a base one (internal/gate): exit 3 on a regression only
// (the nightly gate).
func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", "BASE.json NEW.json [--noise FILE] [--format table|markdown|json] [--all] [--force] [--min-effect F] [--alpha F]\n       seedbench compare RUN.json [--base DRIVER --new DRIVER] [--spread DIR] [--format table|markdown|json] [--all] [--min-effect F] [--alpha F]", stderr)
	format := fs.String("format", "table", "table | markdown | json")
	all := fs.Bool("all", false, "list every class and quantity, not only those that changed")
	noiseFile := fs.String("noise", "", "noise floors learnt from A/A runs (seedbench noise; default: noise.json beside BASE.json, if there is one)")
	force := fs.Bool("force", false, "compare runs the environment check calls incomparable (another machine, plan, backing or measuring code)")
	minEffect := fs.Float64("min-effect", gate.DefaultMinEffect, "the smallest change a verdict is given for, as a fraction (0.05 = 5%)")
	alpha := fs.Float64("alpha", gate.DefaultAlpha, "the false discovery rate over the classes of times")
	baseDrv := fs.String("base", "", "with one result file: the base driver of a paired comparison within it")
	newDrv := fs.String("new", "", "with one result file: the new driver, judged against --base")
	spreadDir := fs.String("spread", "", "with one result file: a directory of paired runs of the same plan whose A/A pairs teach how far each class's ratio spreads from run to run; each class is judged against that spread too")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 1 {
		return comparePaired(files[0], *baseDrv, *newDrv, *spreadDir, *format, *all, gate.Options{Alpha: *alpha, MinEffect: *minEffect}, stdout)
	}
	if len(files) != 2 {
		return usagef("compare: name two result files, BASE.json and NEW.json (or one, RUN.json, to compare pairs of its drivers)")
	}
	if *baseDrv != "" || *newDrv != "" || *spreadDir != "" {
		return usagef("compare: --base, --new and --spread are for pairs of drivers of one run: name one result file")
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
	if opt.Noise, err = loadNoise(*noiseFile, filepath.Dir(files[0])); err != nil {
		return err
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

// comparePaired judges pairs of drivers within one result: --base and --new, or else every pair the
// scenario declared (exit 3 on a regression in any).
func comparePaired(file, base, next, spreadDir, format string, all bool, opt gate.Options, stdout io.Writer) error {
	if format != "table" && format != "markdown" && format != "json" {
		return usagef("compare: --format must be table, markdown or json, not %q", format)
	}
	if (base == "") != (next == "") {
		return usagef("compare: name both sides of the pair, --base DRIVER and --new DRIVER")
	}
	r, err := result.ReadFile(file)
	if err != nil {
		return err
	}
	if spreadDir != "" {
		runs, err := readDir(spreadDir)
		if err != nil {
			return err
		}
		var same []*result.Result
		for _, o := range runs {
			if o.Scenario.SHA256 == r.Scenario.SHA256 {
				same = append(same, o)
			}
		}
		if len(same) < 3 {
			return fmt.Errorf("compare: %s holds %d paired runs of %s's scenario file: learning a spread needs at least 3 (scripts/paired-trials.sh makes them)", spreadDir, len(same), file)
		}
		// The judged run never teaches its own spread.
		if opt.PairedSpread, err = gate.PairedSpreads(same, map[string]bool{r.Run.ID: true}); err != nil {
			return err
		}
	}
	pairs := r.Pairs
	if base != "" {
		pairs = []result.Pair{{Base: base, New: next}}
	}
	if len(pairs) == 0 {
		return usagef("compare: %s declares no pairs: name two drivers of it with --base and --new, or give a base result file too", file)
	}
	var reps []*gate.PairedReport
	regressions := 0
	for _, p := range pairs {
		rep, err := gate.ComparePaired(r, p.Base, p.New, opt)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		reps = append(reps, rep)
		regressions += rep.Regressions()
	}
	switch format {
	case "json":
		err = report.WritePairedJSON(stdout, reps)
	case "markdown":
		err = report.PairedDoc(reps, all).Markdown(stdout)
	default:
		err = report.PairedDoc(reps, all).Text(stdout, report.TextOptions{Width: termWidth(stdout), Details: true})
	}
	if err != nil {
		return err
	}
	if regressions > 0 {
		return codeError{code: exitRegression, err: fmt.Errorf("%d regressions in %s", regressions, file)}
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
	rs, err := readResults(files)
	if err != nil {
		return err
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

// loadNoise reads the noise floors at path, or, when path is "", those kept in dir as noise.json, if
// there are any (nil, nil when there are none).
func loadNoise(path, dir string) (*gate.Noise, error) {
	if path == "" {
		if p := filepath.Join(dir, "noise.json"); fileExists(p) {
			path = p
		}
	}
	if path == "" {
		return nil, nil
	}
	return gate.ReadNoise(path)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}

// cmdTrials measures the gate on this machine (scripts/gate-trials.sh runs it): A/A pairs and runs
// with faults injected, judged under noise floors learnt from other runs.
func cmdTrials(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("trials", "--learn DIR --aa DIR --faulted DIR [-o FILE]\n       seedbench trials --paired DIR [-o FILE]", stderr)
	pairedDir := fs.String("paired", "", "directory of runs with pairs (scenario pairs): each pair is an A/A trial, or a power trial when the run's faults name its new driver")
	learnDir := fs.String("learn", "", "directory of A/A runs that only teach the noise floors")
	aaDir := fs.String("aa", "", "directory of the A/A trial runs' results (each pair is judged under floors learnt from the other A/A runs)")
	faultedDir := fs.String("faulted", "", "directory of the faulted runs' results: the i-th is compared with the i-th A/A run")
	out := fs.String("o", "", "where to write the trials (default: stdout)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *pairedDir != "" {
		if *learnDir != "" || *aaDir != "" || *faultedDir != "" {
			return usagef("trials: --paired measures the paired gate alone: leave out --learn, --aa and --faulted")
		}
		runs, err := readDir(*pairedDir)
		if err != nil {
			return err
		}
		tr, err := gate.MeasurePairedTrials(runs, gate.Options{})
		if err != nil {
			return err
		}
		// The between-run gate on the same runs, classes and faults, beside it.
		if tr.Between, err = gate.BetweenRuns(runs, gate.Options{}); err != nil {
			return err
		}
		if *out == "" {
			return json.NewEncoder(stdout).Encode(tr)
		}
		return gate.WritePairedTrials(*out, tr)
	}
	if *learnDir == "" || *aaDir == "" {
		return usagef("trials: --learn and --aa are required (or --paired)")
	}
	learn, err := readDir(*learnDir)
	if err != nil {
		return err
	}
	aa, err := readDir(*aaDir)
	if err != nil {
		return err
	}
	var faulted []*result.Result
	if *faultedDir != "" {
		if faulted, err = readDir(*faultedDir); err != nil {
			return err
		}
	}
	tr, err := gate.MeasureTrials(learn, aa, faulted, gate.Options{})
	if err != nil {
		return err
	}
	if *out == "" {
		return json.NewEncoder(stdout).Encode(tr)
	}
	return gate.WriteTrials(*out, tr)
}

// readDir reads every result file of dir, in the order the runs started.
func readDir(dir string) ([]*result.Result, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	files = slices.DeleteFunc(files, func(f string) bool { return filepath.Base(f) == "noise.json" })
	rs, err := readResults(files)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Run.Started.Before(rs[j].Run.Started) })
	return rs, nil
}

// readResults reads result files, in order.
func readResults(files []string) ([]*result.Result, error) {
	var rs []*result.Result
	for _, f := range files {
		r, err := result.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}
