// Package stargz is containerd's stargz snapshotter (github.com/containerd/stargz-snapshotter),
// in process, on a backing filesystem of its own: a remote snapshotter that mounts each layer lazily
// from a registry, through FUSE, fetching a file's chunks when they are first read.
//
// Its layers are received, not written (drivers.LayerReceiver): the engine publishes each layer,
// as another driver exported it, in the driver's Format — eStargz (estargz.Build, the files the
// scenario's traces read first as prioritised files, so prefetch brings them), converted and pushed
// once to the run's registry for every stargz variant — and the driver Prepares it with the
// remote-snapshot labels: the snapshotter answers "already exists" once the layer is mounted lazily,
// as containerd's remote-snapshot protocol has it. The snapshotter reaches the registry through a
// shaping proxy of its own (internal/registry), whose byte count is what the lazy mounts fetched;
// a pull (drivers.Puller) is a node of its own, with its own snapshotter and proxy. Background
// fetching of whole layers is off, so the bytes fetched are those reads and prefetch asked for;
// prefetch is on or off by variant.
package stargz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/reference"
	"github.com/containerd/errdefs"
	"github.com/containerd/stargz-snapshotter/fs/config"
	"github.com/containerd/stargz-snapshotter/service"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
	"github.com/seedbench/seedbench/internal/network"
	"github.com/seedbench/seedbench/internal/registry"
)

// Family is the driver family name; Module the Go module it wraps.
const (
	Family = "stargz"
	Module = "github.com/containerd/stargz-snapshotter"
)

// Labels of containerd's remote-snapshot protocol and of the stargz snapshotter.
const (
	labelRef        = "containerd.io/snapshot.ref"
	labelReference  = "containerd.io/snapshot/remote/stargz.reference"
	labelDigest     = "containerd.io/snapshot/remote/stargz.digest"
	labelLayers     = "containerd.io/snapshot/remote/stargz.layers"
	labelTOCDigest  = "containerd.io/snapshot/stargz/toc.digest"
	labelUncompSize = "io.containers.estargz.uncompressed-size"
)

// Driver is the stargz snapshotter with prefetch on or off.
type Driver struct {
	name     string
	prefetch bool
}

// New returns a stargz driver called name.
func New(name string, prefetch bool) drivers.Driver { return &Driver{name: name, prefetch: prefetch} }

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	pf := "off"
	if d.prefetch {
		pf = "on: the prioritised files of each layer when it is mounted"
	}
	return drivers.Info{
		Name:   d.name,
		Family: Family,
		Description: "containerd's stargz snapshotter in process: layers converted to eStargz, pushed to a registry on loopback " +
			"(through a shaping proxy), mounted lazily with FUSE; containers overlay them with an upper dir",
		Snapshotter:  Module + "/snapshot",
		Version:      drivers.ModuleVersion(Module, "v0.19.1"),
		Backing:      backing.Ext4,
		Options:      map[string]string{"prefetch": pf, "background_fetch": "off", "compression": "gzip, default level"},
		Capabilities: drivers.Capabilities{Remote: true, FUSE: true, Overlay: true, PerMountCache: true},
	}
}

// Check reports whether the driver can run here: root, /dev/fuse, overlay.
func (d *Driver) Check(ctx context.Context) error { return fsinstance.CheckFUSEOverlay(d.name) }

// Variant makes a variant: stargz takes no mount options and brings its ext4 backing.
func (d *Driver) Variant(spec drivers.Spec) (drivers.Driver, error) {
	if err := drivers.NoChoices(spec, Family, backing.Ext4); err != nil {
		return nil, err
	}
	return &Driver{name: spec.Name, prefetch: d.prefetch}, nil
}

// Open makes the backing, a proxy to the run's registry, and the snapshotter.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	return fsinstance.OpenRemote(ctx, d.name, Family, opts, func(root, addr string) (snapshots.Snapshotter, error) {
		return newService(ctx, root, addr, d.prefetch)
	}, func(r fsinstance.Remote) drivers.Instance {
		return &Instance{name: d.name, inner: r.Inner, proxy: r.Proxy, prefetch: d.prefetch, root: r.Root}
	})
}

