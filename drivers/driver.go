// Package drivers is the catalogue of storage drivers seedbench measures, and the one interface they
// share.
//
// A driver is a thin factory around a containerd snapshots.Snapshotter. seedbench replays an image
// build and a container workload through that snapshotter exactly as containerd would:
//
//	Prepare(key, parent) → mounts     an active snapshot (a build step's rootfs, or a container's)
//	Mount(mounts, target)             make the snapshot visible as a directory tree
//	  … write the layer, or run the workload …
//	Unmount(target)
//	Commit(name, key)                 freeze an active snapshot into a committed layer
//	View(key, parent)                 a read-only active snapshot (used to export diffs)
//	Remove(key)                       drop a snapshot (children first)
//
// Vocabulary, as in containerd: a *key* names an active snapshot, a *name* a committed one, a
// *parent* is the committed snapshot an active one is prepared on ("" for none).
//
// A driver does three things and nothing else:
//
//   - Check says whether it can run on this host, and if not returns an error wrapping ErrUnsupported
//     whose message tells the user what to install or enable;
//   - Open prepares its backing (a loop-mounted filesystem of its own, a FUSE daemon, a registry…),
//     builds the snapshotter on it and returns an Instance;
//   - Instance.Close tears down everything Open made, in reverse order, on every path.
//
// Drivers contain no timing and no workload logic: the replay engine (internal/replay) owns every
// timer, so every driver is measured by the same code. A new driver touches its own package, a
// few-line conformance test, and one line in drivers/all. Its family makes its own variants
// (Variants); a driver that leaves processes behind a killed run reaps them (Reaper).
package drivers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/internal/network"
)

// ErrUnsupported is the one sentinel for "this driver cannot run on this host". Errors wrapping it
// carry the reason and the fix, e.g.
//
//	drivers: devmapper: no device-mapper in this kernel (fix: load dm_mod, or use a kernel with CONFIG_BLK_DEV_DM)
var ErrUnsupported = errors.New("driver unsupported on this host")

// ErrNotLazy is wrapped by a lazy-pull driver's error when the snapshotter could not mount a layer
// lazily and fell back (or would have fallen back) to fetching it whole: stargz and SOCI do so
// silently for a layer without a TOC or index. A pull with such a layer is not a lazy pull; the
// engine fails its check.
var ErrNotLazy = errors.New("layer not mounted lazily")

// Unsupported returns an error wrapping ErrUnsupported with a reason and a fix.
func Unsupported(driver, reason, fix string) error {
	if fix == "" {
		return fmt.Errorf("%w: %s: %s", ErrUnsupported, driver, reason)
	}
	return fmt.Errorf("%w: %s: %s (fix: %s)", ErrUnsupported, driver, reason, fix)
}

// Capabilities describe what kind of snapshotter a driver is; reports and the engine use them to pick
// the measurements that make sense (a remote driver has pull metrics, a block driver has no page-cache
// sharing across images, …).
type Capabilities struct {
	// Remote: layers can be prepared from a registry without applying them locally (stargz, soci).
	Remote bool `json:"remote,omitempty"`
	// Block: each snapshot is a block image (blockfile, devmapper).
	Block bool `json:"block,omitempty"`
	// FUSE: mounts are served by a FUSE daemon.
	FUSE bool `json:"fuse,omitempty"`
	// CopyOnWriteFS: the snapshotter relies on a CoW filesystem (btrfs, zfs).
	CopyOnWriteFS bool `json:"cow_fs,omitempty"`
	// FullCopy: Prepare copies the whole parent (native, blockfile without reflink).
	FullCopy bool `json:"full_copy,omitempty"`
	// Overlay: the container view is an overlay mount of lower directories.
	Overlay bool `json:"overlay,omitempty"`
	// Daemon: snapshots live in a running containerd daemon reached through its client.
	Daemon bool `json:"daemon,omitempty"`
	// Proxy: snapshots live in a snapshotter served as containerd's snapshots gRPC service on a unix
	// socket (a proxy plugin), reached with containerd's proxy client.
	Proxy bool `json:"proxy,omitempty"`
	// PerMountCache: each mount keeps its own page cache for file data (a FUSE daemon's mount, an
	// erofs image mounted per container, a block image's filesystem mounted per container), on top
	// of the backing files' cache.
	PerMountCache bool `json:"per_mount_cache,omitempty"`
}

