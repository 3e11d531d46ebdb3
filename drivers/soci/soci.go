// Package soci is AWS's SOCI snapshotter (github.com/awslabs/soci-snapshotter), in process, on a
// backing filesystem of its own: a remote snapshotter that mounts each layer lazily from a registry,
// through FUSE, from the image's unmodified gzip layers and a separate SOCI index of zTOCs (a
// checkpoint of the gzip stream every span, and the tar's table of contents).
//
// Its layers are received, not written (drivers.LayerReceiver): the engine publishes each layer in
// the driver's Format — the full pull's gzip blob, byte for byte, plus a zTOC built from it with
// SOCI's zTOC builder at the driver's span size — and, when a chain is received or pulled, the
// driver pushes a SOCI index v2 of the chain's zTOCs and an image manifest of its gzip layers
// annotated with the index's digest (com.amazon.soci.index-digest), as `soci convert` does. The
// snapshotter is given the image manifest's digest (containerd's CRI labels) and finds the index
// through that annotation. Like the stargz driver, it reaches the registry through a shaping proxy of
// its own, whose byte count is what the lazy mounts fetched; a pull (drivers.Puller) is a node of
// its own, with its own snapshotter and proxy. Background fetching is off.
//
// SOCI falls back silently to a local (full) unpack of a layer it cannot mount lazily (no index, no
// zTOC for the layer, a layer under its minimum size): in process there is no containerd to hand the
// layer to, so its Prepare returns plain mounts. The driver reports that as an error naming the
// layer (drivers.ErrNotLazy): a pull with one fallen-back layer is not a lazy pull.
//
// The module: v0.16.1 asks for containerd v2.2.9 and builds, in process, with the v2.4.2 and stargz
// v0.19.1 this module pins (minimal version selection takes v2.4.2); the only other change it made
// is prometheus/client_model v0.6.2 → v0.6.3. Its service leaves the layers' metadata store to the
// caller (soci-snapshotter-grpc, a module of its own, opens it; without one the first lazy mount
// dereferences nil), and calls log.Fatal when it cannot make its filesystem: the driver opens the
// bbolt store as soci-snapshotter-grpc does and turns that Fatal into an error.
package soci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/awslabs/soci-snapshotter/config"
	socifs "github.com/awslabs/soci-snapshotter/fs"
	"github.com/awslabs/soci-snapshotter/metadata"
	"github.com/awslabs/soci-snapshotter/service"
	"github.com/awslabs/soci-snapshotter/ztoc"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/reference"
	ctdsnapshotters "github.com/containerd/containerd/v2/pkg/snapshotters"
	"github.com/containerd/errdefs"
	"github.com/containerd/log"
	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
	"github.com/seedbench/seedbench/internal/network"
	"github.com/seedbench/seedbench/internal/registry"
)

// Family is the driver family name; Module the Go module it wraps.
const (
	Family = "soci"
	Module = "github.com/awslabs/soci-snapshotter"
)

// DefaultSpan is SOCI's default span size (soci.IndexBuilder's): a checkpoint of the gzip stream
// every 4 MiB of compressed data.
const DefaultSpan = 4 << 20

// Labels of containerd's remote-snapshot protocol and SOCI's.
const (
	labelRef  = "containerd.io/snapshot.ref"
	labelSize = "containerd.io/snapshot/remote/soci.size"
	namespace = "seedbench"
)

// Driver is the SOCI snapshotter with zTOCs of one span size.
type Driver struct {
	name string
	span int64
}

// New returns a SOCI driver called name whose zTOCs have a checkpoint every span bytes.
func New(name string, span int64) drivers.Driver { return &Driver{name: name, span: span} }

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	return drivers.Info{
		Name:   d.name,
		Family: Family,
		Description: "AWS's SOCI snapshotter in process: the full pull's gzip layers unchanged, plus a SOCI index v2 of zTOCs, in a registry on loopback " +
			"(through a shaping proxy), mounted lazily with FUSE; containers overlay them with an upper dir",
		Snapshotter: Module + "/snapshot",
		Version:     drivers.ModuleVersion(Module, "v0.16.1"),
		Backing:     backing.Ext4,
		Options: map[string]string{"span_size": strconv.FormatInt(d.span, 10), "index": "SOCI index v2, found through the image manifest's com.amazon.soci.index-digest",
			"background_fetch": "off", "min_layer_size": "0", "compression": "gzip, default level (the full pull's blobs)"},
		Capabilities: drivers.Capabilities{Remote: true, FUSE: true, Overlay: true, PerMountCache: true},
	}
}

// Check reports whether the driver can run here: root, /dev/fuse, overlay.
func (d *Driver) Check(ctx context.Context) error { return fsinstance.CheckFUSEOverlay(d.name) }

