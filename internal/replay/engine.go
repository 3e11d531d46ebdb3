// Package replay is the engine: it turns a scenario Plan into snapshotter calls on every selected
// driver — build each layer as a build step does, start containers, run the workload, verify the
// merged views, tear down — and it owns every timer, so every driver is measured by the same code.
//
// Drivers run side by side, not one after the other: each phase and each sample round visits the
// drivers in a freshly shuffled order, so machine drift over a run lands on all of them alike.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/plugins/content/local"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/cleanup"
	"github.com/seedbench/seedbench/internal/fault"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/pull"
	"github.com/seedbench/seedbench/internal/registry"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/sizing"
	"github.com/seedbench/seedbench/internal/stats"
)

// Options configure one replay.
type Options struct {
	// WorkDir is this run's private directory (created if missing, removed at the end).
	WorkDir string
	// Progress receives phase and op progress (nil = silent).
	Progress Progress
	// Now is the clock for run timestamps (nil = time.Now); timers always use the monotonic clock.
	Now func() time.Time
	// Faults are injected on purpose, to measure the regression gate (off: none).
	Faults []fault.Fault
	// Shard, when set, runs the workload ops the shard holds (result.Shard.Holds); every shard builds
	// the image and starts the containers, and only shard 1 keeps what is measured outside the ops.
	Shard *result.Shard
	// Registry is the external registry pull ops and the drivers that pull layers use
	// (http://HOST:PORT); "" = in process on loopback.
	Registry string
}

// Run replays plan on every driver in ds and returns the result. Drivers that cannot run here are
// recorded as skipped with their reason; a driver that fails mid-run is recorded as failed and the
// others go on. The returned error is non-nil only when the run as a whole could not proceed (or was
// interrupted: then the result holds what was measured, marked partial).
func Run(ctx context.Context, plan *scenario.Plan, ds []drivers.Driver, opt Options) (*result.Result, error) {
	e := &engine{plan: plan, opt: opt, rec: newRecorder(), rng: newRand(plan.Seed), group: groups(plan.Pairs)}
	e.rec.faults = opt.Faults
	e.rec.phase = func() string { return e.phase }
	if e.opt.Progress == nil {
		e.opt.Progress = nopProgress{}
	}
	if e.opt.Now == nil {
		e.opt.Now = time.Now
	}
	return e.run(ctx, ds)
}

type engine struct {
	plan  *scenario.Plan
	opt   Options
	rec   *recorder
	rng   *rand.Rand
	undo  cleanup.Stack
	trees map[string]*layer.Tree // layer name → tree
	// extras are, for a layer from an image, the entries written after its tar (the workload's).
	extras      map[string]*layer.Tree
	views       map[string]*layer.View // image name → expected merged view of its chain
	store       content.Store          // for exported diffs
	drvs        []*driverRun
	res         *result.Result
	droppedOnce bool                // the first cold eviction is recorded as a check
	phase       string              // what the drivers' time is charged to (result phase_seconds)
	cal         *measure.Calibrator // machine-speed readings for the drift (probeNoise)
	floor       *floor              // the plain filesystem the floors are measured on (nil: none)
	// The run's registry, where pub publishes the layers of the drivers that fetch them (receivers,
	// pullers), and the pulls made so far (for fresh mount points).
	reg   *registry.Registry
	pub   *pull.Publisher
	pulls int
	// group numbers each paired driver's group of pairs (groups): active keeps a group adjacent.
	group map[string]int
}

// driverRun is one driver's state through the run.
type driverRun struct {
	d        drivers.Driver
	info     drivers.Info
	inst     drivers.Instance
	sn       snapshots.Snapshotter
	dir      string
	err      error     // set when the driver failed: it takes no further part
	status   string    // result status
	started  time.Time // for the driver's wall time
	base     measure.Usage
	ctrs     map[string][]*container // image → containers
	checks   []result.Check
	elapsed  time.Duration
	phases   map[string]time.Duration // elapsed, by engine phase
	snapKeys []string                 // committed layer names, in build order
	full     drivers.Puller           // the full pull into it (puller), made once
	// unmeasured are the metrics the driver cannot have, and why (a backing it cannot see).
	unmeasured []result.Unmeasured
}

// hidden reports whether the driver's backing is out of seedbench's sight (drivers.Backing.Hidden):
// nothing is measured by reading it.
func (d *driverRun) hidden() bool { return d.inst != nil && d.inst.Backing().Hidden != "" }

