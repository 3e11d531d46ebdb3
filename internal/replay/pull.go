package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/cleanup"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/network"
	"github.com/seedbench/seedbench/internal/registry"
	"github.com/seedbench/seedbench/internal/scenario"
)

// pullRepository is where the engine pushes the images its pull ops pull.
const pullRepository = "seedbench/images"

// maxConcurrentFetches is how many layers a full pull fetches at once (containerd's default).
const maxConcurrentFetches = 3

// published is an image's layers as gzip blobs in the run's registry, bottom first.
type published struct {
	layers []ocispec.Descriptor
	bytes  int64
}

// opPull pulls each image afresh, over each of the op's networks, on every driver, and then runs
// the startup workload (a trace) in a container of it:
//
//   - a driver that writes layers does a full pull, as containerd's does: the image's gzip layers
//     fetched from the registry (three at a time), each verified against its digest, decompressed
//     and applied into an active snapshot on its parent and committed, in order as soon as it and
//     its parent are there; then a container's snapshot prepared and mounted;
//   - a lazy driver (drivers.LazyPuller) mounts each layer from the registry with a snapshotter of
//     its own on empty caches, and fetches file contents as the workload reads them.
//
// The registry is the engine's, in process on 127.0.0.1, behind a proxy shaped to the network
// (internal/registry); each pull has its own proxy, whose count is the bytes fetched. Nothing of a
// pull is shared with the image the drivers built or with another pull: fresh snapshot keys, fresh
// caches. The dirty pages a full pull leaves are written back after pull.ready is taken (a pull does
// not wait for them) and before the workload.
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
		// The image is published once, before any pull, for the drivers that pull it fully: no
		// driver's time is charged for it. A driver it fails for fails.
		var pub *published
		if slices.ContainsFunc(ds, func(d *driverRun) bool { _, lazy := d.inst.(drivers.LazyPuller); return !lazy }) {
			var perr error
			if pub, perr = e.publish(ctx, pi); perr != nil {
				for _, d := range ds {
					if _, lazy := d.inst.(drivers.LazyPuller); !lazy {
						d.fail(fmt.Errorf("pull %s: %w", img, perr))
					}
				}
			}
		}
		buf := make([]byte, 1<<20)
		for _, net := range op.Networks {
			params := p(metric.PImage, img, metric.PNetwork, net.String())
			wparams := p(metric.PImage, img, metric.PTrace, t.Name, metric.PNetwork, net.String())
			for r := 0; r < op.Samples; r++ {
				e.progress("", "workload", "pull "+img+" over "+net.String(), r, op.Samples)
				if err := e.eachOf(ctx, e.active(), func(d *driverRun) error {
					var pl *pulled
					var err error
					if lp, ok := d.inst.(drivers.LazyPuller); ok {
						pl, err = e.lazyPull(ctx, d, lp, pi, net)
					} else {
						pl, err = e.fullPull(ctx, d, pi, pub, net)
					}
					if err != nil {
						return fmt.Errorf("pull %s over %s: %w", img, net, err)
					}
					defer pl.close(context.WithoutCancel(ctx))
					if ip := p(metric.PImage, img); e.rec.find(d.info.Name, metric.PullImageBytes, ip) == nil {
						e.rec.add(d.info.Name, metric.PullImageBytes, ip, float64(pl.imageBytes))
					}
					perEntry := make([]time.Duration, len(probe.kept))
					el, err := chrootDo(pl.mnt, func() (time.Duration, error) { return replayTrace(probe.kept, buf, perEntry) })
					if err != nil {
						return fmt.Errorf("pull %s over %s: trace %s: %w", img, net, t.Name, err)
					}
					fetched := pl.fetched()
					e.rec.ns(d.info.Name, metric.PullReady, params, pl.ready)
					e.rec.ns(d.info.Name, metric.PullWorkload, wparams, el)
					e.rec.ns(d.info.Name, metric.PullDone, wparams, pl.ready+el)
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
					e.rec.add(d.info.Name, metric.PullFetched, wparams, float64(fetched))
					if pl.imageBytes > 0 {
						e.rec.add(d.info.Name, metric.PullShare, wparams, float64(fetched)/float64(pl.imageBytes))
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

// pulled is an image pulled by one driver, a container of it mounted at mnt.
type pulled struct {
	mnt        string
	ready      time.Duration
	imageBytes int64
	fetched    func() int64
	undo       cleanup.Stack
}

func (pl *pulled) close(context.Context) error { return pl.undo.Unwind() }

// startRegistry starts the run's registry for the pull ops, once; it stops with the run.
func (e *engine) startRegistry() (*registry.Registry, error) {
	if e.reg != nil {
		return e.reg, nil
	}
	reg, err := registry.Open(e.opt.Registry)
	if err != nil {
		return nil, err
	}
	e.undo.Push("stop the registry", reg.Close)
	e.reg = reg
	return reg, nil
}

// publish pushes image pi's layers, as the drivers that write layers exported them (kept from the
// build), to the run's registry as gzip blobs (containerd's compressor).
func (e *engine) publish(ctx context.Context, pi *scenario.PlanImage) (*published, error) {
	if pub := e.published[pi.Name]; pub != nil {
		return pub, nil
	}
	reg, err := e.startRegistry()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.opt.WorkDir, "publish")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pub := &published{}
	for _, l := range pi.Chain {
		diff, ok := e.diffs[l]
		if !ok {
			return nil, fmt.Errorf("layer %s: no diff kept: no driver that writes layers built it", l)
		}
		path := filepath.Join(dir, l+".tar.gz")
		if err := e.gzipLayer(ctx, diff, path); err != nil {
			return nil, fmt.Errorf("layer %s: gzip: %w", l, err)
		}
		desc, err := registry.PushLayer(ctx, reg.Addr, pullRepository, path, ocispec.MediaTypeImageLayerGzip)
		if err != nil {
			return nil, fmt.Errorf("layer %s: push: %w", l, err)
		}
		pub.layers = append(pub.layers, desc)
		pub.bytes += desc.Size
	}
	if e.published == nil {
		e.published = map[string]*published{}
	}
	e.published[pi.Name] = pub
	return pub, nil
}

// gzipLayer compresses the kept diff into path (containerd's compressor).
func (e *engine) gzipLayer(ctx context.Context, diff ocispec.Descriptor, path string) error {
	ra, err := e.store.ReaderAt(ctx, diff)
	if err != nil {
		return err
	}
	defer ra.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw, err := compression.CompressStream(f, compression.Gzip)
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, content.NewReader(ra)); err != nil {
		zw.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// fullPull pulls pi on d as containerd does and mounts a container of it; the returned pull's close
// unmounts and removes it all.
func (e *engine) fullPull(ctx context.Context, d *driverRun, pi *scenario.PlanImage, pub *published, net network.Profile) (_ *pulled, err error) {
	e.pulls++
	id := fmt.Sprintf("pull-%d", e.pulls)
	pl := &pulled{imageBytes: pub.bytes}
	defer func() {
		if err != nil {
			err = errors.Join(err, pl.undo.Unwind())
		}
	}()
	proxy, err := registry.NewProxy(e.reg.Addr, net)
	if err != nil {
		return nil, err
	}
	pl.undo.Push("stop the pull's proxy", proxy.Close)
	pl.fetched = proxy.Fetched
	if c, ok := d.sn.(snapshots.Cleaner); ok { // after the removals (the stack unwinds last in, first out)
		pl.undo.Push("clean up the snapshotter", func() error { return c.Cleanup(context.Background()) })
	}
	blobs := filepath.Join(d.dir, id)
	if err := os.MkdirAll(blobs, 0o700); err != nil {
		return nil, err
	}
	pl.undo.Push("remove "+blobs, func() error { return os.RemoveAll(blobs) })
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: func(string) ([]docker.RegistryHost, error) {
		return []docker.RegistryHost{{Client: client, Host: proxy.Addr, Scheme: "http", Path: "/v2",
			Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve}}, nil
	}})
	pl.undo.Push("close the pull's connections", func() error { client.CloseIdleConnections(); return nil })
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Everything a pull names, allocates or will undo is made before its clock starts: blob paths,
	// snapshot keys, mount points, the fetcher, the removals of the snapshots it makes (pushed in
	// order, so they unwind children first; a snapshot a failed pull never made is not an error).
	n := len(pub.layers)
	paths, keys, actives := make([]string, n), make([]string, n), make([]string, n)
	for k := range pub.layers {
		paths[k], keys[k] = filepath.Join(blobs, fmt.Sprint(k)), id+"/"+pi.Chain[k]
		actives[k] = keys[k] + "-active"
	}
	applyMnt := filepath.Join(d.dir, "mnt", id+"-apply")
	ckey := id + "/container"
	pl.mnt = filepath.Join(d.dir, "mnt", id)
	for _, dir := range []string{applyMnt, pl.mnt} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	for _, key := range append(slices.Clone(keys), ckey) {
		pl.undo.Push("remove "+key, func() error {
			if err := d.sn.Remove(context.Background(), key); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
			return nil
		})
	}
	fetcher, err := resolver.Fetcher(fctx, proxy.Addr+"/"+pullRepository+":latest")
	if err != nil {
		return nil, err
	}
	fetched := make([]chan error, n)
	for k := range fetched {
		fetched[k] = make(chan error, 1)
	}
	sem := make(chan struct{}, maxConcurrentFetches)
	var wg sync.WaitGroup

	t0 := time.Now()
	// Fetch every layer, a few at a time; apply each as soon as it and its parent are there.
	for k, desc := range pub.layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-fctx.Done():
				fetched[k] <- fctx.Err()
				return
			}
			defer func() { <-sem }()
			fetched[k] <- fetchBlob(fctx, fetcher, desc, paths[k])
		}()
	}
	defer wg.Wait() // after cancel, on every path
	parent := ""
	for k, desc := range pub.layers {
		if err := <-fetched[k]; err != nil {
			return nil, fmt.Errorf("layer %s: fetch %s: %w", pi.Chain[k], desc.Digest, err)
		}
		if err := e.applyBlob(ctx, d, paths[k], applyMnt, actives[k], keys[k], parent); err != nil {
			return nil, fmt.Errorf("layer %s: %w", pi.Chain[k], err)
		}
		parent = keys[k]
	}
	ms, err := d.sn.Prepare(ctx, ckey, parent)
	if err != nil {
		return nil, fmt.Errorf("prepare container: %w", err)
	}
	if err := d.inst.Mount(ctx, ms, pl.mnt); err != nil {
		return nil, err
	}
	pl.ready = time.Since(t0)
	pl.undo.Push("unmount "+pl.mnt, func() error { return d.inst.Unmount(context.Background(), pl.mnt) })
	return pl, measure.Sync(pl.mnt)
}

