package replay

import (
	"context"
	"fmt"
	"path"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/units"
)

// runner runs one op of the workload on every active driver.
type runner func(e *engine, ctx context.Context, op *scenario.PlanOp) error

// runners are the engine's half of each op kind (the scenario package holds the other: its keys,
// checks, defaults and files). TestRunners checks every kind has one.
var runners = map[scenario.OpKind]runner{
	scenario.OpCreate: (*engine).opCreate,
	scenario.OpLookup: (*engine).opLookup,
	scenario.OpRead:   (*engine).opRead,
	scenario.OpModify: (*engine).opModify,
	scenario.OpDelete: (*engine).opDelete,
	scenario.OpRename: (*engine).opRename,
	scenario.OpTrace:  (*engine).opTrace,
	scenario.OpPull:   (*engine).opPull,
}

// runWorkload runs every op of the plan on every driver.
func (e *engine) runWorkload(ctx context.Context) error {
	for i := range e.plan.Ops {
		op := &e.plan.Ops[i]
		if !e.opt.Shard.Holds(i) {
			continue
		}
		run := runners[op.Op]
		if run == nil {
			return fmt.Errorf("workload[%d]: no runner for op %q", op.Index, op.Op)
		}
		e.progress("", "workload", string(op.Op), i, len(e.plan.Ops))
		e.phase = "workload/" + string(op.Op)
		marks := e.ioMark()
		e.probeNoise(fmt.Sprintf("workload[%d] %s", op.Index, op.Op), 0)
		runtime.GC()
		if err := run(e, ctx, op); err != nil {
			return err
		}
		e.ioStep(fmt.Sprintf("%s/%d", op.Op, op.Index), marks)
	}
	return nil
}

// first returns d's first container of image.
func (d *driverRun) first(image string) (*container, error) {
	cs := d.ctrs[image]
	if len(cs) == 0 {
		return nil, fmt.Errorf("no container of image %s", image)
	}
	return cs[0], nil
}

// rounds runs n sample rounds; each round visits the active drivers in a fresh random order, with
// the floor's turn (floorFn, nil = none) among them.
func (e *engine) rounds(ctx context.Context, phase string, n int, fn func(d *driverRun, round int) error, floorFn func(round int) error) error {
	for r := 0; r < n; r++ {
		e.progress("", "workload", phase, r, n)
		if err := e.eachFloor(ctx, floorAt(floorFn, r), func(d *driverRun) error { return fn(d, r) }); err != nil {
			return err
		}
	}
	return nil
}

// floorAt binds a round to a floor function (nil stays nil).
func floorAt(fn func(round int) error, r int) func() error {
	if fn == nil {
		return nil
	}
	return func() error { return fn(r) }
}

// createID is the content identity of a file the workload creates.
func createID(op, i int, size units.Size) uint64 {
	return 0xc0de<<48 | uint64(op)<<32 | uint64(i)<<8 ^ uint64(size)
}

