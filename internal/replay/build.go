package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/scenario"
)

// Snapshot names. Committed layers are "layer/<name>"; active ones carry their purpose.
func layerName(l string) string { return "layer/" + l }

// each runs fn for every active driver in a fresh random order, charging the time to the driver and
// failing it (not the run) on error. It stops early when ctx is done.
func (e *engine) each(ctx context.Context, fn func(d *driverRun) error) error {
	return e.eachOf(ctx, e.active(), fn)
}

// eachFloor is each with the floor's turn (floorFn) at a random place among the drivers, so the
// floor shares the round's moment of the machine. A floor that fails stops the floors, not the run.
func (e *engine) eachFloor(ctx context.Context, floorFn func() error, fn func(d *driverRun) error) error {
	return e.eachOfFloor(ctx, e.active(), floorFn, fn)
}

// eachOfFloor is eachFloor over ds.
func (e *engine) eachOfFloor(ctx context.Context, ds []*driverRun, floorFn func() error, fn func(d *driverRun) error) error {
	if e.floor == nil || floorFn == nil || len(ds) == 0 {
		return e.eachOf(ctx, ds, fn)
	}
	at := e.rng.IntN(len(ds) + 1)
	for e.splits(ds, at) { // the floor goes between groups of pairs, never inside one
		at++
	}
	if err := e.eachOf(ctx, ds[:at], fn); err != nil {
		return err
	}
	t0 := time.Now()
	err := floorFn()
	e.engineTime("floor", t0)
	if err != nil {
		e.floorFail(e.phase, err)
	}
	return e.eachOf(ctx, ds[at:], fn)
}

// eachOf is each over ds.
func (e *engine) eachOf(ctx context.Context, ds []*driverRun, fn func(d *driverRun) error) error {
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		err := fn(d)
		d.charge(e.phase, t0)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			d.fail(err)
		}
	}
	return nil
}

