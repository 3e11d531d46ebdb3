package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/cleanup"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/network"
	"github.com/seedbench/seedbench/internal/registry"
)

// MaxConcurrentFetches is how many layers a full pull fetches at once (containerd's default).
const MaxConcurrentFetches = 3

// Full is the full pull into inst, a driver the engine writes layers into, as containerd's pull
// does it: the image's gzip layers fetched from the registry (MaxConcurrentFetches at a time), each
// verified against its digest and size, decompressed and applied into an active snapshot on its
// parent and committed, in order as soon as it and its parent are there; then the key prepared on
// the top. Its files (fetched blobs, the apply mount point) live under dir, one directory per pull.
// Every pull commits layers under keys of its own, so nothing is shared with the image the driver
// built or with another pull.
func Full(inst drivers.Instance, dir string) drivers.Puller { return &full{inst: inst, dir: dir} }

type full struct {
	inst  drivers.Instance
	dir   string
	mu    sync.Mutex
	pulls int
}

func (f *full) Format() drivers.Format { return Gzip }

// Pull makes the pull's node — its proxy shaped to net, its resolver and fetcher, its paths and
// snapshot keys, the removals of what it will make — so that Prepare is the pull and nothing else.
func (f *full) Pull(ctx context.Context, img drivers.Published, net network.Profile) (_ *drivers.Pull, err error) {
	f.mu.Lock()
	f.pulls++
	id := fmt.Sprintf("pull-%d", f.pulls)
	f.mu.Unlock()
	sn := f.inst.Snapshotter()
	var undo cleanup.Stack
	defer func() {
		if err != nil {
			err = errors.Join(err, undo.Unwind())
		}
	}()
	host, repo, ok := strings.Cut(img.Ref, "/")
	if !ok || len(img.Blobs) != len(img.Layers) || len(img.Blobs) == 0 {
		return nil, fmt.Errorf("full pull: an image needs a host/repository reference and a blob per layer (got %q, %d blobs, %d layers)", img.Ref, len(img.Blobs), len(img.Layers))
	}
	proxy, err := registry.NewProxy(host, net)
	if err != nil {
		return nil, err
	}
	undo.Push("stop the pull's proxy", proxy.Close)
	if c, ok := sn.(snapshots.Cleaner); ok { // after the removals (the stack unwinds last in, first out)
		undo.Push("clean up the snapshotter", func() error { return c.Cleanup(context.Background()) })
	}
	root := filepath.Join(f.dir, id)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	undo.Push("remove "+root, func() error { return os.RemoveAll(root) })
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: func(string) ([]docker.RegistryHost, error) {
		return []docker.RegistryHost{{Client: client, Host: proxy.Addr, Scheme: "http", Path: "/v2",
			Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve}}, nil
	}})
	undo.Push("close the pull's connections", func() error { client.CloseIdleConnections(); return nil })

	n := len(img.Blobs)
	p := &fullPull{inst: f.inst, img: img, paths: make([]string, n), keys: make([]string, n), actives: make([]string, n),
		applyMnt: filepath.Join(root, "apply")}
	for k, l := range img.Layers {
		p.paths[k], p.keys[k] = filepath.Join(root, fmt.Sprint(k)), id+"/"+l
		p.actives[k] = p.keys[k] + "-active"
	}
	if err := os.MkdirAll(p.applyMnt, 0o755); err != nil {
		return nil, err
	}
	var top string // the key the caller prepares, removed first
	// Removals pushed in order, so they unwind children first; a snapshot a failed pull never made
	// is not an error.
	for _, k := range append(slices.Clone(p.keys), "") {
		undo.Push("remove "+k, func() error {
			if k == "" {
				k = top
			}
			if k == "" {
				return nil
			}
			if err := sn.Remove(context.Background(), k); err != nil && !errdefs.IsNotFound(err) {
				return err
			}
			return nil
		})
	}
	if p.fetcher, err = resolver.Fetcher(ctx, proxy.Addr+"/"+repo+":latest"); err != nil {
		return nil, err
	}
	return &drivers.Pull{
		Prepare: func(ctx context.Context, key string) ([]mount.Mount, error) {
			top = key
			return p.prepare(ctx, key)
		},
		Fetched: proxy.Fetched,
		Close:   func(context.Context) error { return undo.Unwind() },
	}, nil
}

// fullPull is one full pull, set up.
type fullPull struct {
	inst                 drivers.Instance
	img                  drivers.Published
	fetcher              fetcher
	paths, keys, actives []string
	applyMnt             string
}

type fetcher interface {
	Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error)
}

// prepare fetches every layer, a few at a time, applies each as soon as it and its parent are
// there, and prepares key on the top.
func (p *fullPull) prepare(ctx context.Context, key string) ([]mount.Mount, error) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fetched := make([]chan error, len(p.img.Blobs))
	for k := range fetched {
		fetched[k] = make(chan error, 1)
	}
	sem := make(chan struct{}, MaxConcurrentFetches)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel, on every path
	for k, desc := range p.img.Blobs {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-fctx.Done():
				fetched[k] <- fctx.Err()
				return
			}
			defer func() { <-sem }()
			fetched[k] <- fetchBlob(fctx, p.fetcher, desc, p.paths[k])
		})
	}
	parent := ""
	for k, desc := range p.img.Blobs {
		if err := <-fetched[k]; err != nil {
			return nil, fmt.Errorf("layer %s: fetch %s: %w", p.img.Layers[k], desc.Digest, err)
		}
		if err := p.apply(ctx, k, parent); err != nil {
			return nil, fmt.Errorf("layer %s: %w", p.img.Layers[k], err)
		}
		parent = p.keys[k]
	}
	ms, err := p.inst.Snapshotter().Prepare(ctx, key, parent)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", key, err)
	}
	return ms, nil
}

// fetchBlob fetches desc into path, checking its digest and size.
func fetchBlob(ctx context.Context, f fetcher, desc ocispec.Descriptor, path string) error {
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

// apply applies fetched layer k into a fresh active snapshot on parent, mounted at the apply mount
// point, and commits it.
func (p *fullPull) apply(ctx context.Context, k int, parent string) error {
	sn, active := p.inst.Snapshotter(), p.actives[k]
	ms, err := sn.Prepare(ctx, active, parent)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	if err := p.inst.Mount(ctx, ms, p.applyMnt); err != nil {
		sn.Remove(ctx, active)
		return fmt.Errorf("mount: %w", err)
	}
	err = applyGzip(ctx, p.applyMnt, p.paths[k])
	if uerr := p.inst.Unmount(ctx, p.applyMnt); err == nil {
		err = uerr
	}
	if err != nil {
		sn.Remove(ctx, active)
		return err
	}
	if err := sn.Commit(ctx, p.keys[k], active); err != nil {
		sn.Remove(ctx, active)
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