// backingMetrics are the metrics measured by reading a driver's backing: its statfs, its files'
// page-cache residency, its device's counters.
var backingMetrics = []metric.ID{metric.DiskUsed, metric.DiskInodes, metric.DiskSharedSavings, metric.DiskVsUnique,
	metric.PagecacheResident, metric.PagecacheSharedSavings, metric.IOReadBytes, metric.IOWriteBytes, metric.IOFlushes}

// container is a started container: an active snapshot, mounted.
type container struct {
	key    string
	image  *scenario.PlanImage
	mnt    string
	mounts []mount.Mount
	up     bool
	root   *root
	view   *layer.View // what its merged view must be, updated by every op that changes it
}

func (d *driverRun) ok() bool { return d.err == nil && d.inst != nil }

// fail marks a driver failed; it takes no further part in the run.
func (d *driverRun) fail(err error) {
	if d.err == nil {
		d.err = err
		d.status = result.StatusFailed
	}
}

func (e *engine) progress(drv, phase, what string, done, total int) {
	e.opt.Progress.Update(Status{Driver: drv, Phase: phase, What: what, Done: done, Total: total})
}

// active returns the drivers still running, in a fresh random order, in which the drivers of each
// group of pairs (plan.Pairs: pairs sharing a driver form one group) come one right after the other,
// so a pair's two sides share the machine's state of the moment.
func (e *engine) active() []*driverRun {
	var out []*driverRun
	for _, d := range e.drvs {
		if d.ok() {
			out = append(out, d)
		}
	}
	e.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return adjacent(out, e.group)
}

// adjacent reorders ds so the drivers of each group come together, where the group's first driver
// stood, in the order they had among themselves.
func adjacent(out []*driverRun, group map[string]int) []*driverRun {
	if len(group) == 0 {
		return out
	}
	grouped := make([]*driverRun, 0, len(out))
	done := map[int]bool{}
	for _, d := range out {
		g, paired := group[d.info.Name]
		switch {
		case !paired:
			grouped = append(grouped, d)
		case !done[g]:
			done[g] = true
			for _, o := range out { // the group's drivers in their shuffled order
				if og, ok := group[o.info.Name]; ok && og == g {
					grouped = append(grouped, o)
				}
			}
		}
	}
	return grouped
}

// groups numbers the groups of pairs: drivers linked by pairs, directly or through others, share
// a number.
func groups(pairs []scenario.Pair) map[string]int {
	g := map[string]int{}
	for i, p := range pairs {
		gb, okb := g[p.Base]
		gn, okn := g[p.New]
		switch {
		case okb && okn && gb != gn:
			for k, v := range g {
				if v == gn {
					g[k] = gb
				}
			}
		case okb:
			g[p.New] = gb
		case okn:
			g[p.Base] = gn
		default:
			g[p.Base], g[p.New] = i, i
		}
	}
	return g
}

// splits reports whether a cut between ds[at-1] and ds[at] separates two drivers of one group.
func (e *engine) splits(ds []*driverRun, at int) bool {
	if at <= 0 || at >= len(ds) {
		return false
	}
	a, oka := e.group[ds[at-1].info.Name]
	b, okb := e.group[ds[at].info.Name]
	return oka && okb && a == b
}

