// Package bench is the run pipeline every front end calls (`seedbench run` today; a shard runner, a
// nightly job or a daemon-backed run next): scenario files and options in; results, an outcome and
// an error out.
//
//	load + validate + resolve (drivers: entries included) → select drivers → root → pre-flight
//	→ reset loop devices left dropping flushes → per scenario: run directory → replay → result file
//
// Everything that can be refused is refused before anything is mounted. Rendering the results and
// mapping the outcome to an exit code are the front end's.
package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/all"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/fault"
	"github.com/seedbench/seedbench/internal/preflight"
	"github.com/seedbench/seedbench/internal/registry"
	"github.com/seedbench/seedbench/internal/replay"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/rundir"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/sizing"
)

// Request is one run: what to replay, on what, and where its state and results go.
type Request struct {
	// Scenarios are scenario files, replayed one after the other.
	Scenarios []string
	// Drivers names the drivers to run (nil = each scenario's drivers: list, else every driver).
	Drivers []string
	Quick   bool
	// Samples overrides every sample count when > 0.
	Samples int
	// Out is the result file of a single scenario ("" = ResultsDir/<scenario>/<UTC time>.json).
	Out        string
	ResultsDir string
	// WorkDir is the base of the run directories (mounts, loop images).
	WorkDir string
	// Progress receives the replay's progress (nil = none).
	Progress replay.Progress
	// Warn receives what the user should know but does not stop the run (nil = dropped).
	Warn func(string)
	// Done receives each scenario's run as soon as its result is written (nil = none), so a front
	// end can show it while the next one runs.
	Done func(Run) error
	// Faults are injected on purpose, to measure the regression gate (none: a real run).
	Faults []fault.Fault
	// Shard runs one shard of each scenario's workload (nil: all of it).
	Shard *result.Shard
	// Registry is an external registry for pulls (http://HOST:PORT; "" = in process).
	Registry string
	// Containerd is the user's containerd socket: the daemon drivers measure that daemon instead of
	// starting private ones ("" = private daemons).
	Containerd string
	// Repeat runs every scenario this many times, one after the other, each with a result of its
	// own: A/A runs, for the noise floors compare judges by (0 = 1).
	Repeat int
	// Stamped into each result: the command line, the tool's version and commit, and the identity
	// of its measuring code (result.Run.MeasureCode).
	Args                         []string
	Version, Commit, MeasureCode string
}

// Outcome is how a run ended, for the front end's exit code.
type Outcome int

const (
	// OK: every requested driver ran.
	OK Outcome = iota
	// DriversLost: the run finished, but some requested drivers were skipped or failed (each
	// result's Drivers say why).
	DriversLost
	// Interrupted: the context was cancelled; a partial result was written when one existed.
	Interrupted
)

// Run is one replayed scenario.
type Run struct {
	Plan   *scenario.Plan
	Result *result.Result
	// Path is the result file written.
	Path string
}

// ErrNotRoot is returned when the process cannot mount: runs need root.
var ErrNotRoot = errors.New("run needs root: it mounts filesystems and attaches loop devices (run it as root, or with sudo)")