// newService makes a stargz snapshotter rooted at root that reaches the registry through the proxy
// at addr.
func newService(ctx context.Context, root, addr string, prefetch bool) (snapshots.Snapshotter, error) {
	cfg := &service.Config{}
	// Background fetching of whole layers off, so what is fetched is what reads and prefetch asked
	// for; no Prometheus metrics (they register globally, once per process).
	// Fetched contents are cached in memory: the snapshotter keeps a layer's cache files open after
	// the layer is unmounted and the snapshotter closed (seen with v0.19.1: an http cache file of a
	// layer that was read stays open for the life of the process), which would keep the backing
	// from being unmounted. Resolved layers are released a second after their last use.
	cfg.Config = config.Config{NoPrefetch: !prefetch, NoBackgroundFetch: true, NoPrometheus: true, ResolveResultEntryTTLSec: 1,
		HTTPCacheType: "memory", FSCacheType: "memory"}
	// go-containerregistry's registry serves one byte range per request.
	cfg.Config.BlobConfig.ForceSingleRangeMode = true
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	hosts := func(reference.Spec) ([]docker.RegistryHost, error) {
		return []docker.RegistryHost{{Client: client, Host: addr, Scheme: "http", Path: "/v2",
			Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve}}, nil
	}
	return service.NewStargzSnapshotterService(ctx, root, cfg, service.WithCustomRegistryHosts(hosts))
}

// Instance is an opened stargz driver: the snapshotter and its proxy to the run's registry.
type Instance struct {
	name     string
	inner    drivers.Instance
	proxy    *registry.Proxy
	prefetch bool
	root     string // the backing's mount point

	mu    sync.Mutex
	pulls int // Pull roots made so far
}

func (i *Instance) Snapshotter() snapshots.Snapshotter { return i.inner.Snapshotter() }
func (i *Instance) Backing() drivers.Backing           { return i.inner.Backing() }
func (i *Instance) Mount(ctx context.Context, ms []mount.Mount, target string) error {
	return i.inner.Mount(ctx, ms, target)
}
func (i *Instance) Unmount(ctx context.Context, target string) error {
	return i.inner.Unmount(ctx, target)
}

// Close removes every snapshot, closes the snapshotter (unmounting every lazily mounted layer),
// stops the proxy and drops the backing.
func (i *Instance) Close(ctx context.Context) error { return i.inner.Close(ctx) }

// Proxy is the shaping proxy between the snapshotter and the registry.
func (i *Instance) Proxy() *registry.Proxy { return i.proxy }

// Format is eStargz.
func (i *Instance) Format() drivers.Format { return Format }

// ReceiveLayer prepares the chain's top layer from its eStargz blob as a remote snapshot: committed
// under its name, mounted lazily.
func (i *Instance) ReceiveLayer(ctx context.Context, chain drivers.Published) error {
	n := len(chain.Layers)
	if n == 0 || len(chain.Blobs) != n {
		return fmt.Errorf("%s: a chain of %d layers and %d blobs", i.name, n, len(chain.Blobs))
	}
	parent := ""
	if n > 1 {
		parent = chain.Layers[n-2]
	}
	return i.prepareRemote(ctx, i.inner.Snapshotter(), i.proxy.Addr, chain, n-1, parent)
}