// Info is what `seedbench drivers` lists and what a result records about a driver.
type Info struct {
	Name         string            `json:"name"`
	Family       string            `json:"family"` // overlayfs, native, btrfs, …
	Description  string            `json:"description"`
	Snapshotter  string            `json:"snapshotter"` // Go package of the snapshotter
	Version      string            `json:"version"`     // module version of the snapshotter
	Backing      string            `json:"backing"`     // default backing filesystem (ext4, btrfs, xfs, tmpfs)
	Options      map[string]string `json:"options,omitempty"`
	Capabilities Capabilities      `json:"capabilities"`
	// BackingSize, when not 0, is the size in bytes this driver's backing must be opened with (a
	// scenario's backing_size, see WithBackingSize); 0 = the engine sizes it from the scenario.
	BackingSize int64 `json:"backing_size,omitempty"`
}

// Options configure one Open. The engine sizes the backing from the scenario.
type Options struct {
	// WorkDir is a private, empty directory for this driver instance; everything the driver creates
	// (backing image, mount points, snapshotter root) lives under it.
	WorkDir string
	// BackingSize is how large a dedicated backing filesystem must be, in bytes.
	BackingSize int64
	// ImageSize is the largest container the scenario makes, in bytes: its image (all its layers, as
	// files) and what the workload adds to it in place (the files it creates; a modification
	// rewrites a file where it is); what a driver with fixed-size snapshots (blockfile) must fit in
	// each one.
	ImageSize int64
	// Backing overrides the driver's default backing filesystem ("" = driver default).
	Backing string
	// MountOptions are extra overlay mount options (metacopy=on, volatile, index=on, …); drivers that
	// are not overlay-based reject them.
	MountOptions []string
	// Registry is the run's registry (host:port), where the engine publishes the layers of a
	// LayerReceiver or a Puller (Published.Ref names the repository): a driver fetches them from it,
	// through a shaping proxy of its own (internal/registry).
	Registry string
}

// Backing describes the filesystem a driver instance stores its snapshots on.
type Backing struct {
	FS           string `json:"fs"`            // ext4, xfs, btrfs, tmpfs
	MountOptions string `json:"mount_options"` // as in /proc/mounts
	Device       string `json:"device"`        // /dev/loopN, or "" for a directory backing
	Path         string `json:"path"`          // its mount point: statfs here measures disk use
	// Dedicated: no other process writes to it, so a statfs delta is this driver's use alone.
	Dedicated bool `json:"dedicated"`
	// DirectIO and WriteCache describe a loop device: whether it does direct I/O on its image, and
	// its queue mode ("write back": flushes reach the image file; "write through": they are dropped).
	DirectIO   bool   `json:"direct_io,omitempty"`
	WriteCache string `json:"write_cache,omitempty"`
	// Hidden, when not "", says why seedbench cannot see where the snapshots are stored (a user's
	// proxy snapshotter keeps them where only it knows): Path is then "", and what is measured by
	// reading the backing (disk use, page-cache residency, device counters) is not measured, with
	// this reason recorded.
	Hidden string `json:"hidden,omitempty"`
}

// Loop device queue modes, as /sys/block/loopN/queue/write_cache reads and takes them.
const (
	WriteBack    = "write back"    // flushes reach the image file, as on a disk with a volatile cache
	WriteThrough = "write through" // flushes are dropped: an fsync inside costs nothing
)

// Driver is one storage driver configuration (a snapshotter, its options, its backing).
type Driver interface {
	Info() Info
	// Check reports whether the driver can run here; a non-nil error wraps ErrUnsupported.
	Check(ctx context.Context) error
	// Open builds the driver's backing and snapshotter. On error, everything it created is undone.
	Open(ctx context.Context, opts Options) (Instance, error)
}

