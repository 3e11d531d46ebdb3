// Package scenario reads scenario files (YAML, schema v1): an image stack described as a DAG of
// layers, named images on top of it, containers per image, and a file workload. Load decodes strictly
// (an unknown key is an error), validates everything at once and reports each problem as
// FILE:LINE: field: message with the fix; Resolve turns a valid Scenario into a Plan the replay
// engine executes.
package scenario

import "github.com/seedbench/seedbench/internal/units"

// Scenario is one decoded scenario file.
type Scenario struct {
	// Name identifies the scenario in results (results/<name>/…); lower-case letters, digits, '-'.
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Seed makes every generated tree and every random choice reproducible. Mandatory.
	Seed *int64 `yaml:"seed"`
	// Layers, bottom-up like a Dockerfile. A layer's parent defaults to the layer listed before it.
	Layers []Layer `yaml:"layers"`
	// Images name tops of the layer DAG: image name → top layer name.
	Images Images `yaml:"images"`
	// Containers started per image: image name → count (default 1 for every image).
	Containers map[string]int `yaml:"containers,omitempty"`
	// Workload is run in each selected container, op by op.
	Workload []Op `yaml:"workload,omitempty"`
	// Drivers to run by default (names from `seedbench drivers`, or variants defined here); empty =
	// every available driver. The --drivers flag overrides it.
	Drivers []DriverSpec `yaml:"drivers,omitempty"`
	// Pairs are the paired comparisons the run is for: each names a base and a new driver of the
	// run, which every sample round then visits one right after the other (in a random order), and
	// which `seedbench compare RUN.json` judges on their per-round ratios.
	Pairs []Pair `yaml:"pairs,omitempty"`
	// Samples is the default number of measured samples per op and parameter point (default 10;
	// --quick uses 3, --samples overrides).
	Samples int `yaml:"samples,omitempty"`
	// MaxSamples caps adaptive sampling: after `samples` rounds, an op keeps sampling a parameter
	// point until the 95% confidence interval of every driver's median is within ci_target of it, or
	// max_samples rounds are done (default 2 × samples; --quick and --samples pin it to samples).
	MaxSamples int `yaml:"max_samples,omitempty"`
	// CITarget is the relative half-width of the median's 95% CI that adaptive sampling aims for
	// (default 0.05).
	CITarget *float64 `yaml:"ci_target,omitempty"`
	// Warmup is the number of discarded iterations before each warm measurement (default 1).
	Warmup *int `yaml:"warmup,omitempty"`
	// Sweep repeats measurements across a parameter (containers: disk and page cache per count).
	Sweep *Sweep `yaml:"sweep,omitempty"`
	// Quick overrides applied by --quick (smaller trees, fewer samples); keys as in generate.
	Quick *Quick `yaml:"quick,omitempty"`

	File string `yaml:"-"` // path it was loaded from
	Line int    `yaml:"-"`
	// SHA256 of the file's bytes (hex), set by Parse.
	SHA256 string `yaml:"-"`

	pos positions // field path → line, filled by Parse; validation's source of lines
}

// Images is an ordered image-name → top-layer map (order kept from the file).
type Images []Image

// Image is one named image: the layer at its top.
type Image struct {
	Name string
	Top  string
	Line int
}