func (e *engine) run(ctx context.Context, ds []drivers.Driver) (res *result.Result, err error) {
	names := map[string]bool{}
	var list []string
	for _, d := range ds {
		names[d.Info().Name] = true
		list = append(list, d.Info().Name)
	}
	for _, f := range e.opt.Faults {
		if f.Driver != "" && !names[f.Driver] {
			return nil, fmt.Errorf("fault %s: no driver %q in this run (%s): name one of them", f.Spec, f.Driver, strings.Join(list, ", "))
		}
	}
	started := e.opt.Now()
	e.res = &result.Result{
		Schema:   result.Schema,
		Run:      result.Run{Started: started.UTC(), Seed: e.plan.Seed, Quick: e.plan.Quick, Samples: e.plan.Samples, Faults: faultSpecs(e.opt.Faults), Shard: e.opt.Shard, Registry: e.opt.Registry},
		Scenario: result.ScenarioRef{Name: e.plan.Name, File: e.plan.File, SHA256: e.plan.SHA256},
		Env:      measure.Env(ctx),
	}
	for _, p := range e.plan.Pairs {
		// A pair whose drivers this run does not have (--drivers chose others) is not recorded.
		if names[p.Base] && names[p.New] {
			e.res.Pairs = append(e.res.Pairs, result.Pair{Base: p.Base, New: p.New})
		}
	}
	if err := os.MkdirAll(e.opt.WorkDir, 0o700); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	e.undo.Push("remove "+e.opt.WorkDir, func() error { return os.RemoveAll(e.opt.WorkDir) })
	// The calibration file sits in the work dir, on the host filesystem that holds every driver's
	// backing image: its flush latency is the device's, outside any driver.
	cal, err := measure.NewCalibrator(filepath.Join(e.opt.WorkDir, "calibration"))
	if err != nil {
		return nil, fmt.Errorf("calibration file: %w", err)
	}
	e.cal = cal
	e.undo.Push("close calibration file", cal.Close)
	// The differ mounts snapshots in temporary directories: keep them under our work dir, so a
	// leaked one is recognisably ours.
	tmpMounts := filepath.Join(e.opt.WorkDir, "tmpmounts")
	if err := os.MkdirAll(tmpMounts, 0o700); err != nil {
		return nil, err
	}
	if err := mount.SetTempMountLocation(tmpMounts); err != nil {
		return nil, fmt.Errorf("temp mount location: %w", err)
	}
	defer func() {
		if uerr := e.undo.Unwind(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("cleanup: %w", uerr))
		}
		e.finish()
		res = e.res
		if err != nil || ctx.Err() != nil {
			e.res.Partial = true
		}
	}()

	t0 := time.Now()
	if err := e.buildTrees(ctx); err != nil {
		return nil, err
	}
	e.engineTime("trees", t0)
	if err := e.openStore(); err != nil {
		return nil, err
	}
	if err := e.openRegistry(); err != nil {
		return nil, err
	}

	e.openDrivers(ctx, ds)
	if len(e.active()) == 0 {
		return e.res, nil
	}
	// A run that cannot make the floors' filesystem (no loop device: the rootless test fakes) goes
	// on without them, and says so.
	if err := e.openFloor(ctx); err != nil {
		e.floorFail("open", err)
	}
	phases := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"build", e.buildLayers},
		{"containers", e.startContainers},
		{"workload", e.runWorkload},
		{"verify", e.verifyContainers},
		{"teardown", e.teardown},
	}
	for _, ph := range phases {
		if err := ctx.Err(); err != nil {
			return e.res, err
		}
		if len(e.active()) == 0 {
			break
		}
		runtime.GC()
		e.phase = ph.name
		e.probeNoise(ph.name, 0)
		var marks map[*driverRun]measure.DeviceIO
		if ph.name != "workload" && ph.name != "verify" { // the workload's ops are steps of their own
			marks = e.ioMark()
		}
		if err := ph.fn(ctx); err != nil {
			return e.res, fmt.Errorf("%s: %w", ph.name, err)
		}
		if marks != nil {
			e.ioStep(ph.name, marks)
		}
		if e.rec.err != nil {
			return e.res, fmt.Errorf("%s: %w", ph.name, e.rec.err)
		}
	}
	return e.res, ctx.Err()
}

// newRand is the run's source of shuffles: seeded, so a run's order is reproducible.
func newRand(seed int64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 0x5eedbe4c)) }

// openStore opens the content store the differ exports layers into (outside the backings, so the
// exported tars do not count as a driver's disk use).
func (e *engine) openStore() error {
	st, err := local.NewStore(filepath.Join(e.opt.WorkDir, "content"))
	if err != nil {
		return fmt.Errorf("content store: %w", err)
	}
	e.store = st
	return nil
}

// openRegistry opens the run's registry (Options.Registry, else one in process on loopback), which
// the drivers that fetch layers reach through proxies of their own, and the publisher of its layers.
func (e *engine) openRegistry() error {
	reg, err := registry.Open(e.opt.Registry)
	if err != nil {
		return err
	}
	e.undo.Push("stop the registry", reg.Close)
	e.reg, e.pub = reg, pull.NewPublisher(reg.Addr, filepath.Join(e.opt.WorkDir, "publish"))
	return nil
}