// Instance is an opened driver. Instances are used by one goroutine at a time.
type Instance interface {
	Snapshotter() snapshots.Snapshotter
	// Mount makes the mounts returned by Prepare/View visible at target (an existing empty directory).
	// Most drivers call mount.All; drivers whose mounts need activation (erofs's mount manager) or a
	// client (the daemon driver) do it their way.
	Mount(ctx context.Context, mounts []mount.Mount, target string) error
	// Unmount undoes Mount; after it returns, target is an ordinary empty directory and any FUSE
	// daemon serving it is gone.
	Unmount(ctx context.Context, target string) error
	// Backing is where the snapshots are stored.
	Backing() Backing
	// Close removes every snapshot still present, the snapshotter, and the backing.
	Close(ctx context.Context) error
}

// Spec is a driver variant as a scenario declares it:
//
//	drivers: [overlayfs, {name: ovl-xfs, driver: overlayfs, backing: xfs, mount_options: [xino=off]}]
type Spec struct {
	// Name of the variant, as results and reports show it.
	Name string
	// Driver is the registered driver it is based on ("" = Name: a plain reference).
	Driver string
	// MountOptions are added to the base driver's.
	MountOptions []string
	// Backing overrides the base driver's backing filesystem.
	Backing string
	// BackingSize fixes the backing's size in bytes (0 = sized from the scenario by the engine).
	BackingSize int64
	// Socket is the unix socket a driver reaching its snapshotter through one uses (SocketDriver):
	// a containerd daemon's, or a snapshotter's gRPC service.
	Socket string
}

// Plain reports whether s only names a driver, with nothing to vary.
func (s Spec) Plain() bool {
	return s.Driver == "" && len(s.MountOptions) == 0 && s.Backing == "" && s.BackingSize == 0 && s.Socket == ""
}

// SocketDriver is implemented by a driver that reaches its snapshotter through a unix socket a spec
// may name (Spec.Socket): a containerd daemon's, or a proxy snapshotter's. Socket says what the
// socket is, for errors and help. The catalogue refuses a socket for any other driver.
type SocketDriver interface {
	Socket() string
}

// Variants is implemented by a driver that can be the base of variants: its family parses and
// validates a spec against it (which mount options and backings it takes) and makes the variant.
// spec.BackingSize is handled by the catalogue (WithBackingSize) and is 0 here.
type Variants interface {
	Variant(spec Spec) (Driver, error)
}

// DaemonDriver is implemented by a driver whose snapshotter lives in a containerd daemon it starts
// itself: WithSocket is the same driver measuring the user's daemon at socket instead
// (`seedbench run --containerd SOCKET`).
type DaemonDriver interface {
	WithSocket(socket string) Driver
}

// Reaper is implemented by a driver whose instances run processes of their own (FUSE daemons) that
// outlive a run killed with SIGKILL: `seedbench cleanup` calls Reap with a dead run's directory
// before it unmounts anything, so no unmount blocks on a daemon. Reap kills what serves mounts under
// dir and returns a description of each process it killed; an entry beginning "removed " says what
// else it undid (a killed run's namespace in a user's containerd, a socket link).
type Reaper interface {
	Reap(dir string) (killed []string, err error)
}

// SpecError is a problem with one key of a Spec ("driver", "mount_options", "backing",
// "backing_size"; "" = the spec as a whole), so a scenario can report it at that key's line.
type SpecError struct {
	Key string
	Err error
}

func (e *SpecError) Error() string { return e.Err.Error() }
func (e *SpecError) Unwrap() error { return e.Err }

// KeyError returns err as a problem with key of a Spec (nil stays nil).
func KeyError(key string, err error) error {
	if err == nil {
		return nil
	}
	return &SpecError{Key: key, Err: err}
}