// Layer is one image layer: a tree written on top of its parent, as one build step writes it.
type Layer struct {
	Name string `yaml:"name"`
	// Parent layer; "" (omitted) = the previous layer in the list; "scratch" = no parent.
	Parent string `yaml:"parent,omitempty"`
	// Generate a deterministic synthetic tree.
	Generate *Generate `yaml:"generate,omitempty"`
	// Files are explicit entries.
	Files []File `yaml:"files,omitempty"`
	// Delete removes paths of lower layers in this layer (whiteouts inside the image).
	Delete []string `yaml:"delete,omitempty"`
	// Opaque makes directories of lower layers opaque in this layer (their lower contents hidden).
	Opaque []string `yaml:"opaque,omitempty"`
	// Manifest names a file (relative to the scenario) listing entries captured from a real layer —
	// paths, types, sizes, modes, link targets — rebuilt with synthetic contents (manifest.go).
	Manifest string `yaml:"manifest,omitempty"`
	// OCI names an OCI image layout (a directory or a tar of one) or a `docker save` tarball,
	// relative to the scenario; Ref picks one of its images. Image names a registry reference
	// instead. Such an entry stands for every layer of the image, bottom first, applied from the
	// image's own tars: Name is the top one's, the ones below are Name-1, Name-2, … unless Names
	// lists every layer's name, bottom first.
	OCI   string   `yaml:"oci,omitempty"`
	Ref   string   `yaml:"ref,omitempty"`
	Image string   `yaml:"image,omitempty"`
	Names []string `yaml:"names,omitempty"`
	// BuiltBy is the command that builds the image a layer names, said when it cannot be opened.
	BuiltBy string `yaml:"built_by,omitempty"`

	Line int `yaml:"-"`
}

// FromImage reports whether the layer entry stands for an image's layers.
func (l *Layer) FromImage() bool { return l.OCI != "" || l.Image != "" }

// Generate describes a synthetic tree.
type Generate struct {
	Files int        `yaml:"files"`           // regular files (required, > 0)
	Dirs  int        `yaml:"dirs,omitempty"`  // directories (default files/10, at least 1)
	Total units.Size `yaml:"total,omitempty"` // total bytes of regular files (default files × median)
	// Depth is the maximum directory depth below Root (default 4).
	Depth int `yaml:"depth,omitempty"`
	// Fanout is the maximum subdirectories per directory (default 8).
	Fanout int `yaml:"fanout,omitempty"`
	// Root is the directory the tree is generated under (default usr/share/<layer name>).
	Root string    `yaml:"root,omitempty"`
	Size *SizeDist `yaml:"size,omitempty"`
	// Symlinks is the fraction (0..1) of extra entries that are symlinks to generated files (default 0.02).
	Symlinks *float64 `yaml:"symlinks,omitempty"`

	Line int `yaml:"-"`
}

// SizeDist is the distribution of generated file sizes; sizes are scaled so they add up to Total.
type SizeDist struct {
	Dist   string     `yaml:"dist,omitempty"`   // lognormal (default) | uniform | fixed
	Median units.Size `yaml:"median,omitempty"` // default 4KiB
	Min    units.Size `yaml:"min,omitempty"`    // default 0B
	Max    units.Size `yaml:"max,omitempty"`    // default 8MiB
	Sigma  *float64   `yaml:"sigma,omitempty"`  // lognormal shape (default 1.5)

	Line int `yaml:"-"`
}

// File is one explicit entry.
type File struct {
	Path string `yaml:"path"`
	// Type: file (default), dir, symlink, hardlink.
	Type string     `yaml:"type,omitempty"`
	Size units.Size `yaml:"size,omitempty"`
	// Mode in octal, e.g. "0755" (default 0644 for files, 0755 for dirs).
	Mode string `yaml:"mode,omitempty"`
	// Target of a symlink (any string) or a hardlink (a path in this layer or below).
	Target string `yaml:"target,omitempty"`

	// fromManifest: the entry came from the layer's manifest (a --quick plan keeps a sample of those).
	fromManifest bool

	Line int `yaml:"-"`
}