// buildTrees realises every layer's tree and the expected view of every image.
func (e *engine) buildTrees(ctx context.Context) error {
	e.trees = map[string]*layer.Tree{}
	e.extras = map[string]*layer.Tree{}
	for _, pl := range e.plan.Layers {
		t, err := layer.Build(pl, e.plan.Seed)
		if err != nil {
			return fmt.Errorf("layer %s: %w", pl.Name, err)
		}
		rl := result.Layer{Name: pl.Name, Parent: pl.Parent, Source: layerSource(pl)}
		if il := pl.Image; il != nil {
			// The image's tar, then what the workload adds (t): both make the layer.
			tt, err := e.imageTree(ctx, pl)
			if err != nil {
				return err
			}
			if len(t.Entries) > 0 {
				e.extras[pl.Name] = t
			}
			t = layer.WithExtra(tt, t)
			rl.Image, rl.Digest, rl.DiffID = fmt.Sprintf("%s, layer %d of %d", il.Source, il.Index, il.Count), il.Digest, il.DiffID
		}
		e.trees[pl.Name] = t
		st := t.Stats()
		rl.Files, rl.Dirs, rl.Symlinks, rl.Hardlinks = st.Files, st.Dirs, st.Symlinks, st.Hardlinks
		rl.Whiteouts, rl.Opaques, rl.Bytes, rl.DiskBytes = st.Whiteouts, st.Opaques, st.Bytes, st.DiskBytes
		e.res.Layers = append(e.res.Layers, rl)
	}
	e.views = map[string]*layer.View{}
	for i := range e.plan.Images {
		e.views[e.plan.Images[i].Name] = e.chainView(e.plan.Images[i].Chain)
	}
	return nil
}

func (e *engine) chainView(chain []string) *layer.View {
	ts := make([]*layer.Tree, len(chain))
	for i, n := range chain {
		ts[i] = e.trees[n]
	}
	return layer.Merge(ts)
}

