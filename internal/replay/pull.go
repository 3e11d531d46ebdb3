package replay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/network"
	"github.com/seedbench/seedbench/internal/pull"
	"github.com/seedbench/seedbench/internal/scenario"
)

// puller is how d pulls an image: itself when it is a drivers.Puller (a lazy snapshotter), else the
// full pull of internal/pull through its snapshotter.
func (d *driverRun) puller() drivers.Puller {
	if p, ok := d.inst.(drivers.Puller); ok {
		return p
	}
	if d.full == nil {
		d.full = pull.Full(d.inst, filepath.Join(d.dir, "pulls"))
	}
	return d.full
}

// opPull pulls each image afresh, over each of the op's networks, on every driver, and then runs
// the startup workload (a trace) in a container of it. Each driver pulls with its drivers.Puller —
// a full pull (fetch, verify, decompress, apply, commit each layer) for the drivers the engine
// writes layers into, a lazy one (mount each layer from the registry) for a remote snapshotter —
// from the image as the build published it in the puller's format (outside every clock), through
// a proxy of the pull's own shaped to the network, whose count is the bytes fetched. The clock
// wraps Pull.Prepare and the mount of the container's snapshot: nothing of a pull is shared with
// the image the drivers built or with another pull (fresh snapshot keys, fresh caches). The dirty
// pages a pull leaves are written back after pull.ready is taken (a pull does not wait for them)
// and before the workload.
func (e *engine) opPull(ctx context.Context, op *scenario.PlanOp) error {
	for _, img := range op.Images {
		pi := e.image(img)
		if pi == nil {
			return fmt.Errorf("pull: no image %s", img)
		}
		ds := e.active()
		if len(ds) == 0 {
			return nil
		}
		works, err := e.startups(ds, op, img)
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		names := make([]string, len(pi.Chain))
		for k, l := range pi.Chain {
			names[k] = layerName(l)
		}
		buf := make([]byte, 1<<20)
		for _, net := range op.Networks {
			for _, w := range works {
				if err := e.pullRounds(ctx, op, img, names, net, w, buf); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// startup is a pull's startup workload: the accesses run in the container right after the pull,
// the parameter that names it (trace=NAME, or read_pct=N) and the metrics it records.
type startup struct {
	entries                []scenario.TraceEntry
	key, value             string
	ready, done, fetched   metric.ID
	workload, first, share metric.ID // zero for a read_share workload: it records ready, done, fetched share
}

// startups are op's startup workloads in img: its trace (the mapped files read at the pages the
// program faulted in, when the trace has them), with the trace's counts recorded beside the pull's;
// or one workload per read share.
func (e *engine) startups(ds []*driverRun, op *scenario.PlanOp, img string) ([]startup, error) {
	files, bytes := imageFiles(e.views[img])
	if t := op.Trace; t != nil {
		probe, err := probeIn(ds[0], img, t)
		if err != nil {
			return nil, err
		}
		qp := p(metric.PImage, img, metric.PTrace, t.Name)
		for _, d := range ds {
			if e.rec.find(d.info.Name, metric.TraceBytes, qp) == nil {
				e.rec.add(d.info.Name, metric.TraceFiles, qp, float64(len(probe.files)))
				e.rec.add(d.info.Name, metric.TraceBytes, qp, float64(probe.bytes))
				if files > 0 && bytes > 0 {
					e.rec.add(d.info.Name, metric.TraceShareBytes, qp, float64(probe.bytes)/float64(bytes))
				}
			}
			e.recordPages(d, t, qp, bytes)
		}
		return []startup{{entries: t.Faulted(probe.kept), key: metric.PTrace, value: t.Name,
			ready: metric.PullReady, done: metric.PullDone, share: metric.PullShare,
			workload: metric.PullWorkload, first: metric.PullFirstRead}}, nil
	}
	var out []startup
	for _, pct := range op.ReadShares {
		out = append(out, startup{entries: shareWorkload(e.views[img], bytes, pct, e.plan.Seed), key: metric.PReadPct, value: strconv.Itoa(pct),
			ready: metric.BreakEvenReady, done: metric.BreakEvenDone, share: metric.BreakEvenShare})
	}
	return out, nil
}

// shareWorkload reads pct% of an image's bytes (imageBytes): its regular files in an order drawn
// from seed, each opened and read whole, the last one as far as the share goes. The same seed and
// image give the same files, so every driver and round reads the same bytes, and a larger share
// reads a smaller one's files and more.
func shareWorkload(v *layer.View, imageBytes int64, pct int, seed int64) []scenario.TraceEntry {
	var ps []string
	for _, pth := range v.Paths() {
		if en, ok := v.Lookup(pth); ok && en.Kind == layer.File && en.Size > 0 {
			ps = append(ps, pth)
		}
	}
	rand.New(rand.NewPCG(uint64(seed), 0x5eed)).Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	budget := imageBytes * int64(pct) / 100
	var out []scenario.TraceEntry
	for _, pth := range ps {
		if budget <= 0 {
			break
		}
		en, _ := v.Lookup(pth)
		n := min(en.Size, budget)
		abs := "/" + strings.TrimPrefix(pth, "/")
		out = append(out, scenario.TraceEntry{Op: scenario.TraceOpen, Path: abs, Follow: true},
			scenario.TraceEntry{Op: scenario.TraceRead, Path: abs, Len: n, Follow: true})
		budget -= n
	}
	return out
}

// pullRounds runs op's rounds of pulls of img over net with startup workload w on every driver.
func (e *engine) pullRounds(ctx context.Context, op *scenario.PlanOp, img string, names []string, net network.Profile, w startup, buf []byte) error {
	params := p(metric.PImage, img, metric.PNetwork, net.String())
	wparams := p(metric.PImage, img, w.key, w.value, metric.PNetwork, net.String())
	if w.workload == "" {
		params = wparams // a read share: its ready is recorded by share, as its done
	}
	for r := 0; r < op.Samples; r++ {
		e.progress("", "workload", "pull "+img+" over "+net.String()+" ("+w.key+" "+w.value+")", r, op.Samples)
		if err := e.eachOf(ctx, e.active(), func(d *driverRun) error {
			puller := d.puller()
			pub, err := e.pub.Published(puller.Format(), names)
			if err != nil {
				return fmt.Errorf("pull %s: %w", img, err)
			}
			if ip := p(metric.PImage, img); e.rec.find(d.info.Name, metric.PullImageBytes, ip) == nil {
				e.rec.add(d.info.Name, metric.PullImageBytes, ip, float64(pub.Bytes()))
			}
			e.pulls++
			mnt := filepath.Join(d.dir, "mnt", fmt.Sprintf("pull-%d", e.pulls))
			heap := startHeap()
			ready, fetched, release, err := e.timePull(ctx, d, puller, pub, net, mnt)
			lazyCheck := fmt.Sprintf("pull %s over %s (%s %s): every layer mounted lazily", img, net, w.key, w.value)
			if err != nil {
				heap.end()
				if errors.Is(err, drivers.ErrNotLazy) {
					d.check(lazyCheck, false, err.Error())
				}
				return fmt.Errorf("pull %s over %s: %w", img, net, err)
			}
			defer release()
			if _, lazy := d.inst.(drivers.Puller); lazy && r == 0 {
				d.check(lazyCheck, true, fmt.Sprintf("all %d layers mounted from the registry", len(names)))
			}
			perEntry := make([]time.Duration, len(w.entries))
			el, err := chrootDo(mnt, func() (time.Duration, error) { return replayTrace(w.entries, buf, perEntry) })
			if err != nil {
				heap.end()
				return fmt.Errorf("pull %s over %s: %s %s: %w", img, net, w.key, w.value, err)
			}
			got := fetched()
			peak, after := heap.end()
			e.rec.add(d.info.Name, metric.PullHeapPeak, wparams, float64(peak))
			e.rec.add(d.info.Name, metric.PullHeapAfter, wparams, float64(after))
			e.rec.ns(d.info.Name, w.ready, params, ready)
			e.rec.ns(d.info.Name, w.done, wparams, ready+el)
			if w.workload != "" {
				e.rec.ns(d.info.Name, w.workload, wparams, el)
				// Each file's opens and reads, summed by path.
				perFile := map[string]time.Duration{}
				for i, en := range w.entries {
					if en.Op == scenario.TraceOpen || en.Op == scenario.TraceRead {
						perFile[en.Path] += perEntry[i]
					}
				}
				for _, f := range slices.Sorted(maps.Keys(perFile)) {
					e.rec.ns(d.info.Name, w.first, wparams, perFile[f])
				}
				e.rec.add(d.info.Name, metric.PullFetched, wparams, float64(got))
			}
			if b := pub.Bytes(); b > 0 {
				e.rec.add(d.info.Name, w.share, wparams, float64(got)/float64(b))
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// timePull pulls img on d with puller over net and mounts a container of it at mnt (made
// beforehand): ready is the time from the start of the pull to the mounted container. The node the
// pull starts from (its snapshotter or fetcher, its shaped link) is made before the clock, as a
// node already runs its snapshotter. release unmounts and removes everything the pull made.
func (e *engine) timePull(ctx context.Context, d *driverRun, puller drivers.Puller, img drivers.Published, net network.Profile, mnt string) (ready time.Duration, fetched func() int64, release func(), err error) {
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return 0, nil, nil, err
	}
	pl, err := puller.Pull(ctx, img, net)
	if err != nil {
		return 0, nil, nil, err
	}
	cleanup := context.WithoutCancel(ctx)
	key := filepath.Base(mnt) + "/container"
	t0 := time.Now()
	ms, err := pl.Prepare(ctx, key)
	if err == nil {
		err = d.inst.Mount(ctx, ms, mnt)
	}
	ready = time.Since(t0)
	if err != nil {
		return 0, nil, nil, errors.Join(err, pl.Close(cleanup))
	}
	release = func() {
		if err := errors.Join(d.inst.Unmount(cleanup, mnt), pl.Close(cleanup)); err != nil {
			d.fail(fmt.Errorf("release the pull at %s: %w", mnt, err))
		}
	}
	if err := measure.Sync(mnt); err != nil {
		release()
		return 0, nil, nil, err
	}
	return ready, pl.Fetched, release, nil
}
