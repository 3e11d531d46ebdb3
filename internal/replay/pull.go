package replay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/seedbench/seedbench/drivers"
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
	t := op.Trace
	for _, img := range op.Images {
		pi := e.image(img)
		if pi == nil {
			return fmt.Errorf("pull: no image %s", img)
		}
		ds := e.active()
		if len(ds) == 0 {
			return nil
		}
		probe, err := probeIn(ds[0], img, t)
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		names := make([]string, len(pi.Chain))
		for k, l := range pi.Chain {
			names[k] = layerName(l)
		}
		buf := make([]byte, 1<<20)
		for _, net := range op.Networks {
			params := p(metric.PImage, img, metric.PNetwork, net.String())
			wparams := p(metric.PImage, img, metric.PTrace, t.Name, metric.PNetwork, net.String())
			for r := 0; r < op.Samples; r++ {
				e.progress("", "workload", "pull "+img+" over "+net.String(), r, op.Samples)
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
					lazyCheck := fmt.Sprintf("pull %s over %s: every layer mounted lazily", img, net)
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
					perEntry := make([]time.Duration, len(probe.kept))
					el, err := chrootDo(mnt, func() (time.Duration, error) { return replayTrace(probe.kept, buf, perEntry) })
					if err != nil {
						heap.end()
						return fmt.Errorf("pull %s over %s: trace %s: %w", img, net, t.Name, err)
					}
					got := fetched()
					peak, after := heap.end()
					e.rec.add(d.info.Name, metric.PullHeapPeak, wparams, float64(peak))
					e.rec.add(d.info.Name, metric.PullHeapAfter, wparams, float64(after))
					e.rec.ns(d.info.Name, metric.PullReady, params, ready)
					e.rec.ns(d.info.Name, metric.PullWorkload, wparams, el)
					e.rec.ns(d.info.Name, metric.PullDone, wparams, ready+el)
					// Each file's opens and reads, summed by path.
					perFile := map[string]time.Duration{}
					for i, en := range probe.kept {
						if en.Op == scenario.TraceOpen || en.Op == scenario.TraceRead {
							perFile[en.Path] += perEntry[i]
						}
					}
					for _, f := range slices.Sorted(maps.Keys(perFile)) {
						e.rec.ns(d.info.Name, metric.PullFirstRead, wparams, perFile[f])
					}
					e.rec.add(d.info.Name, metric.PullFetched, wparams, float64(got))
					if b := pub.Bytes(); b > 0 {
						e.rec.add(d.info.Name, metric.PullShare, wparams, float64(got)/float64(b))
					}
					return nil
				}); err != nil {
					return err
				}
			}
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