// Variant makes a variant: SOCI takes no mount options and brings its ext4 backing.
func (d *Driver) Variant(spec drivers.Spec) (drivers.Driver, error) {
	if err := drivers.NoChoices(spec, Family, backing.Ext4); err != nil {
		return nil, err
	}
	return &Driver{name: spec.Name, span: d.span}, nil
}

// Open makes the backing, a proxy to the run's registry, and the snapshotter.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	return fsinstance.OpenRemote(ctx, d.name, Family, opts, func(root, addr string) (snapshots.Snapshotter, error) {
		return newService(ctx, root, addr)
	}, func(r fsinstance.Remote) drivers.Instance {
		return &Instance{name: d.name, inner: r.Inner, proxy: r.Proxy, registry: opts.Registry, span: d.span, root: r.Root}
	})
}

// quiet is the snapshotter's logger: SOCI logs every mount at info level. Its Fatal (SOCI's service
// calls it when the filesystem cannot be made) panics instead of exiting the process; newService
// turns that into an error.
func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.ExitFunc = func(int) { panic(errFatal) }
	return logrus.NewEntry(l)
}

var errFatal = errors.New("the SOCI service gave up (log.Fatal)")

// newService makes a SOCI snapshotter rooted at root that reaches the registry through the proxy at
// addr.
func newService(ctx context.Context, root, addr string) (sn snapshots.Snapshotter, err error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	cfg := config.NewConfig()
	if cfg == nil {
		return nil, errors.New("SOCI's default config does not parse")
	}
	sc := &cfg.ServiceConfig
	// No background fetching, so what is fetched is what reads asked for; no Prometheus metrics
	// (they register globally); every layer mounted lazily, whatever its size; caches in memory,
	// as the stargz driver's (nothing left open on the backing).
	sc.FSConfig.BackgroundFetchConfig.Disable = true
	sc.FSConfig.NoPrometheus = true
	sc.FSConfig.HTTPCacheType = "memory"
	sc.FSConfig.FSCacheType = "memory"
	sc.SnapshotterConfig.MinLayerSize = 0
	// go-containerregistry's registry serves one byte range per request.
	sc.FSConfig.BlobConfig.ForceSingleRangeMode = true
	// The proxy speaks plain HTTP.
	sc.ResolverConfig.Host = map[string]config.HostConfig{addr: {Mirrors: []config.MirrorConfig{{Host: addr, Insecure: true}}}}
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	hosts := func(reference.Spec) ([]docker.RegistryHost, error) {
		return []docker.RegistryHost{{Client: client, Host: addr, Scheme: "http", Path: "/v2",
			Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve}}, nil
	}
	// The layers' metadata (from their zTOCs) in one bbolt database, as soci-snapshotter-grpc keeps
	// it ("db", the default metadata_store): the service leaves the store to its caller.
	db, err := bolt.Open(filepath.Join(root, "metadata.db"), 0o600, &bolt.Options{NoFreelistSync: true, NoSync: true})
	if err != nil {
		return nil, fmt.Errorf("metadata db: %w", err)
	}
	store := func(sr *io.SectionReader, toc ztoc.TOC, opts ...metadata.Option) (metadata.Reader, error) {
		return metadata.NewReader(db, sr, toc, opts...)
	}
	defer func() {
		if r := recover(); r != nil {
			if r != errFatal {
				panic(r)
			}
			err = errFatal
		}
		if err != nil {
			db.Close()
		}
	}()
	inner, err := service.NewSociSnapshotterService(sociContext(ctx), root, sc, service.WithCustomRegistryHosts(hosts),
		service.WithFilesystemOptions(socifs.WithMetadataStore(store)))
	if err != nil {
		return nil, err
	}
	return withDB{inner, db}, nil
}

// withDB is the SOCI snapshotter and its metadata database, closed after it.
type withDB struct {
	snapshots.Snapshotter
	db *bolt.DB
}

func (s withDB) Close() error { return errors.Join(s.Snapshotter.Close(), s.db.Close()) }

// sociContext is ctx with the namespace SOCI's remote snapshots need and its quiet logger.
func sociContext(ctx context.Context) context.Context {
	return log.WithLogger(namespaces.WithNamespace(ctx, namespace), quiet())
}