// prepareRemote prepares layer k of chain as a remote snapshot of sn, which reaches the registry
// through addr: the snapshotter mounts it lazily and commits it under the layer's name.
func (i *Instance) prepareRemote(ctx context.Context, sn snapshots.Snapshotter, addr string, chain drivers.Published, k int, parent string) error {
	name, blob := chain.Layers[k], chain.Blobs[k]
	_, repo, _ := strings.Cut(chain.Ref, "/")
	digests := make([]string, k+1)
	for j := range digests {
		digests[j] = chain.Blobs[j].Digest.String()
	}
	labels := map[string]string{
		labelRef:        name,
		labelReference:  addr + "/" + repo + ":latest",
		labelDigest:     blob.Digest.String(),
		labelLayers:     joinRecent(digests), // this layer's own chain: its parents', then itself
		labelTOCDigest:  blob.Annotations[labelTOCDigest],
		labelUncompSize: blob.Annotations[labelUncompSize],
	}
	if i.prefetch {
		labels[config.TargetPrefetchSizeLabel] = blob.Annotations[config.TargetPrefetchSizeLabel]
	}
	key := "remote/" + name
	_, err := sn.Prepare(ctx, key, parent, snapshots.WithLabels(labels))
	switch {
	case errdefs.IsAlreadyExists(err):
		return nil // mounted lazily and committed as name
	case err == nil:
		sn.Remove(ctx, key)
		return fmt.Errorf("%s: layer %s: %w: the snapshotter could not mount blob %s from the registry at %s (it prepared a local snapshot instead): the registry is down, the blob missing or cut short, or its TOC is not %s", i.name, name, drivers.ErrNotLazy, blob.Digest, addr, labels[labelTOCDigest])
	default:
		return fmt.Errorf("%s: layer %s: prepare remote snapshot: %w", i.name, name, err)
	}
}

// Pull makes a node that never had img: a snapshotter of its own on fresh caches, reaching the
// registry through a proxy of its own shaped to net. Its Prepare mounts the layers from the
// registry and prepares a key on top; its Close unmounts and removes all of it.
func (i *Instance) Pull(ctx context.Context, img drivers.Published, net network.Profile) (_ *drivers.Pull, err error) {
	host, _, ok := strings.Cut(img.Ref, "/")
	if !ok || len(img.Layers) == 0 || len(img.Blobs) != len(img.Layers) {
		return nil, fmt.Errorf("%s: pull: an image needs a host/repository reference and a blob per layer (got %q, %d blobs, %d layers)", i.name, img.Ref, len(img.Blobs), len(img.Layers))
	}
	i.mu.Lock()
	i.pulls++
	root := filepath.Join(i.root, fmt.Sprintf("pull-%d", i.pulls))
	i.mu.Unlock()
	var undo cleanup.Stack
	defer func() {
		if err != nil {
			err = errors.Join(err, undo.Unwind())
		}
	}()
	undo.Push("remove "+root, func() error { return os.RemoveAll(root) })
	proxy, err := registry.NewProxy(host, net)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", i.name, err)
	}
	undo.Push("stop the pull's proxy", proxy.Close)
	sn, err := newService(ctx, root, proxy.Addr, i.prefetch)
	if err != nil {
		return nil, fmt.Errorf("%s: new snapshotter: %w", i.name, err)
	}
	// Closing the snapshotter unmounts every lazily mounted layer.
	undo.Push("close the pull's snapshotter", sn.Close)
	prepare := func(ctx context.Context, key string) ([]mount.Mount, error) {
		parent := ""
		for k, l := range img.Layers {
			if err := i.prepareRemote(ctx, sn, proxy.Addr, img, k, parent); err != nil {
				return nil, err
			}
			parent = l
		}
		ms, err := sn.Prepare(ctx, key, parent)
		if err != nil {
			return nil, fmt.Errorf("%s: prepare %s: %w", i.name, key, err)
		}
		return ms, nil
	}
	return &drivers.Pull{Prepare: prepare, Fetched: proxy.Fetched,
		Close: func(context.Context) error { return undo.Unwind() }}, nil
}

// joinRecent lists an image's layers (bottom first, this one last) for the stargz.layers label; the
// label holds at most 4 KiB, so older layers drop off first.
func joinRecent(layers []string) string {
	out := layers[len(layers)-1]
	for k := len(layers) - 2; k >= 0; k-- {
		next := layers[k] + "," + out
		if len(next) > 4000 {
			break
		}
		out = next
	}
	return out
}