// NoChoices is a family's answer to a spec it cannot vary: an error for mount options, and for a
// backing other than the one it uses (own = "": it brings its own storage and has none to choose).
func NoChoices(spec Spec, family, own string) error {
	if len(spec.MountOptions) > 0 {
		return KeyError("mount_options", fmt.Errorf("%s takes no mount options (got %s): remove mount_options", family, strings.Join(spec.MountOptions, ",")))
	}
	if spec.Backing != "" && spec.Backing != own {
		if own == "" {
			return KeyError("backing", fmt.Errorf("%s brings its own storage and has no backing to choose (got %s): remove backing", family, spec.Backing))
		}
		return KeyError("backing", fmt.Errorf("%s needs a %s backing (got %s): remove backing, or write backing: %s", family, own, spec.Backing, own))
	}
	return nil
}

// Format is a form image layers are published in, for the drivers that fetch them from a registry
// instead of having the engine write them: gzip blobs for a full pull (internal/pull), eStargz for
// the stargz snapshotter, … The engine publishes each layer once per format its drivers name,
// before any driver's clock starts, and hands every such driver the same blobs: two drivers of one
// format share one conversion and one push.
type Format interface {
	// Name identifies the format: drivers whose formats have one name share its blobs.
	Name() string
	// Convert writes layer src as a blob of this format to dst, and returns the blob's media type
	// and the annotations its descriptor carries (a TOC digest, an uncompressed size, …).
	Convert(ctx context.Context, src LayerSource, dst *os.File) (mediaType string, annotations map[string]string, err error)
}

// LayerSource is a layer as the engine exported it, to be converted into a Format.
type LayerSource struct {
	// Tar is the layer as an uncompressed tar (containerd's walking differ's output).
	Tar *io.SectionReader
	// Prioritized are the layer's files a program reads first (from the scenario's traces), in the
	// order it reads them: a format that can order them first, for prefetch, does.
	Prioritized []string
}

// Published is a chain of layers as published in one Format in the run's registry.
type Published struct {
	// Ref is the repository the blobs are in: host:port/name.
	Ref string
	// Layers are the committed snapshot names, bottom first, and Blobs their blobs in the same order.
	Layers []string
	Blobs  []ocispec.Descriptor
}

// Bytes is the chain's blobs' size: what a pull of all of it fetches.
func (p Published) Bytes() int64 {
	var n int64
	for _, b := range p.Blobs {
		n += b.Size
	}
	return n
}

// LayerReceiver is implemented by an Instance whose layers are received rather than written: a
// remote snapshotter (stargz, soci) prepares a committed snapshot from a layer blob it fetches (lazily)
// from a registry, where every other driver has the engine prepare an active snapshot, write the
// layer's tree into it and commit it. The engine type-asserts it and, for such an instance, publishes
// each layer in its Format (as another driver exported it) and calls ReceiveLayer once per layer, in
// build order; it then mounts a view of the snapshot and verifies it like any other.
type LayerReceiver interface {
	// Format is the form the driver's layers are published in.
	Format() Format
	// ReceiveLayer makes the committed snapshot chain.Layers[n-1], on chain.Layers[n-2] (none when
	// n is 1), from the chain's blobs.
	ReceiveLayer(ctx context.Context, chain Published) error
}

// Puller is implemented by an Instance that pulls images itself, as a node that never had them
// would: a remote snapshotter mounting them lazily from the registry (stargz, soci). Every other driver is
// pulled into by the full pull of internal/pull (containerd's: fetch, decompress, apply and commit
// each layer through its snapshotter), behind the same interface. The engine's pull op times both
// the same way: Pull.Prepare and the mount of what it returns.
type Puller interface {
	// Format is the form the images it pulls are published in.
	Format() Format
	// Pull makes what a node that never had img starts a pull with: its snapshotter on empty caches,
	// reaching the registry through a network shaped to net. Nothing is fetched before Prepare.
	Pull(ctx context.Context, img Published, net network.Profile) (*Pull, error)
}

// Pull is an image to pull.
type Pull struct {
	// Prepare pulls the image and prepares active snapshot key on its top layer, returning its
	// mounts: the pull, and nothing else.
	Prepare func(ctx context.Context, key string) ([]mount.Mount, error)
	// Fetched is the bytes the registry has sent this pull so far.
	Fetched func() int64
	// Close unmounts and removes everything the pull made; a second call does nothing.
	Close func(ctx context.Context) error
}