// Load reads, validates and resolves one scenario file, its drivers: entries included (checked
// against the driver catalogue, with each problem at its line), and returns the plan and the
// drivers it selects: names when given, else the scenario's list, else every driver. It returns
// ctx's error as soon as ctx is done, whatever stage loading is at: nothing is mounted yet, so an
// interrupted load leaves nothing behind.
func Load(ctx context.Context, file string, opt scenario.ResolveOptions, names []string) (*scenario.Plan, []drivers.Driver, error) {
	type loaded struct {
		plan *scenario.Plan
		ds   []drivers.Driver
		err  error
	}
	done := make(chan loaded, 1)
	go func() {
		plan, ds, err := load(ctx, file, opt, names)
		done <- loaded{plan, ds, err}
	}()
	select {
	case l := <-done:
		return l.plan, l.ds, l.err
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

func load(ctx context.Context, file string, opt scenario.ResolveOptions, names []string) (*scenario.Plan, []drivers.Driver, error) {
	sc, err := scenario.Load(file)
	if err != nil {
		return nil, nil, err
	}
	if opt.Images == nil {
		opt.Images = Images(ctx, "")
	}
	reg := all.Catalog()
	opt.CheckDriver = func(s scenario.DriverSpec) (string, error) {
		d, err := reg.Variant(driverSpec(s))
		if err == nil && !driverSpec(s).Plain() {
			err = reg.Add(d)
		}
		var se *drivers.SpecError
		if errors.As(err, &se) {
			return se.Key, err
		}
		return "", err
	}
	plan, err := scenario.Resolve(sc, opt)
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		for _, s := range plan.Drivers {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return plan, reg.All(), nil
	}
	ds, err := reg.Select(names)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	return plan, ds, nil
}

// atDaemon points the daemon drivers among ds at the user's daemon at socket; one of them at least
// must be there.
func atDaemon(ds []drivers.Driver, socket string) ([]drivers.Driver, error) {
	out := slices.Clone(ds)
	n := 0
	for i, d := range out {
		if dd, ok := d.(drivers.DaemonDriver); ok {
			out[i] = dd.WithSocket(socket)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("--containerd %s: none of the drivers reaches a containerd daemon: add one, e.g. --drivers overlayfs,containerd-overlayfs", socket)
	}
	return out, nil
}

func driverSpec(s scenario.DriverSpec) drivers.Spec {
	return drivers.Spec{Name: s.Name, Driver: s.Driver, MountOptions: s.MountOptions, Backing: s.Backing, BackingSize: int64(s.BackingSize), Socket: s.Socket}
}

// Execute runs req: every check first, then each scenario. It returns what ran, even when an error
// stopped it (a partial result is written and listed).
func Execute(ctx context.Context, req Request) ([]Run, Outcome, error) {
	warn := req.Warn
	if warn == nil {
		warn = func(string) {}
	}
	if req.Out != "" && (len(req.Scenarios) > 1 || req.Repeat > 1) {
		return nil, OK, errors.New("an output file takes one scenario, run once")
	}
	if err := CheckWorkDir(req.WorkDir); err != nil {
		return nil, OK, err
	}
	// An external registry must answer before anything is built for it.
	if req.Registry != "" {
		reg, err := registry.Open(req.Registry)
		if err != nil {
			return nil, OK, err
		}
		reg.Close()
	}
	// Everything is validated before anything is mounted.
	var runs []Run
	sets := map[*scenario.Plan][]drivers.Driver{}
	var errs []error
	for _, f := range req.Scenarios {
		plan, ds, err := Load(ctx, f, scenario.ResolveOptions{Quick: req.Quick, Samples: req.Samples, Images: Images(ctx, req.WorkDir)}, req.Drivers)
		if ctx.Err() != nil {
			return nil, Interrupted, ctx.Err()
		}
		if err == nil && req.Containerd != "" {
			ds, err = atDaemon(ds, req.Containerd)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		runs = append(runs, Run{Plan: plan})
		sets[plan] = ds
	}
	if len(errs) > 0 {
		return nil, OK, errors.Join(errs...)
	}
	if os.Geteuid() != 0 {
		return nil, OK, ErrNotRoot
	}
	// Where the results go must take them, before an hour of measurements is spent.
	var plans []*scenario.Plan
	for _, r := range runs {
		plans = append(plans, r.Plan)
	}
	release, err := claimOutputs(req, plans)
	if err != nil {
		return nil, OK, err
	}
	defer func() { release(runs) }()
	// The host must hold what the runs will write, before anything is mounted. Plans run one after
	// the other, so each is checked on its own.
	host, err := preflight.Probe(req.WorkDir)
	if err != nil {
		return nil, OK, fmt.Errorf("pre-flight: %w", err)
	}
	for _, r := range runs {
		ns := sizing.Estimate(r.Plan, sets[r.Plan])
		if err := preflight.Check(ns, host); err != nil {
			errs = append(errs, fmt.Errorf("%s: this host cannot hold the run:\n%w", r.Plan.File, err))
		}
		for _, w := range preflight.Warnings(ns) {
			warn(fmt.Sprintf("%s: %s", r.Plan.File, w))
		}
	}
	if len(errs) > 0 {
		return nil, OK, errors.Join(errs...)
	}

	// A loop device keeps a "write through" queue mode (flushes dropped) across detach: clear it on
	// the free ones, so the devices containerd attaches for blockfile's and erofs's images flush as
	// our own backings do (backing.Create sees to those). A device that cannot be reset is not
	// fatal: our backings record their own mode, and a report flags one that drops flushes.
	reset, err := backing.ResetLoopWriteCache()
	if err != nil {
		warn(fmt.Sprintf("warning: loop devices left dropping flushes: %v", err))
	}
	if len(reset) > 0 {
		warn(fmt.Sprintf("%s had been set to drop flushes (write_cache %q); set back to %q", strings.Join(reset, ", "), drivers.WriteThrough, drivers.WriteBack))
	}

	outcome := OK
	plansRun := runs
	runs = nil
	for range max(req.Repeat, 1) {
		for _, pr := range plansRun {
			runs = append(runs, Run{Plan: pr.Plan})
			r := &runs[len(runs)-1]
			o, err := execute(ctx, req, r, sets[r.Plan])
			outcome = max(outcome, o)
			if err != nil {
				return runs, outcome, err
			}
			if req.Done != nil {
				if err := req.Done(*r); err != nil {
					return runs, outcome, err
				}
			}
		}
	}
	return runs, outcome, nil
}

// MaxWorkDir is the longest --workdir a run takes. Every path of a run is the work directory, the
// run's own directories (a snapshot's, with a driver name of up to 63 bytes: about 140 bytes) and,
// below them, a scenario's path (at most 3072): the whole stays below the kernel's 4096. And erofs
// mounts its layer images through the new mount API, whose source strings the kernel caps at 256
// bytes: 100 bytes leave a layer image's path room below that.
const MaxWorkDir = 100

// CheckWorkDir refuses a work directory whose absolute path is too long for a run's paths.
func CheckWorkDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if len(abs) > MaxWorkDir {
		return fmt.Errorf("work directory %s… is %d bytes long: at most %d, so that every path of a run stays below the kernel's limits", abs[:40], len(abs), MaxWorkDir)
	}
	return nil
}

// claimOutputs checks that each run's result can be written: an --out file is created now (or, if
// it exists, opened for writing), the results directory of each scenario made and written to. The
// release it returns removes an --out file it created when no run wrote it.
func claimOutputs(req Request, plans []*scenario.Plan) (release func([]Run), err error) {
	release = func([]Run) {}
	if req.Out != "" {
		if err := os.MkdirAll(filepath.Dir(req.Out), 0o755); err != nil {
			return release, fmt.Errorf("output %s: %w", req.Out, err)
		}
		f, err := os.OpenFile(req.Out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			if fi, serr := os.Stat(req.Out); serr == nil && !fi.Mode().IsRegular() {
				return release, fmt.Errorf("output %s is not a regular file: name a file", req.Out)
			}
			f, err = os.OpenFile(req.Out, os.O_WRONLY, 0)
			if err != nil {
				return release, fmt.Errorf("output %s: %w", req.Out, err)
			}
			return release, f.Close()
		}
		if err != nil {
			return release, fmt.Errorf("output %s: %w", req.Out, err)
		}
		if err := f.Close(); err != nil {
			return release, fmt.Errorf("output %s: %w", req.Out, err)
		}
		return func(runs []Run) {
			for _, r := range runs {
				if r.Path == req.Out {
					return
				}
			}
			os.Remove(req.Out)
		}, nil
	}
	for _, p := range plans {
		dir := filepath.Join(req.ResultsDir, p.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return release, fmt.Errorf("results directory: %w", err)
		}
		f, err := os.CreateTemp(dir, ".seedbench-probe-*")
		if err != nil {
			return release, fmt.Errorf("results directory %s: %w", dir, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return release, nil
}

// execute replays one plan in a run directory of its own and writes its result.
func execute(ctx context.Context, req Request, r *Run, ds []drivers.Driver) (Outcome, error) {
	now := time.Now()
	id := rundir.NewID(now)
	wd, err := rundir.Create(req.WorkDir, id)
	if err != nil {
		return OK, err
	}
	defer wd.Close()

	res, runErr := replay.Run(ctx, r.Plan, ds, replay.Options{WorkDir: filepath.Join(wd.Path, "w"), Progress: req.Progress, Faults: req.Faults, Shard: req.Shard, Registry: req.Registry})
	if res == nil {
		return OK, runErr
	}
	res.Run.ID = id
	res.Run.ToolVersion = req.Version
	res.Run.Commit = req.Commit
	res.Run.MeasureCode = req.MeasureCode
	res.Run.Args = req.Args
	r.Result = res

	if req.Out == "" {
		// Never over another run's result: two runs started in the same second get -2, -3, ….
		r.Path, err = result.WriteNew(filepath.Join(req.ResultsDir, r.Plan.Name, now.UTC().Format("20060102T150405Z")+".json"), res)
	} else {
		r.Path, err = req.Out, result.WriteFile(req.Out, res)
	}
	if err != nil {
		return OK, errors.Join(runErr, fmt.Errorf("write result: %w", err))
	}
	if runErr != nil {
		if ctx.Err() != nil {
			return Interrupted, fmt.Errorf("%w (partial result: %s)", context.Canceled, r.Path)
		}
		return OK, fmt.Errorf("%s: %w (partial result: %s)", r.Plan.Name, runErr, r.Path)
	}
	for _, d := range res.Drivers {
		if d.Status != result.StatusOK {
			return DriversLost, nil
		}
	}
	return OK, nil
}
