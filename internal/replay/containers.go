package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
)

// startContainers starts the containers of every image on every driver, one count at a time, and
// measures disk use with the images alone and after each count of the container sweep.
func (e *engine) startContainers(ctx context.Context) error {
	if err := e.measureDisk(ctx, e.plan.Images, 0); err != nil {
		return err
	}
	maxC := 0
	for _, img := range e.plan.Images {
		maxC = max(maxC, img.Containers)
	}
	sweep := map[int]bool{}
	for _, c := range e.plan.Containers {
		sweep[c] = true
	}
	sweep[maxC] = true
	for c := 1; c <= maxC; c++ {
		for i := range e.plan.Images {
			img := &e.plan.Images[i]
			if c > img.Containers {
				continue
			}
			e.progress("", "containers", img.Name, c, maxC)
			err := e.eachFloor(ctx, e.floorFlushFn("containers"), func(d *driverRun) error {
				ct, err := e.startContainer(ctx, d, img, fmt.Sprintf("ctr/%s/%d", img.Name, c), p(metric.PContainer, img.Name))
				if err != nil {
					return err
				}
				d.ctrs[img.Name] = append(d.ctrs[img.Name], ct)
				return nil
			})
			if err != nil {
				return err
			}
		}
		if sweep[c] {
			if err := e.measureDisk(ctx, e.plan.Images, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// startContainer prepares and mounts an active snapshot on the image's top layer. params nil: the
// lifecycle calls are not recorded (fresh containers made for a measurement).
func (e *engine) startContainer(ctx context.Context, d *driverRun, img *scenario.PlanImage, key string, params map[string]string) (*container, error) {
	ct := &container{key: key, image: img, mnt: filepath.Join(d.dir, "mnt", sanitize(key))}
	if err := os.MkdirAll(ct.mnt, 0o755); err != nil {
		return nil, err
	}
	t0 := time.Now()
	mounts, err := d.sn.Prepare(ctx, key, layerName(img.Top))
	el := time.Since(t0)
	if err != nil {
		return nil, fmt.Errorf("container %s: prepare: %w", key, err)
	}
	ct.mounts = mounts
	if params != nil {
		e.rec.ns(d.info.Name, metric.SnapshotPrepare, params, el)
	}
	if err := e.mountContainer(ctx, d, ct, params); err != nil {
		d.sn.Remove(context.WithoutCancel(ctx), key)
		return nil, err
	}
	ct.view = e.views[img.Name].Clone()
	return ct, nil
}

// mountContainer mounts ct (recording snapshot.mount when params is non-nil) and opens its root.
func (e *engine) mountContainer(ctx context.Context, d *driverRun, ct *container, params map[string]string) error {
	t0 := time.Now()
	err := d.inst.Mount(ctx, ct.mounts, ct.mnt)
	el := time.Since(t0)
	if err != nil {
		return fmt.Errorf("container %s: mount: %w", ct.key, err)
	}
	ct.up = true
	if params != nil {
		e.rec.ns(d.info.Name, metric.SnapshotMount, params, el)
	}
	r, err := openRoot(ct.mnt)
	if err != nil {
		e.unmountContainer(ctx, d, ct)
		return err
	}
	ct.root = r
	return nil
}

func (e *engine) unmountContainer(ctx context.Context, d *driverRun, ct *container) error {
	ct.root.close()
	ct.root = nil
	if !ct.up {
		return nil
	}
	if err := d.inst.Unmount(ctx, ct.mnt); err != nil {
		return fmt.Errorf("container %s: unmount: %w", ct.key, err)
	}
	ct.up = false
	return nil
}

// remount gives ct a fresh mount: the snapshotter's own caches (overlay's dentries) start empty while
// the backing filesystem's stay as they were.
func (e *engine) remount(ctx context.Context, d *driverRun, ct *container) error {
	if err := e.unmountContainer(ctx, d, ct); err != nil {
		return err
	}
	return e.mountContainer(ctx, d, ct, nil)
}

// removeContainer unmounts ct and removes its snapshot (recording snapshot.remove when params is
// non-nil).
func (e *engine) removeContainer(ctx context.Context, d *driverRun, ct *container, params map[string]string) error {
	if err := e.unmountContainer(ctx, d, ct); err != nil {
		return err
	}
	t0 := time.Now()
	err := d.sn.Remove(ctx, ct.key)
	el := time.Since(t0)
	if err != nil {
		return fmt.Errorf("container %s: remove: %w", ct.key, err)
	}
	if params != nil {
		e.rec.ns(d.info.Name, metric.SnapshotRemove, params, el)
	}
	return nil
}

// unmountAll unmounts every container of d (used on teardown and on error paths).
func (e *engine) unmountAll(ctx context.Context, d *driverRun) {
	for _, cs := range d.ctrs {
		for _, ct := range cs {
			e.unmountContainer(ctx, d, ct)
		}
	}
}

// measureDisk records disk.used and disk.shared_savings of the images imgs with `per` containers
// per image started (0 = the images alone), from a statfs delta of each driver's dedicated backing
// after a sync.
func (e *engine) measureDisk(ctx context.Context, imgs []scenario.PlanImage, per int) error {
	total, unshared := 0, int64(0)
	imageBytes := map[string]int64{}
	for _, l := range e.res.Layers {
		imageBytes[l.Name] = l.DiskBytes
	}
	unique := map[string]bool{}
	var uniqueBytes int64
	for _, img := range imgs {
		n := min(per, img.Containers)
		total += n
		var chain int64
		for _, l := range img.Chain {
			chain += imageBytes[l]
			if !unique[l] {
				unique[l] = true
				uniqueBytes += imageBytes[l]
			}
		}
		// Nothing shared: every image a full copy of its chain, every container a full copy of its
		// image.
		unshared += chain * int64(1+n)
	}
	params := p(metric.PImages, strconv.Itoa(len(imgs)), metric.PContainers, strconv.Itoa(total))
	return e.each(ctx, func(d *driverRun) error {
		b := d.inst.Backing()
		if b.Hidden != "" {
			return nil // recorded as unmeasured when it opened
		}
		if err := measure.Sync(b.Path); err != nil {
			return err
		}
		u, err := measure.DiskUsed(b.Path)
		if err != nil {
			return err
		}
		used := float64(u.Bytes - d.base.Bytes)
		e.rec.add(d.info.Name, metric.DiskUsed, params, used)
		e.rec.add(d.info.Name, metric.DiskInodes, params, float64(u.Inodes-d.base.Inodes))
		e.rec.add(d.info.Name, metric.DiskSharedSavings, params, 1-used/float64(unshared))
		e.rec.add(d.info.Name, metric.DiskVsUnique, params, used/float64(uniqueBytes))
		if !b.Dedicated {
			e.rec.warn(d.info.Name, metric.DiskUsed, params,
				result.Warning{Kind: result.WarnSharedBacking, Text: "backing is not dedicated: other writers may pollute the statfs delta"})
		}
		return nil
	})
}

func sanitize(key string) string {
	b := []byte(key)
	for i, c := range b {
		if c == '/' {
			b[i] = '-'
		}
	}
	return string(b)
}