// opCreate times open(O_CREAT|O_EXCL)+write+close of new files in the container layer, in a
// directory made (untimed) in the container beforehand.
func (e *engine) opCreate(ctx context.Context, op *scenario.PlanOp) error {
	for _, img := range op.Images {
		for _, size := range op.Sizes {
			params := p(metric.PSize, size.String(), metric.PImage, img)
			dir := fmt.Sprintf("seedbench-create/%d-%s", op.Index, size)
			type state struct {
				ct    *container
				dirfd int
			}
			st := map[*driverRun]*state{}
			names := make([]*byte, op.Count)
			bufs := make([][]byte, op.Count)
			for i := range names {
				names[i] = mustPtr(fmt.Sprintf("c%05d", i))
				bufs[i] = make([]byte, size)
				layer.Content(createID(op.Index, i, size), 0, bufs[i])
			}
			err := e.each(ctx, func(d *driverRun) error {
				ct, err := d.first(img)
				if err != nil {
					return err
				}
				if err := ct.root.mkdirAll(dir); err != nil {
					return err
				}
				if err := viewMkdirAll(ct.view, dir); err != nil {
					return err
				}
				fd, err := ct.root.open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
				if err != nil {
					return err
				}
				st[d] = &state{ct, fd}
				return nil
			})
			if err != nil {
				return err
			}
			floorFd, floorFn := -1, (func(int) error)(nil)
			if f := e.floor; f != nil {
				fdir := fmt.Sprintf("create-%d-%s-%s", op.Index, img, size)
				if err := f.root.mkdirAll(fdir); err != nil {
					e.floorFail("create", err)
				} else if floorFd, err = f.root.open(fdir, unix.O_PATH|unix.O_DIRECTORY, 0); err != nil {
					e.floorFail("create", err)
				} else {
					floorFn = func(i int) error {
						el, en := createFile(floorFd, names[i], bufs[i])
						if en != 0 {
							return fmt.Errorf("create %s/c%05d: %w", fdir, i, en)
						}
						e.recordFloor(metric.FloorCreate, p(metric.PSize, size.String()), el)
						return nil
					}
				}
			}
			err = e.rounds(ctx, "create "+size.String(), op.Count, func(d *driverRun, i int) error {
				s := st[d]
				if s == nil {
					return nil
				}
				el, en := createFile(s.dirfd, names[i], bufs[i])
				if en != 0 {
					return fmt.Errorf("create %s/c%05d: %w", dir, i, en)
				}
				e.rec.ns(d.info.Name, metric.OpCreate, params, el)
				return s.ct.view.Created(fmt.Sprintf("%s/c%05d", dir, i), int64(size), createID(op.Index, i, size))
			}, floorFn)
			for _, s := range st {
				unix.Close(s.dirfd)
			}
			if floorFd >= 0 {
				unix.Close(floorFd)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// createFile times open(O_CREAT|O_EXCL) + write + close of name in dirfd.
func createFile(dirfd int, name *byte, buf []byte) (time.Duration, unix.Errno) {
	t0 := time.Now()
	fd, en := openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
	if en == 0 {
		_, en = write(fd, buf)
		if cerr := closefd(fd); en == 0 {
			en = cerr
		}
	}
	return time.Since(t0), en
}

// lookupPoint is one (kind, depth) of a lookup op with its probe paths.
type lookupPoint struct {
	params map[string]string
	paths  []cpath
}

// statBatch stats every path once and returns the mean time per stat. Every path must exist (hit) or
// not (miss) as expected; a surprise is an error, because then the figure measures something else.
func statBatch(rootfd int, paths []cpath, reps int, hit bool) (time.Duration, error) {
	var st unix.Stat_t
	var bad unix.Errno
	badAt := -1
	t0 := time.Now()
	for r := 0; r < reps; r++ {
		for i := range paths {
			if en := fstatat(rootfd, paths[i].ptr, &st); (en == 0) != hit && badAt < 0 {
				bad, badAt = en, i
			}
		}
	}
	el := time.Since(t0)
	if badAt >= 0 {
		if hit {
			return 0, fmt.Errorf("lookup %s: expected to exist: %v", paths[badAt].rel, bad)
		}
		return 0, fmt.Errorf("lookup %s: expected to be missing, but it exists", paths[badAt].rel)
	}
	return el / time.Duration(reps*len(paths)), nil
}

// warmReps repeats a warm batch so it lasts well above the timer's resolution (a warm stat is ~2 µs).
const warmReps = 8

// opLookup times stat of paths found at each depth of the image (or missing), in three cache modes:
//
//   - warm: the same mount, right after a warm-up pass; batches of stats, reported per stat.
//   - mount: a fresh mount of the container per sample, so the snapshotter's dentries are empty while
//     the backing filesystem's are warm: what a newly started container sees. Each path is touched
//     once per mount.
//   - cold: as mount, after dropping dentries and inodes (global drop_caches=2, recorded) and the
//     backing device's buffer cache, so the backing filesystem reads its directories again.
//
// In every mode the probe directory itself is looked up first, untimed: the figure is the cost of
// the last path component, at the given depth.
func (e *engine) opLookup(ctx context.Context, op *scenario.PlanOp) error {
	for _, imgName := range op.Images {
		img := e.image(imgName)
		var points []lookupPoint
		layers := strconv.Itoa(len(img.Chain))
		for _, kind := range op.Kinds {
			if kind == metric.LookupMiss {
				cp, err := cpaths(op.Missing)
				if err != nil {
					return err
				}
				points = append(points, lookupPoint{p(metric.PKind, metric.LookupMiss, metric.PLayers, layers, metric.PImage, imgName), cp})
				continue
			}
			for _, depth := range op.Depths {
				cp, err := cpaths(op.Probes[imgName][depth])
				if err != nil {
					return err
				}
				if len(cp) == 0 {
					continue
				}
				points = append(points, lookupPoint{p(metric.PKind, metric.LookupHit, metric.PDepth, strconv.Itoa(depth), metric.PLayers, layers, metric.PImage, imgName), cp})
			}
		}
		if len(points) == 0 {
			continue
		}
		probeDir := mustPtr(path.Dir(points[0].paths[0].rel))
		for _, cache := range op.Caches {
			var err error
			switch cache {
			case metric.CacheWarm:
				err = e.lookupWarm(ctx, op, imgName, points)
			case metric.CacheMount, metric.CacheCold:
				err = e.lookupFresh(ctx, op, imgName, points, probeDir, cache)
			default:
				err = fmt.Errorf("lookup: unknown cache mode %q", cache)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func withCache(params map[string]string, cache string) map[string]string {
	out := make(map[string]string, len(params)+1)
	for k, v := range params {
		out[k] = v
	}
	out[metric.PCache] = cache
	return out
}

func (e *engine) lookupWarm(ctx context.Context, op *scenario.PlanOp, img string, points []lookupPoint) error {
	// Every round measures every point, in a fresh random order: drift over the op lands on all
	// depths alike instead of masquerading as a cost of depth.
	params := make([]map[string]string, len(points))
	for i, pt := range points {
		params[i] = withCache(pt.params, metric.CacheWarm)
	}
	// A step is one point: the drivers of a pair take it back to back (sampleSteps).
	return e.sampleSteps(ctx, "lookup warm", op, metric.OpLookup, params, func(d *driverRun, r, i int) error {
		ct, err := d.first(img)
		if err != nil {
			return err
		}
		pt := points[i]
		hit := pt.params[metric.PKind] == metric.LookupHit
		// Warm up right before measuring: the kernel pages out what sat idle.
		for w := 0; w < max(1, e.plan.Warmup); w++ {
			if _, err := statBatch(ct.root.fd, pt.paths, 1, hit); err != nil {
				return err
			}
		}
		per, err := statBatch(ct.root.fd, pt.paths, warmReps, hit)
		if err != nil {
			return err
		}
		e.rec.ns(d.info.Name, metric.OpLookup, params[i], per)
		return nil
	}, e.floorLookups(points, metric.CacheWarm, warmReps))
}

// floorLookups is the floor of a round of lookups of points: a stat of as many plain files (or
// missing names) per kind the points look up.
func (e *engine) floorLookups(points []lookupPoint, cache string, reps int) func(int) error {
	return func(int) error {
		done := map[string]bool{}
		for _, pt := range points {
			kind := pt.params[metric.PKind]
			if done[kind] {
				continue
			}
			done[kind] = true
			if err := e.floorStats(kind, cache, len(pt.paths), reps); err != nil {
				return err
			}
		}
		return nil
	}
}

func (e *engine) lookupFresh(ctx context.Context, op *scenario.PlanOp, img string, points []lookupPoint, probeDir *byte, cache string) error {
	// In mount mode one fresh mount serves every point (each path is touched once); in cold mode each
	// point gets its own eviction, so no point inherits another's warmed directories.
	groups := [][]lookupPoint{points}
	if cache == metric.CacheCold {
		groups = groups[:0]
		for _, pt := range points {
			groups = append(groups, []lookupPoint{pt})
		}
	}
	var all []map[string]string
	for _, pt := range points {
		all = append(all, withCache(pt.params, cache))
	}
	for r := 0; r < op.MaxSamples; r++ {
		if r >= op.Samples && e.converged(metric.OpLookup, all) {
			break
		}
		for _, g := range groups {
			ds := e.active()
			for _, d := range ds {
				ct, err := d.first(img)
				if err != nil {
					d.fail(err)
					continue
				}
				// Warm the backing filesystem right before the fresh mount (its dentries, inodes
				// and metadata blocks: the kernel pages out what sat idle), through the old mount,
				// so `mount` differs from `warm` by the snapshotter's own caches alone.
				for _, pt := range g {
					if _, err := statBatch(ct.root.fd, pt.paths, 1, pt.params[metric.PKind] == metric.LookupHit); err != nil {
						d.fail(err)
					}
				}
				if err := e.remount(ctx, d, ct); err != nil {
					d.fail(err)
				}
			}
			if cache == metric.CacheCold {
				if err := e.evictMetadata(ctx, ds); err != nil {
					return err
				}
			}
			err := e.eachFloor(ctx, floorAt(e.floorLookups(g, cache, 1), r), func(d *driverRun) error {
				ct, err := d.first(img)
				if err != nil {
					return err
				}
				var st unix.Stat_t
				if en := fstatat(ct.root.fd, probeDir, &st); en != 0 {
					return fmt.Errorf("lookup: probe dir: %w", en)
				}
				order := e.rng.Perm(len(g))
				for _, i := range order {
					pt := g[i]
					per, err := statBatch(ct.root.fd, pt.paths, 1, pt.params[metric.PKind] == metric.LookupHit)
					if err != nil {
						return err
					}
					e.rec.ns(d.info.Name, metric.OpLookup, withCache(pt.params, cache), per)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		e.progress("", "workload", "lookup "+cache, r+1, op.Samples)
	}
	return nil
}

// viewMkdirAll records in v the directories mkdirAll made.
func viewMkdirAll(v *layer.View, dir string) error {
	cur := ""
	for _, c := range splitPath(dir) {
		cur = path.Join(cur, c)
		if _, ok := v.Lookup(cur); ok {
			continue
		}
		if err := v.Mkdir(cur, 0o755); err != nil {
			return err
		}
	}
	return nil
}

func (e *engine) image(name string) *scenario.PlanImage { return e.plan.Image(name) }