// eachAtOnce runs fn for every driver in ds side by side (at most one per CPU), for work no timer
// wraps — verifying views, handing over layers, setting caches before a round: nothing is measured
// while it runs, so the drivers need not take turns. Each driver is charged its own time (so the
// drivers' phase times add up to more than the wall time there), and failed, not the run, on error.
func (e *engine) eachAtOnce(ctx context.Context, ds []*driverRun, fn func(d *driverRun) error) error {
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for _, d := range ds {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			err := fn(d)
			d.charge(e.phase, t0)
			if err != nil && ctx.Err() == nil {
				d.fail(err)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// buildLayers builds every layer on every driver as a build step does: prepare an active snapshot on
// the parent, mount it, write the layer's tree, unmount, commit, and export the diff with
// containerd's walking differ. A layer that drivers fetch from a registry — a driver that receives
// layers (drivers.LayerReceiver), or a pull op's image — is published once per format, as the
// first driver exported it, outside every driver's clock; a receiver is then handed it.
func (e *engine) buildLayers(ctx context.Context) error {
	measured := 0 // images measured by the image sweep so far
	pulled := e.pulledLayers()
	for i, pl := range e.plan.Layers {
		e.progress("", "build", "layer "+pl.Name, i, len(e.plan.Layers))
		parent := ""
		if pl.Parent != "" {
			parent = layerName(pl.Parent)
		}
		tree := e.trees[pl.Name]
		expect := e.layerView(pl.Name)
		writers, receivers := e.byDelivery()
		formats := e.formats(receivers, pulled[pl.Name])
		var diff *ocispec.Descriptor // kept for publishing
		if len(formats) > 0 {
			diff = &ocispec.Descriptor{}
		}
		err := e.eachOfFloor(ctx, writers, e.floorFlushFn("build"), func(d *driverRun) error {
			e.progress(d.info.Name, "build", "layer "+pl.Name, i, len(e.plan.Layers))
			if err := e.buildLayer(ctx, d, pl, parent, tree, expect, diff); err != nil {
				return fmt.Errorf("layer %s: %w", pl.Name, err)
			}
			return nil
		})
		if err == nil && diff != nil {
			e.publish(ctx, pl.Name, *diff, formats)
		}
		if err == nil && len(receivers) > 0 {
			err = e.deliverLayer(ctx, receivers, pl.Name, expect)
		}
		if err != nil {
			return err
		}
		// The image sweep: disk once the first N images have all their layers (the full set is
		// measured before the containers start).
		if n := e.imagesBuilt(i); n < len(e.plan.Images) && n > measured && slices.Contains(e.plan.ImageSweep, n) {
			if err := e.measureDisk(ctx, e.plan.Images[:n], 0); err != nil {
				return err
			}
			measured = n
		}
	}
	return nil
}

// pulledLayers are the layers of the images the plan's pull ops pull.
func (e *engine) pulledLayers() map[string]bool {
	out := map[string]bool{}
	for _, op := range e.plan.Ops {
		if op.Op != scenario.OpPull {
			continue
		}
		for _, img := range op.Images {
			if pi := e.image(img); pi != nil {
				for _, l := range pi.Chain {
					out[l] = true
				}
			}
		}
	}
	return out
}

// formats are the formats a layer is published in: its receivers', and, when a pull op pulls it,
// every active driver's puller's — each once.
func (e *engine) formats(receivers []*driverRun, pulled bool) []drivers.Format {
	var out []drivers.Format
	add := func(f drivers.Format) {
		if !slices.ContainsFunc(out, func(g drivers.Format) bool { return g.Name() == f.Name() }) {
			out = append(out, f)
		}
	}
	for _, d := range receivers {
		add(d.inst.(drivers.LayerReceiver).Format())
	}
	if pulled {
		for _, d := range e.active() {
			add(d.puller().Format())
		}
	}
	return out
}

// publish publishes layer name, exported as diff, in every format, and drops the diff. Its time is
// the engine's (phase publish), charged to no driver: what one conversion and push costs, every
// driver of the format shares. A driver whose format could not be published fails.
func (e *engine) publish(ctx context.Context, name string, diff ocispec.Descriptor, formats []drivers.Format) {
	defer e.engineTime("publish", time.Now())
	fail := func(f drivers.Format, err error) {
		for _, d := range e.active() {
			if r, ok := d.inst.(drivers.LayerReceiver); (ok && r.Format().Name() == f.Name()) || d.puller().Format().Name() == f.Name() {
				d.fail(fmt.Errorf("layer %s: %w", name, err))
			}
		}
	}
	if diff.Digest == "" {
		for _, f := range formats {
			fail(f, errors.New("no driver that writes layers built it: a driver that receives or pulls layers needs one in the run"))
		}
		return
	}
	defer e.store.Delete(context.WithoutCancel(ctx), diff.Digest)
	prioritized := e.prioritized(name)
	for _, f := range formats {
		e.progress("", "build", "publish layer "+name+" as "+f.Name(), 0, 1)
		err := func() error {
			ra, err := e.store.ReaderAt(ctx, diff)
			if err != nil {
				return err
			}
			defer ra.Close()
			_, err = e.pub.Layer(ctx, f, layerName(name), drivers.LayerSource{Tar: io.NewSectionReader(ra, 0, ra.Size()), Prioritized: prioritized})
			return err
		}()
		if err != nil {
			fail(f, err)
		}
	}
}

// imagesBuilt is how many of the plan's first images have every layer built once layers
// 0..last are: the length of the prefix of Images whose chains lie within them.
func (e *engine) imagesBuilt(last int) int {
	built := map[string]bool{}
	for _, pl := range e.plan.Layers[:last+1] {
		built[pl.Name] = true
	}
	n := 0
	for _, img := range e.plan.Images {
		for _, l := range img.Chain {
			if !built[l] {
				return n
			}
		}
		n++
	}
	return n
}

// layerView is the expected merged view of the chain ending at layer l.
func (e *engine) layerView(l string) *layer.View { return e.chainView(e.chainOf(l)) }

// chainOf is the chain of layers ending at l, bottom first.
func (e *engine) chainOf(l string) []string {
	var chain []string
	for cur := l; cur != ""; {
		chain = append([]string{cur}, chain...)
		parent := ""
		for _, pl := range e.plan.Layers {
			if pl.Name == cur {
				parent = pl.Parent
			}
		}
		cur = parent
	}
	return chain
}

// buildLayer builds layer name on d. When keep is not nil and still empty, the exported diff is kept
// in the content store and described there (for publishing).
func (e *engine) buildLayer(ctx context.Context, d *driverRun, pl scenario.PlanLayer, parent string, tree *layer.Tree, expect *layer.View, keep *ocispec.Descriptor) error {
	name := pl.Name
	key := "build/" + name
	params := p(metric.PLayer, name)
	mnt := filepath.Join(d.dir, "mnt", "build-"+name)
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return err
	}

	t0 := time.Now()
	mounts, err := d.sn.Prepare(ctx, key, parent)
	el := time.Since(t0)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	e.rec.ns(d.info.Name, metric.SnapshotPrepare, params, el)

	t0 = time.Now()
	err = d.inst.Mount(ctx, mounts, mnt)
	el = time.Since(t0)
	if err != nil {
		d.sn.Remove(ctx, key)
		return fmt.Errorf("mount: %w", err)
	}
	e.rec.ns(d.info.Name, metric.SnapshotMount, params, el)

	t0 = time.Now()
	err = e.apply(ctx, pl, tree, mnt)
	el = time.Since(t0)
	if err == nil {
		e.rec.ns(d.info.Name, metric.LayerApply, params, el)
		// Verify the build step's view before committing: what every container of an image whose
		// top this layer is will see (a lower layer's content shows in its images' tops, which are
		// verified in full, and in every container).
		if e.isTop(name) {
			err = e.verify(ctx, d, "layer "+name+" build view", mnt, expect)
		}
	}
	// Write back before commit, untimed: a build step does not fsync, and the dirty pages must not
	// be charged to whatever is timed next.
	if err == nil {
		err = measure.Sync(mnt)
	}
	t0 = time.Now()
	uerr := d.inst.Unmount(ctx, mnt)
	el = time.Since(t0)
	if err != nil || uerr != nil {
		d.sn.Remove(ctx, key)
		if err != nil {
			return fmt.Errorf("apply: %w", err)
		}
		return fmt.Errorf("unmount: %w", uerr)
	}
	e.rec.ns(d.info.Name, metric.SnapshotUnmount, params, el)

	t0 = time.Now()
	err = d.sn.Commit(ctx, layerName(name), key)
	el = time.Since(t0)
	if err != nil {
		d.sn.Remove(ctx, key)
		return fmt.Errorf("commit: %w", err)
	}
	e.rec.ns(d.info.Name, metric.SnapshotCommit, params, el)
	d.snapKeys = append(d.snapKeys, layerName(name))

	return e.exportDiff(ctx, d, name, parent, params, keep)
}

// apply writes a layer into mnt, its mounted active snapshot: a synthetic tree entry by entry; a layer
// from an image with containerd's archive applier from its tar (decompressed, and checked against
// its diff ID, as containerd's differ applies), then the entries the workload adds to it.
func (e *engine) apply(ctx context.Context, pl scenario.PlanLayer, tree *layer.Tree, mnt string) error {
	if pl.Image == nil {
		return tree.Apply(ctx, mnt, layer.ApplyOptions{})
	}
	rc, err := pl.Image.Tar(ctx)
	if err != nil {
		return err
	}
	err = layer.ApplyTar(ctx, mnt, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s layer %d: %w", pl.Image.Source, pl.Image.Index, err)
	}
	if x := e.extras[pl.Name]; x != nil {
		return x.Apply(ctx, mnt, layer.ApplyOptions{})
	}
	return nil
}

// isTop reports whether layer l is the top of an image.
func (e *engine) isTop(l string) bool {
	for _, img := range e.plan.Images {
		if img.Top == l {
			return true
		}
	}
	return false
}

// byDelivery splits the active drivers into those the engine writes layers into and those that
// receive them (drivers.LayerReceiver), each in a fresh random order.
func (e *engine) byDelivery() (writers, receivers []*driverRun) {
	for _, d := range e.active() {
		if _, ok := d.inst.(drivers.LayerReceiver); ok {
			receivers = append(receivers, d)
		} else {
			writers = append(writers, d)
		}
	}
	return writers, receivers
}

// deliverLayer hands layer name, as published in each receiving driver's format, to the driver,
// and verifies a view of what each made (side by side: nothing here is timed).
func (e *engine) deliverLayer(ctx context.Context, ds []*driverRun, name string, expect *layer.View) error {
	chain := e.chainOf(name)
	for k, l := range chain {
		chain[k] = layerName(l)
	}
	return e.eachAtOnce(ctx, ds, func(d *driverRun) error {
		e.progress(d.info.Name, "build", "layer "+name, 0, 1)
		r := d.inst.(drivers.LayerReceiver)
		pub, err := e.pub.Published(r.Format(), chain)
		if err != nil {
			return err
		}
		if err := r.ReceiveLayer(ctx, pub); err != nil {
			return fmt.Errorf("layer %s: receive: %w", name, err)
		}
		d.snapKeys = append(d.snapKeys, layerName(name))
		dir := filepath.Join(d.dir, "mnt", "view-"+name)
		release, err := e.mountView(ctx, d, "verify/"+name, layerName(name), dir)
		if err != nil {
			return fmt.Errorf("layer %s: %w", name, err)
		}
		defer release()
		// Every received layer's view is checked: in full for an image's top, as a build step's is;
		// for a lower layer every name, kind, size, mode and link, and a stable eighth of the files'
		// identities — each read is a fetch from the registry, and the tops above it read them all.
		opt := layer.VerifyOptions{}
		if !e.isTop(name) {
			opt.HeaderShare = containerHeaderShare
		}
		return e.verifyWith(ctx, d, "layer "+name+" received view", dir, expect, opt)
	})
}

// prioritized lists layer l's regular files that the scenario's traces open or read, in the order
// the first trace touches them (each once): what a program reads first.
func (e *engine) prioritized(l string) []string {
	t := e.trees[l]
	if t == nil {
		return nil
	}
	files := make(map[string]bool, len(t.Entries))
	for _, en := range t.Entries {
		if en.Kind == layer.File {
			files[en.Path] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, op := range e.plan.Ops {
		if op.Trace == nil {
			continue
		}
		for _, en := range op.Trace.Entries {
			p := strings.TrimPrefix(en.Path, "/")
			if (en.Op == scenario.TraceOpen || en.Op == scenario.TraceRead) && files[p] && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// mountView mounts a read-only view of committed snapshot parent at dir (made if missing), untimed;
// release unmounts and removes it.
func (e *engine) mountView(ctx context.Context, d *driverRun, key, parent, dir string) (release func(), err error) {
	cleanup := context.WithoutCancel(ctx)
	mounts, err := d.sn.View(ctx, key, parent)
	if err != nil {
		return nil, fmt.Errorf("view %s: %w", parent, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		d.sn.Remove(cleanup, key)
		return nil, err
	}
	if err := d.inst.Mount(ctx, mounts, dir); err != nil {
		d.sn.Remove(cleanup, key)
		return nil, fmt.Errorf("mount view of %s: %w", parent, err)
	}
	return func() {
		d.inst.Unmount(cleanup, dir)
		d.sn.Remove(cleanup, key)
	}, nil
}

// exportDiff exports a committed layer as an uncompressed tar, as a build does before it pushes:
// containerd's differ core (archive.WriteDiff) walks a view of the parent against a view of the
// layer and writes the tar into a local content store, committed (and synced) like a blob.
// Uncompressed, so the figure is the storage side (walk + read + write), not gzip's CPU. The views
// are mounted through the driver, untimed, so drivers whose mounts need activation (erofs) or a
// client (a daemon) export the same way.
func (e *engine) exportDiff(ctx context.Context, d *driverRun, name, parent string, params map[string]string, keep *ocispec.Descriptor) error {
	cleanup := context.WithoutCancel(ctx)
	mountView := func(key, parent, dir string) (func(), error) {
		release, err := e.mountView(ctx, d, key, parent, dir)
		if err != nil {
			return nil, fmt.Errorf("diff: %w", err)
		}
		return release, nil
	}
	lowerDir := filepath.Join(d.dir, "mnt", "diff-"+name+"-lower")
	upperDir := filepath.Join(d.dir, "mnt", "diff-"+name+"-upper")
	if err := os.MkdirAll(lowerDir, 0o755); err != nil { // FROM scratch: an empty lower
		return err
	}
	if parent != "" {
		release, err := mountView("diff/"+name+"/lower", parent, lowerDir)
		if err != nil {
			return err
		}
		defer release()
	}
	release, err := mountView("diff/"+name+"/upper", layerName(name), upperDir)
	if err != nil {
		return err
	}
	defer release()

	ref := fmt.Sprintf("%s-%s", d.info.Name, name)
	cw, err := e.store.Writer(ctx, content.WithRef(ref))
	if err != nil {
		return fmt.Errorf("diff: content writer: %w", err)
	}
	t0 := time.Now()
	err = archive.WriteDiff(ctx, cw, lowerDir, upperDir)
	if err == nil {
		err = cw.Commit(ctx, 0, cw.Digest())
		if errdefs.IsAlreadyExists(err) {
			err = nil // another driver's diff, byte for byte, kept for publishing
		}
	}
	el := time.Since(t0)
	if err != nil {
		cw.Close()
		e.store.Abort(cleanup, ref)
		return fmt.Errorf("diff: %w", err)
	}
	dgst := cw.Digest()
	cw.Close()
	info, err := e.store.Info(ctx, dgst)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	e.rec.ns(d.info.Name, metric.LayerDiff, params, el)
	e.rec.add(d.info.Name, metric.LayerDiffBytes, params, float64(info.Size))
	if keep != nil && keep.Digest == "" {
		*keep = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: dgst, Size: info.Size}
	}
	if keep != nil && keep.Digest == dgst {
		return nil // kept for publishing (another driver's tar may be byte-identical)
	}
	// The blob is not needed after it is measured; keep the content store small.
	if err := e.store.Delete(ctx, dgst); err != nil {
		return fmt.Errorf("diff: delete blob: %w", err)
	}
	return nil
}
