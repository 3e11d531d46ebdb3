package scenario

import (
	"context"
	"io"

	"github.com/seedbench/seedbench/internal/network"
	"github.com/seedbench/seedbench/internal/units"
)

// Plan is a resolved, valid scenario: every default applied, --quick and --samples folded in, layers
// in build order, and the files the workload needs (lookup probes, copy-up targets, delete targets,
// the read working set) added to the layers that carry them. The replay engine executes a Plan and
// nothing else.
type Plan struct {
	Name        string
	Description string
	File        string // scenario file path
	SHA256      string // of the file's bytes
	Seed        int64
	Quick       bool
	Samples     int     // default samples per parameter point
	CITarget    float64 // adaptive sampling's target: relative half-width of the median's 95% CI
	Warmup      int
	Layers      []PlanLayer // parents before children
	Images      []PlanImage
	Ops         []PlanOp
	Drivers     []DriverSpec // as written in the scenario (may be empty: all available)
	Pairs       []Pair       // paired comparisons: their drivers are visited adjacently in each round
	// Containers is the sweep of container counts per image at which disk and page cache are
	// measured; its last value is the number of containers started per image, unless an image asks
	// for fewer.
	Containers []int
	// ImageSweep is the numbers of complete images (in Images order) at which disk is measured while
	// the layers are built; empty: none.
	ImageSweep []int
}

// PlanLayer is one layer to build.
type PlanLayer struct {
	Name   string
	Parent string // "" = none (FROM scratch)
	// Generate with every default resolved (nil = no generated tree).
	Generate *Generate
	// Files: the explicit entries, then the ones the workload added.
	Files  []File
	Delete []string
	Opaque []string
	// Image is set for a layer that comes from an image: its tar is applied first, then Files (the
	// ones the workload added).
	Image *ImageLayer
	Line  int
}

// ImageLayer is one layer of an image a scenario names (oci: or image:).
type ImageLayer struct {
	Source       string // the image, as opened: "oci PATH (REF)" or "image REF"
	Index, Count int    // 1-based position in the image, bottom first, and the image's layer count
	Digest       string // the blob's digest
	DiffID       string // the uncompressed tar's digest
	MediaType    string
	Size         int64 // the blob's bytes
	// DiskBytes and Entries are the layer's footprint, as layer.Stats counts it, from a scan of its
	// tar when the image was opened.
	DiskBytes, Entries int64
	// Tar opens the uncompressed tar; reading it to the end checks it against DiffID.
	Tar func(ctx context.Context) (io.ReadCloser, error) `json:"-"`
}

// ImageSource is an image a scenario's layer names: OCI (a path, relative to Dir) and Ref, or Image
// (a registry reference).
type ImageSource struct {
	OCI, Ref, Image string
	Dir             string // the scenario file's directory
	Line            int
}

// PlanImage is a named image and the chain of layers under it.
type PlanImage struct {
	Name       string
	Top        string
	Chain      []string // layer names, bottom → top
	Containers int      // containers started for this image
}

// Paths the workload adds to layers live under this directory in the image.
const WorkloadDir = "seedbench"

// PlanOp is one resolved workload op: the cross product of its lists is the set of parameter points.
type PlanOp struct {
	Index   int // position in the workload list
	Op      OpKind
	Images  []string
	Layer   string // modify/delete/read: the layer holding the targets
	Count   int
	Sizes   []units.Size
	Depths  []int
	Kinds   []string
	Caches  []string
	Hows    []string
	Samples int
	// MaxSamples bounds adaptive sampling (≥ Samples; equal when sampling is fixed).
	MaxSamples int
	Line       int

	// Lookup: Probes[d] are paths found at depth d (1 = the image's top layer) for each image,
	// keyed by image name then depth; Missing are paths present in no layer.
	Probes  map[string]map[int][]string
	Missing []string
	// Modify: Targets[size][how] are the lower files a container modifies for that point: one per
	// round (the warm-up rounds and the samples of each cache mode, in Caches order), so each round
	// makes a first modification in the same container.
	Targets map[units.Size]map[string][]string
	// Delete: lower files (kind=file) and empty lower directories (kind=dir) to remove.
	DeleteFiles []string
	DeleteDirs  []string
	// Trace: the accesses to replay (trace; pull: the startup workload).
	Trace *Trace
	// Pull: the networks the image is pulled over, in the order given.
	Networks []network.Profile
	// ReadShares: pull — the shares of the image's bytes the startup workload reads, in percent
	// (ascending), instead of Trace.
	ReadShares []int
	// Read: the working-set files, WorkingSet bytes in all.
	WorkingSet      units.Size
	WorkingSetFiles []string
	// Rename: lower directories to rename.
	RenameDirs []string
}
