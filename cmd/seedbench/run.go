package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/seedbench/seedbench/internal/bench"
	"github.com/seedbench/seedbench/internal/fault"
	"github.com/seedbench/seedbench/internal/registry"
	"github.com/seedbench/seedbench/internal/report"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/rundir"
)

// Set by the Makefile with -ldflags -X. measureCode identifies the measuring code (a hash of the
// sources under internal/replay, internal/measure, internal/backing and drivers): compare refuses to
// judge runs of two different ones.
var (
	version     = "dev"
	commit      = ""
	measureCode = ""
)

type runOptions struct {
	drivers  string
	quick    bool
	samples  int
	out      string
	format   string
	quiet    bool
	workdir  string
	results  string
	details  bool
	faults   faultFlags
	repeat   int
	shard    string
	registry string
	ctd      string
}

// faultFlags collects --inject-fault values.
type faultFlags []fault.Fault

func (f *faultFlags) String() string { return fmt.Sprint(len(*f)) }

func (f *faultFlags) Set(s string) error {
	fault, err := fault.Parse(s)
	if err != nil {
		return err
	}
	*f = append(*f, fault)
	return nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o runOptions
	fs := newFlags("run", "SCENARIO.yaml... [--drivers a,b] [--quick] [--samples N] [--out FILE] [--format table|json|gobench] [--details] [-q] [--workdir DIR] [--results DIR] [--repeat N] [--inject-fault SPEC] [--shard I/N] [--registry http://HOST:PORT] [--containerd SOCKET]", stderr)
	fs.StringVar(&o.ctd, "containerd", "", "measure the containerd daemon at this socket with the containerd-… drivers, instead of private daemons of their own (only a namespace of seedbench's own is touched)")
	fs.StringVar(&o.drivers, "drivers", "", "comma-separated drivers to run (default: the scenario's list, else every driver)")
	fs.BoolVar(&o.quick, "quick", false, "shrink sizes and sample counts: every metric, well under a minute")
	fs.IntVar(&o.samples, "samples", 0, "samples per parameter point (default: the scenario's)")
	fs.StringVar(&o.out, "out", "", "result file (default results/<scenario>/<UTC timestamp>.json)")
	fs.StringVar(&o.format, "format", "table", "what to print on stdout: table | json | gobench (Go benchmark format, for benchstat)")
	fs.BoolVar(&o.quiet, "q", false, "no progress on stderr")
	fs.BoolVar(&o.details, "details", false, "print every table (each metric family, the fits, the run time), not only the summary")
	fs.IntVar(&o.repeat, "repeat", 1, "run each scenario N times, each with a result of its own (A/A runs for seedbench noise)")
	fs.Var(&o.faults, "inject-fault", "inject a fault on purpose, to measure the regression gate (repeatable): slow:METRIC[,KEY=VALUE]:+N% or write:STEP:+SIZE")
	fs.StringVar(&o.shard, "shard", "", "run shard I of N (1-based) of the workload: the ops dealt round-robin, every driver in each; seedbench merge joins the N results")
	fs.StringVar(&o.registry, "registry", "", "an external registry for pull ops and stargz (http://HOST:PORT, anonymous push and pull; default: one in process on loopback)")
	fs.StringVar(&o.workdir, "workdir", rundir.DefaultBase, "base directory for run state (mounts, loop images)")
	fs.StringVar(&o.results, "results", "results", "directory for result files when --out is not given")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("run: name at least one scenario file")
	}
	if o.format != "table" && o.format != "json" && o.format != "gobench" {
		return usagef("run: --format must be table, json or gobench, not %q", o.format)
	}
	if o.samples < 0 {
		return usagef("run: --samples must be positive")
	}
	if o.repeat < 1 || o.repeat > 1000 {
		return usagef("run: --repeat must be between 1 and 1000")
	}
	var shard *result.Shard
	if o.shard != "" {
		var i, n int
		if _, err := fmt.Sscanf(o.shard, "%d/%d", &i, &n); err != nil || fmt.Sprintf("%d/%d", i, n) != o.shard || n < 1 || n > 64 || i < 1 || i > n {
			return usagef("run: --shard is I/N with 1 ≤ I ≤ N ≤ 64 (e.g. 2/3), not %q", o.shard)
		}
		shard = &result.Shard{Index: i, Count: n}
	}
	if o.registry != "" {
		if _, err := registry.CheckURL(o.registry); err != nil {
			return usagef("run: --registry: %v", err)
		}
	}
	if o.out != "" && len(files) > 1 {
		return usagef("run: --out takes one scenario; run several without --out to get one file each")
	}
	var drivers []string
	isSet := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { isSet[f.Name] = true })
	if isSet["drivers"] {
		if drivers, err = splitList("run", "drivers", o.drivers); err != nil {
			return err
		}
	}
	if err := bench.CheckWorkDir(o.workdir); err != nil {
		return usagef("run: --workdir: %v", err)
	}

	prog := newProgress(stderr, o.quiet)
	runs, outcome, err := bench.Execute(ctx, bench.Request{
		Scenarios: files, Drivers: drivers, Quick: o.quick, Samples: o.samples,
		Out: o.out, ResultsDir: o.results, WorkDir: o.workdir, Progress: prog,
		Warn: func(w string) {
			if !o.quiet {
				fmt.Fprintf(stderr, "seedbench: %s\n", w)
			}
		},
		Done:   func(r bench.Run) error { return render(r, o, stdout, stderr) },
		Faults: o.faults, Shard: shard, Registry: o.registry, Containerd: o.ctd, Repeat: o.repeat, Args: os.Args, Version: version, Commit: commit, MeasureCode: measureCode,
	})
	prog.done()
	if outcome == bench.Interrupted {
		for _, r := range runs {
			if r.Path != "" {
				fmt.Fprintf(stderr, "seedbench: partial result: %s\n", r.Path)
			}
		}
		return context.Canceled
	}
	if err != nil {
		return codeError{exitError, err}
	}
	if outcome == bench.DriversLost {
		return codeError{exitDriversLost, nil}
	}
	return nil
}

// render prints a run's result as --format asks, and says which drivers did not run.
func render(r bench.Run, o runOptions, stdout, stderr io.Writer) error {
	res := r.Result
	switch o.format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "result: %s\n", r.Path)
	case "gobench":
		if err := report.GoBench(stdout, res); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "result: %s\n", r.Path)
	default:
		if err := report.Build(res).Text(stdout, report.TextOptions{Width: termWidth(stdout), Details: o.details}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nresult: %s\n", r.Path)
		if !o.details {
			fmt.Fprintf(stdout, "every table: seedbench report %s\n", r.Path)
		}
	}
	var lost []string
	for _, d := range res.Drivers {
		if d.Status != result.StatusOK {
			lost = append(lost, d.Name+" "+d.Status)
			if o.format != "table" { // the table's drivers section says why
				fmt.Fprintf(stderr, "seedbench: driver %s %s: %s\n", d.Name, d.Status, d.Reason)
			}
		}
	}
	if len(lost) > 0 && o.format == "table" {
		fmt.Fprintf(stderr, "seedbench: %d drivers did not run (%s): their reasons are under drivers\n", len(lost), strings.Join(lost, ", "))
	}
	return nil
}