// Op is one workload step. Which keys apply depends on Op; lists make a cross product of
// parameter points, each measured Samples times.
type Op struct {
	// Op: create | lookup | read | modify | delete | rename | trace | pull.
	Op string `yaml:"op"`
	// Image whose containers run the op (default: every image).
	Image string `yaml:"image,omitempty"`
	// Count: files created (create), entries deleted (delete) per container.
	Count int `yaml:"count,omitempty"`
	// Size: create and modify file sizes.
	Size []units.Size `yaml:"size,omitempty"`
	// Depth: lookup depths ("all", or a list of 1-based depths, 1 = the image's top layer).
	Depth Depth `yaml:"depth,omitempty"`
	// Kind: lookup hit|miss; delete file|dir.
	Kind []string `yaml:"kind,omitempty"`
	// Cache: warm | mount | cold (default warm).
	Cache []string `yaml:"cache,omitempty"`
	// How: modify append | rdwr | chmod | truncate (default append).
	How []string `yaml:"how,omitempty"`
	// Layer: the layer whose files are modified/deleted (default: the image's bottom layer).
	Layer string `yaml:"layer,omitempty"`
	// WorkingSet: read — bytes every container reads (added to Layer as files).
	WorkingSet units.Size `yaml:"working_set,omitempty"`
	// Files: read — how many files the working set is split into (default 1).
	Files int `yaml:"files,omitempty"`
	// Trace: trace — a trace file (relative to the scenario) of the files a real program touched,
	// recorded by `seedbench trace`.
	Trace string `yaml:"trace,omitempty"`
	// Networks: pull — the networks between the node and the registry, each "BANDWIDTH RTT"
	// ("100Mbit/s 20ms", "unlimited 0s").
	Networks []string `yaml:"networks,omitempty"`
	// ReadShare: pull — instead of a trace, a startup workload that reads each share of the image's
	// bytes ("5%": whole files of the image, picked by the seed, until 5% of its bytes are read),
	// one set of pulls per share: where a lazy pull stops winning.
	ReadShare []string `yaml:"read_share,omitempty"`
	// Samples overrides the scenario's samples for this op.
	Samples int `yaml:"samples,omitempty"`
	// MaxSamples overrides the scenario's max_samples for this op: a cap on adaptive sampling for
	// an op whose rounds are dear (a modify op's points each need a lower file per round).
	MaxSamples int `yaml:"max_samples,omitempty"`

	trace *Trace // the loaded trace file
	Line  int    `yaml:"-"`
}

// Depth is "all" or a list of depths.
type Depth struct {
	All    bool
	Levels []int
}

// DriverSpec names a driver, optionally as a variant with options:
//
//	drivers: [overlayfs, native, {name: overlay-nometa, driver: overlayfs, mount_options: [index=off]},
//	          {name: my-nydus, driver: proxy, socket: /run/containerd-nydus/containerd-nydus-grpc.sock}]
type DriverSpec struct {
	Name         string   `yaml:"name"`
	Driver       string   `yaml:"driver,omitempty"`        // base driver (default = Name)
	MountOptions []string `yaml:"mount_options,omitempty"` // overlay mount options
	Backing      string   `yaml:"backing,omitempty"`       // ext4 | xfs | btrfs | tmpfs
	// BackingSize fixes the size of the driver's backing filesystem (≥ MinBackingSize) instead of
	// the size the engine derives from the scenario: to measure a driver on a small disk, or running
	// out of it.
	BackingSize units.Size `yaml:"backing_size,omitempty"`
	// Socket is the unix socket the driver reaches its snapshotter through: a containerd daemon's
	// (a containerd-… driver then uses that daemon instead of starting one of its own) or a
	// snapshotter's gRPC service (driver: proxy).
	Socket string `yaml:"socket,omitempty"`

	Line int `yaml:"-"`
}

// Pair is a paired comparison: New judged against Base, both drivers of the run.
type Pair struct {
	Base string `yaml:"base"`
	New  string `yaml:"new"`
}

// Sweep repeats a measurement across values of a parameter.
type Sweep struct {
	// Containers: disk and page-cache measurements after each of these container counts per image.
	Containers []int `yaml:"containers,omitempty"`
	// Images: disk measurements while the images are built, once each of these numbers of images
	// (in the order `images` lists them) has all its layers; before any container starts.
	Images []int `yaml:"images,omitempty"`
	Line   int   `yaml:"-"`
}

// Quick are the --quick overrides.
type Quick struct {
	// Scale multiplies every generated file count and total (default 0.25).
	Scale float64 `yaml:"scale,omitempty"`
	// Samples per point (default 3).
	Samples int `yaml:"samples,omitempty"`
	// MaxSize caps modify/create sizes, working sets and explicit files' sizes (default 16MiB).
	MaxSize units.Size `yaml:"max_size,omitempty"`
	Line    int        `yaml:"-"`
}