// imageTree reads the tree of a layer from an image (its tar, read to the end: the blob checked
// against its diff ID) and refuses one that writes through a lower layer's symlink.
func (e *engine) imageTree(ctx context.Context, pl scenario.PlanLayer) (*layer.Tree, error) {
	rc, err := pl.Image.Tar(ctx)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", pl.Name, err)
	}
	defer rc.Close()
	t, err := layer.FromTar(pl.Name, rc)
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
	}
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", pl.Name, err)
	}
	if pl.Parent != "" {
		if err := layer.CheckThrough(e.layerView(pl.Parent), t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func layerSource(pl scenario.PlanLayer) string {
	switch {
	case pl.Image != nil && len(pl.Files) > 0:
		return "image+files"
	case pl.Image != nil:
		return "image"
	case pl.Generate != nil && len(pl.Files) > 0:
		return "generate+files"
	case pl.Generate != nil:
		return "generate"
	default:
		return "files"
	}
}

func (e *engine) openDrivers(ctx context.Context, ds []drivers.Driver) {
	layers := sizing.Realised(e.res.Layers)
	size, image := sizing.BackingSize(e.plan, layers), sizing.ImageSize(e.plan, layers)
	e.undo.Push("close the drivers", func() error { return e.closeDrivers(context.WithoutCancel(ctx)) })
	for i, d := range ds {
		info := d.Info()
		dr := &driverRun{d: d, info: info, status: result.StatusOK, ctrs: map[string][]*container{}, phases: map[string]time.Duration{}}
		e.drvs = append(e.drvs, dr)
		e.progress(info.Name, "open", "backing", 0, 1)
		if err := d.Check(ctx); err != nil {
			dr.err = err
			dr.status = result.StatusSkipped
			continue
		}
		dr.dir = filepath.Join(e.opt.WorkDir, fmt.Sprintf("d%d-%s", i, info.Name))
		if err := os.MkdirAll(dr.dir, 0o700); err != nil {
			dr.fail(err)
			continue
		}
		dr.started = time.Now()
		e.openDriver(ctx, dr, size, image)
		dr.charge("open", dr.started)
	}
	if len(e.drvs) > 0 && e.drvs[0].inst != nil {
		e.res.Env.Backing = result.Backing(e.drvs[0].inst.Backing())
	}
}

// openDriver opens dr's backing and snapshotter, and measures the backing's disk use before the run.
func (e *engine) openDriver(ctx context.Context, dr *driverRun, size, image int64) {
	info := dr.info
	opts := drivers.Options{WorkDir: dr.dir, BackingSize: size, Registry: e.reg.Addr, ImageSize: image}
	if info.BackingSize > 0 { // the scenario fixed it (backing_size)
		opts.BackingSize = info.BackingSize
	}
	inst, err := dr.d.Open(ctx, opts)
	if err != nil {
		if errors.Is(err, drivers.ErrUnsupported) {
			dr.err, dr.status = err, result.StatusSkipped
		} else {
			dr.fail(fmt.Errorf("open: %w", err))
		}
		return
	}
	dr.inst, dr.sn = inst, inst.Snapshotter()
	b := inst.Backing()
	if b.Hidden != "" {
		// Its snapshots are where only the snapshotter knows (a user's proxy snapshotter): the run
		// measures every call and file operation, and says what it could not measure.
		dr.unmeasured = append(dr.unmeasured, result.Unmeasured{Metrics: backingMetrics, Reason: b.Hidden})
		return
	}
	if err := measure.Sync(b.Path); err != nil {
		dr.fail(err)
		return
	}
	if dr.base, err = measure.DiskUsed(b.Path); err != nil {
		dr.fail(err)
	}
}

// closeDrivers closes every opened driver — its containers unmounted, its snapshots, snapshotter and
// backing gone — side by side (nothing is timed any more), and returns every error.
func (e *engine) closeDrivers(ctx context.Context) error {
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for _, d := range e.drvs {
		if d.inst == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			defer d.charge("close", time.Now())
			e.unmountAll(ctx, d)
			if err := d.inst.Close(ctx); err != nil {
				mu.Lock()
				if d.status == result.StatusFailed {
					// Part of the failure already recorded (a daemon that died, a full disk): the
					// driver's reason says what its close could not undo, and the run goes on.
					d.err = fmt.Errorf("%w; then close: %w", d.err, err)
				} else {
					errs = append(errs, fmt.Errorf("close driver %s: %w", d.info.Name, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// finish fills the run's drivers, metrics and summaries.
func (e *engine) finish() {
	e.res.Run.Finished = e.opt.Now().UTC()
	e.res.Drivers = e.res.Drivers[:0]
	for _, d := range e.drvs {
		dr := result.DriverResult{Name: d.info.Name, Status: d.status, Version: d.info.Version, Options: d.info.Options,
			Capabilities: result.Capabilities(d.info.Capabilities)}
		if d.err != nil {
			dr.Reason = d.err.Error()
		}
		dr.Unmeasured = d.unmeasured
		if d.inst != nil {
			b := result.Backing(d.inst.Backing()) // the result's own record: the file format is not the driver API
			dr.Backing = &b
		}
		if !d.started.IsZero() {
			dr.Seconds = d.elapsed.Seconds()
			dr.PhaseSeconds = make(map[string]float64, len(d.phases))
			for ph, t := range d.phases {
				dr.PhaseSeconds[ph] = t.Seconds()
			}
		}
		e.res.Drivers = append(e.res.Drivers, dr)
		e.res.Checks = append(e.res.Checks, d.checks...)
	}
	e.markNoisy()
	e.res.Metrics = e.rec.list()
	if s := e.opt.Shard; s != nil && s.Index > 1 {
		// Shard 1 keeps what was measured outside the workload ops; the others, only their ops'.
		kept := e.res.Metrics[:0]
		for _, m := range e.res.Metrics {
			if strings.HasPrefix(e.rec.phaseOf[result.MetricKey(m.Driver, m.Name, m.Params)], "workload/") {
				kept = append(kept, m)
			}
		}
		e.res.Metrics = kept
	}
	stats.AnnotateAll(e.res)
	e.res.Fits = stats.Fits(e.res)
}

// engineTime adds the time since t0 to the engine's own phase (result Run.EngineSeconds): work the
// run does outside every driver's clock — building trees, publishing layers, the floors' turns,
// write-backs between steps, the machine's noise probes.
func (e *engine) engineTime(phase string, t0 time.Time) {
	if e.res.Run.EngineSeconds == nil {
		e.res.Run.EngineSeconds = map[string]float64{}
	}
	e.res.Run.EngineSeconds[phase] += time.Since(t0).Seconds()
}

// charge adds the time since t0 to the driver's elapsed time and to phase.
func (d *driverRun) charge(phase string, t0 time.Time) {
	dt := time.Since(t0)
	d.elapsed += dt
	d.phases[phase] += dt
}

func (d *driverRun) check(what string, ok bool, detail string) {
	d.checks = append(d.checks, result.Check{Driver: d.info.Name, What: what, OK: ok, Detail: detail})
}

func faultSpecs(fs []fault.Fault) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Spec)
	}
	return out
}