// Instance is an opened SOCI driver: the snapshotter and its proxy to the run's registry.
type Instance struct {
	name     string
	inner    drivers.Instance
	proxy    *registry.Proxy
	registry string // the run's registry (host:port), where the driver pushes indexes and manifests
	span     int64
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

// Format is the full pull's gzip blob plus a zTOC at the driver's span size.
func (i *Instance) Format() drivers.Format { return format{registry: i.registry, span: i.span} }

// ReceiveLayer prepares the chain's top layer from its gzip blob and zTOC as a remote snapshot:
// committed under its name, mounted lazily.
func (i *Instance) ReceiveLayer(ctx context.Context, chain drivers.Published) error {
	n := len(chain.Layers)
	if n == 0 || len(chain.Blobs) != n {
		return fmt.Errorf("%s: a chain of %d layers and %d blobs", i.name, n, len(chain.Blobs))
	}
	parent := ""
	if n > 1 {
		parent = chain.Layers[n-2]
	}
	img, err := pushImage(ctx, i.registry, chain, n-1)
	if err != nil {
		return fmt.Errorf("%s: layer %s: %w", i.name, chain.Layers[n-1], err)
	}
	return prepareRemote(ctx, i.name, i.inner.Snapshotter(), i.proxy.Addr, chain, n-1, parent, img.String())
}

// prepareRemote prepares layer k of chain as a remote snapshot of sn, which reaches the registry
// through addr, from image manifest img: the snapshotter mounts it lazily and commits it under the
// layer's name.
func prepareRemote(ctx context.Context, driver string, sn snapshots.Snapshotter, addr string, chain drivers.Published, k int, parent, img string) error {
	name, blob := chain.Layers[k], chain.Blobs[k]
	_, repo, _ := strings.Cut(chain.Ref, "/")
	digests := make([]string, k+1)
	for j := range digests {
		digests[j] = chain.Blobs[j].Digest.String()
	}
	labels := map[string]string{
		labelRef:                       name,
		ctdsnapshotters.TargetRefLabel: addr + "/" + repo + "@" + img,
		ctdsnapshotters.TargetManifestDigestLabel: img,
		ctdsnapshotters.TargetLayerDigestLabel:    blob.Digest.String(),
		ctdsnapshotters.TargetImageLayersLabel:    strings.Join(digests, ","),
		labelSize:                                 strconv.FormatInt(blob.Size, 10),
	}
	key := "remote/" + name
	ms, err := sn.Prepare(sociContext(ctx), key, parent, snapshots.WithLabels(labels))
	switch {
	case errdefs.IsAlreadyExists(err):
		return nil // mounted lazily and committed as name
	case err == nil:
		// SOCI deferred the layer "to the container runtime": it could not mount it lazily.
		_ = ms
		sn.Remove(sociContext(ctx), key)
		return fmt.Errorf("%s: layer %s: %w: the snapshotter could not mount blob %s from the registry at %s through image %s's SOCI index (it fell back to a local snapshot): the index, the layer's zTOC or the blob is missing, corrupt or unreachable", driver, name, drivers.ErrNotLazy, blob.Digest, addr, img)
	default:
		return fmt.Errorf("%s: layer %s: prepare remote snapshot: %w", driver, name, err)
	}
}

// Pull makes a node that never had img: a snapshotter of its own on fresh caches, reaching the
// registry through a proxy of its own shaped to net. The image's SOCI index and manifest are pushed
// before (untimed: they are the image's, made once at build time). Its Prepare mounts the layers
// from the registry and prepares a key on top; its Close unmounts and removes all of it.
func (i *Instance) Pull(ctx context.Context, img drivers.Published, net network.Profile) (_ *drivers.Pull, err error) {
	host, _, ok := strings.Cut(img.Ref, "/")
	if !ok || len(img.Layers) == 0 || len(img.Blobs) != len(img.Layers) {
		return nil, fmt.Errorf("%s: pull: an image needs a host/repository reference and a blob per layer (got %q, %d blobs, %d layers)", i.name, img.Ref, len(img.Blobs), len(img.Layers))
	}
	manifest, err := pushImage(ctx, host, img, len(img.Layers)-1)
	if err != nil {
		return nil, fmt.Errorf("%s: pull: %w", i.name, err)
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
	sn, err := newService(ctx, root, proxy.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: new snapshotter: %w", i.name, err)
	}
	// Closing the snapshotter unmounts every lazily mounted layer.
	undo.Push("close the pull's snapshotter", func() error {
		return errors.Join(drivers.RemoveAll(sociContext(context.Background()), sn), sn.Close())
	})
	prepare := func(ctx context.Context, key string) ([]mount.Mount, error) {
		parent := ""
		for k, l := range img.Layers {
			if err := prepareRemote(ctx, i.name, sn, proxy.Addr, img, k, parent, manifest.String()); err != nil {
				return nil, err
			}
			parent = l
		}
		ms, err := sn.Prepare(sociContext(ctx), key, parent)
		if err != nil {
			return nil, fmt.Errorf("%s: prepare %s: %w", i.name, key, err)
		}
		return ms, nil
	}
	return &drivers.Pull{Prepare: prepare, Fetched: proxy.Fetched,
		Close: func(context.Context) error { return undo.Unwind() }}, nil
}
