package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/all"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/preflight"
	"github.com/seedbench/seedbench/internal/replay"
	"github.com/seedbench/seedbench/internal/report"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/rundir"
	"github.com/seedbench/seedbench/internal/scenario"
)

// Set by the Makefile with -ldflags -X.
var (
	version = "dev"
	commit  = ""
)

type runOptions struct {
	drivers string
	quick   bool
	samples int
	out     string
	format  string
	quiet   bool
	workdir string
	results string
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o runOptions
	fs := newFlags("run", "SCENARIO.yaml... [--drivers a,b] [--quick] [--samples N] [--out FILE] [--format table|json|gobench]", stderr)
	fs.StringVar(&o.drivers, "drivers", "", "comma-separated drivers to run (default: the scenario's list, else every driver)")
	fs.BoolVar(&o.quick, "quick", false, "shrink sizes and sample counts: every metric, well under a minute")
	fs.IntVar(&o.samples, "samples", 0, "samples per parameter point (default: the scenario's)")
	fs.StringVar(&o.out, "out", "", "result file (default results/<scenario>/<UTC timestamp>.json)")
	fs.StringVar(&o.format, "format", "table", "what to print on stdout: table | json | gobench (Go benchmark format, for benchstat)")
	fs.BoolVar(&o.quiet, "q", false, "no progress on stderr")
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
	if o.out != "" && len(files) > 1 {
		return usagef("run: --out takes one scenario; run several without --out to get one file each")
	}

	// Everything is validated before anything is mounted.
	var plans []*scenario.Plan
	var errs []error
	for _, f := range files {
		sc, err := scenario.Load(f)
		if err == nil {
			var plan *scenario.Plan
			plan, err = scenario.Resolve(sc, scenario.ResolveOptions{Quick: o.quick, Samples: o.samples})
			plans = append(plans, plan)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return codeError{exitError, errors.Join(errs...)}
	}
	sets := make([][]drivers.Driver, len(plans))
	for i, plan := range plans {
		if sets[i], err = selectDrivers(plan, o.drivers); err != nil {
			return codeError{exitError, fmt.Errorf("%s: %w", plan.File, err)}
		}
	}
	if os.Geteuid() != 0 {
		return codeError{exitError, errors.New("run needs root: it mounts filesystems and attaches loop devices (run it as root, or with sudo)")}
	}
	// And the host must hold what the runs will write, before anything is mounted. Plans run one
	// after the other, so each is checked on its own.
	host, err := preflight.Probe(o.workdir)
	if err != nil {
		return codeError{exitError, fmt.Errorf("pre-flight: %w", err)}
	}
	for i, plan := range plans {
		ns := replay.Estimate(plan, sets[i])
		if err := preflight.Check(ns, host); err != nil {
			errs = append(errs, fmt.Errorf("%s: this host cannot hold the run:\n%w", plan.File, err))
		}
		if !o.quiet {
			for _, w := range preflight.Warnings(ns) {
				fmt.Fprintf(stderr, "seedbench: %s: %s\n", plan.File, w)
			}
		}
	}
	if len(errs) > 0 {
		return codeError{exitError, errors.Join(errs...)}
	}

	// A loop device keeps a "write through" queue mode (flushes dropped) across detach: clear it on
	// the free ones, so the devices containerd attaches for blockfile's and erofs's images flush
	// as our own backings do (backing.Create sees to those).
	// A device that cannot be reset is not fatal: our backings record their own mode, and a report
	// flags one that drops flushes.
	reset, err := backing.ResetLoopWriteCache()
	if err != nil {
		fmt.Fprintf(stderr, "seedbench: warning: loop devices left dropping flushes: %v\n", err)
	}
	if len(reset) > 0 && !o.quiet {
		fmt.Fprintf(stderr, "seedbench: %s had been set to drop flushes (write_cache %q); set back to %q\n",
			strings.Join(reset, ", "), drivers.WriteThrough, drivers.WriteBack)
	}

	code := exitOK
	for i, plan := range plans {
		c, err := runOne(ctx, plan, sets[i], o, stdout, stderr)
		if err != nil {
			return err
		}
		code = max(code, c)
	}
	if code != exitOK {
		return codeError{code, nil}
	}
	return nil
}

// selectDrivers resolves --drivers, else the scenario's drivers, else every registered driver.
// Scenario-defined variants join the registry first.
func selectDrivers(plan *scenario.Plan, flag string) ([]drivers.Driver, error) {
	reg := all.Registry()
	var names []string
	for _, spec := range plan.Drivers {
		names = append(names, spec.Name)
		if _, ok := reg.Get(spec.Name); ok && spec.Driver == "" && len(spec.MountOptions) == 0 && spec.Backing == "" && spec.BackingSize == 0 {
			continue
		}
		d, err := all.New(all.Spec{Name: spec.Name, Driver: spec.Driver, MountOptions: spec.MountOptions, Backing: spec.Backing,
			BackingSize: int64(spec.BackingSize)})
		if err != nil {
			return nil, fmt.Errorf("%d: drivers: %w", spec.Line, err)
		}
		if err := reg.Add(d); err != nil {
			return nil, fmt.Errorf("%d: drivers: %w", spec.Line, err)
		}
	}
	if flag != "" {
		names = splitList(flag)
	}
	if len(names) == 0 {
		return reg.All(), nil
	}
	return reg.Select(names)
}

func runOne(ctx context.Context, plan *scenario.Plan, ds []drivers.Driver, o runOptions, stdout, stderr io.Writer) (int, error) {
	now := time.Now()
	id := rundir.NewID(now)
	wd, err := rundir.Create(o.workdir, id)
	if err != nil {
		return exitError, err
	}
	defer wd.Close()

	prog := newProgress(stderr, o.quiet)
	res, runErr := replay.Run(ctx, plan, ds, replay.Options{WorkDir: filepath.Join(wd.Path, "w"), Progress: prog})
	prog.done()
	if res == nil {
		return exitError, runErr
	}
	res.Run.ID = id
	res.Run.ToolVersion = version
	res.Run.Commit = commit
	res.Run.Args = os.Args

	out, werr := o.out, error(nil)
	if out == "" {
		// Never over another run's result: two runs started in the same second get -2, -3, ….
		out, werr = result.WriteNew(filepath.Join(o.results, plan.Name, now.UTC().Format("20060102T150405Z")+".json"), res)
	} else {
		werr = result.WriteFile(out, res)
	}
	if werr != nil {
		return exitError, errors.Join(runErr, fmt.Errorf("write result: %w", werr))
	}
	if runErr != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(stderr, "seedbench: partial result: %s\n", out)
			return exitInterrupted, context.Canceled
		}
		return exitError, fmt.Errorf("%s: %w (partial result: %s)", plan.Name, runErr, out)
	}

	switch o.format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return exitError, err
		}
		fmt.Fprintf(stderr, "result: %s\n", out)
	case "gobench":
		if err := report.GoBench(stdout, res); err != nil {
			return exitError, err
		}
		fmt.Fprintf(stderr, "result: %s\n", out)
	default:
		if err := report.Tables(stdout, res); err != nil {
			return exitError, err
		}
		fmt.Fprintf(stdout, "\nresult: %s\n", out)
	}

	code := exitOK
	for _, d := range res.Drivers {
		if d.Status != result.StatusOK {
			fmt.Fprintf(stderr, "seedbench: driver %s %s: %s\n", d.Name, d.Status, d.Reason)
			code = exitDriversLost
		}
	}
	return code, nil
}