// fetchBlob fetches desc into path, checking its digest and size.
func fetchBlob(ctx context.Context, f interface {
	Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error)
}, desc ocispec.Descriptor, path string) error {
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	dg := digest.Canonical.Digester()
	n, err := io.Copy(io.MultiWriter(out, dg.Hash()), io.LimitReader(rc, desc.Size+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return err
	case n != desc.Size:
		return fmt.Errorf("got %d bytes, want %d: the registry sent a truncated or overlong blob", n, desc.Size)
	case dg.Digest() != desc.Digest:
		return fmt.Errorf("content is %s: the registry sent the wrong bytes", dg.Digest())
	}
	return nil
}

// applyBlob applies the gzip layer at path into a fresh active snapshot on parent, mounted at mnt
// (made beforehand), and commits it as key.
func (e *engine) applyBlob(ctx context.Context, d *driverRun, path, mnt, active, key, parent string) error {
	ms, err := d.sn.Prepare(ctx, active, parent)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if err := d.inst.Mount(ctx, ms, mnt); err != nil {
		d.sn.Remove(ctx, active)
		return fmt.Errorf("mount: %w", err)
	}
	err = applyGzip(ctx, mnt, path)
	if uerr := d.inst.Unmount(ctx, mnt); err == nil {
		err = uerr
	}
	if err != nil {
		d.sn.Remove(ctx, active)
		return err
	}
	if err := d.sn.Commit(ctx, key, active); err != nil {
		d.sn.Remove(ctx, active)
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// applyGzip decompresses the layer at path and applies it into root with containerd's applier.
func applyGzip(ctx context.Context, root, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := compression.DecompressStream(f)
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	defer zr.Close()
	if err := layer.ApplyTar(ctx, root, zr); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	return nil
}

// lazyPull has a lazy driver mount pi afresh over net and mounts a container of it.
func (e *engine) lazyPull(ctx context.Context, d *driverRun, lp drivers.LazyPuller, pi *scenario.PlanImage, net network.Profile) (_ *pulled, err error) {
	e.pulls++
	id := fmt.Sprintf("pull-%d", e.pulls)
	pl := &pulled{}
	defer func() {
		if err != nil {
			err = errors.Join(err, pl.undo.Unwind())
		}
	}()
	names := make([]string, len(pi.Chain))
	for k, l := range pi.Chain {
		names[k] = layerName(l)
	}
	pl.mnt = filepath.Join(d.dir, "mnt", id)
	if err := os.MkdirAll(pl.mnt, 0o755); err != nil {
		return nil, err
	}
	key := id + "/container"
	// The node (its snapshotter, on empty caches, and its shaped link) is made before the clock,
	// as a full pull's proxy and resolver are: a node already runs its snapshotter.
	pull, err := lp.LazyPull(ctx, names, net)
	if err != nil {
		return nil, err
	}
	pl.undo.Push("close the lazy pull", func() error { return pull.Close(context.Background()) })
	pl.imageBytes, pl.fetched = pull.ImageBytes, pull.Fetched

	t0 := time.Now()
	ms, err := pull.Prepare(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := d.inst.Mount(ctx, ms, pl.mnt); err != nil {
		return nil, err
	}
	pl.ready = time.Since(t0)
	pl.undo.Push("unmount "+pl.mnt, func() error { return d.inst.Unmount(context.Background(), pl.mnt) })
	return pl, nil
}
