// Package metric is the catalogue of everything seedbench measures: one entry per metric, the single
// source of its public name, unit, direction, kind, whether its time includes device flushes, the
// family it is reported in, the parameters that identify a point, and a one-line doc.
//
// Metric names are a public contract (dashboards, compare, run history depend on them). The engine
// records by catalogue ID and its recorder refuses anything else; stats, compare and report read the
// metadata from here instead of guessing it from a name; README.md's metric table is generated from
// it (TestREADMEMetricTable).
//
// A new metric is one entry in Catalogue (and a constant for its ID), recorded by the engine; the
// README table follows with `go test ./internal/metric -update`.
package metric

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/units"
)

// ID is a metric's public name: dotted, lower case ("copyup.latency"). It is a type of its own so
// that only the constants below, or a name read from a result file, stand for a metric: a plain
// string has to be converted on purpose.
type ID string

// Metric IDs.
const (
	LayerApply     ID = "layer.apply"
	LayerDiff      ID = "layer.diff"
	LayerDiffBytes ID = "layer.diff_bytes"

	SnapshotPrepare ID = "snapshot.prepare"
	SnapshotMount   ID = "snapshot.mount"
	SnapshotUnmount ID = "snapshot.unmount"
	SnapshotCommit  ID = "snapshot.commit"
	SnapshotRemove  ID = "snapshot.remove"

	OpCreate      ID = "op.create"
	OpLookup      ID = "op.lookup"
	OpRead        ID = "op.read"
	CopyupLatency ID = "copyup.latency"
	OpDelete      ID = "op.delete"
	OpRename      ID = "op.rename"

	TraceReplay     ID = "trace.replay"
	TraceFiles      ID = "trace.files"
	TraceBytes      ID = "trace.bytes"
	TraceShareFiles ID = "trace.share_files"
	TraceShareBytes ID = "trace.share_bytes"
	TracePageBytes  ID = "trace.page_bytes"
	TracePageShare  ID = "trace.page_share"
	TracePageRA     ID = "trace.page_bytes_readahead"
	PullReady       ID = "pull.ready"
	PullWorkload    ID = "pull.workload"
	PullDone        ID = "pull.done"
	PullFirstRead   ID = "pull.first_read"
	PullFetched     ID = "pull.fetched_bytes"
	PullImageBytes  ID = "pull.image_bytes"
	PullShare       ID = "pull.fetched_share"
	PullHeapPeak    ID = "pull.heap_peak"
	PullHeapAfter   ID = "pull.heap_after"
	BreakEvenReady  ID = "breakeven.ready"
	BreakEvenDone   ID = "breakeven.done"
	BreakEvenShare  ID = "breakeven.fetched_share"

	DiskUsed          ID = "disk.used"
	DiskInodes        ID = "disk.inodes"
	DiskSharedSavings ID = "disk.shared_savings"
	DiskVsUnique      ID = "disk.vs_unique"

	PagecacheResident      ID = "pagecache.resident"
	PagecacheSharedSavings ID = "pagecache.shared_savings"

	FitCopyup ID = "fit.copyup"
	FitLookup ID = "fit.lookup"

	IOReadBytes  ID = "io.read_bytes"
	IOWriteBytes ID = "io.write_bytes"
	IOFlushes    ID = "io.flushes"

	FloorCreate ID = "floor.create"
	FloorStat   ID = "floor.stat"
	FloorRead   ID = "floor.read"
	FloorCopy   ID = "floor.copy"
	FloorWrite  ID = "floor.write"
	FloorUnlink ID = "floor.unlink"
	FloorRmdir  ID = "floor.rmdir"
	FloorRename ID = "floor.rename"
	FloorFlush  ID = "floor.flush"
)

// FloorDriver is the name floor metrics are recorded under: not a driver, the plain filesystem the
// floors are measured on.
const FloorDriver = "floor"

// Unit of a metric's samples.
type Unit = string

// Units.
const (
	NS         Unit = "ns"
	Bytes      Unit = "bytes"
	Ratio      Unit = "ratio"
	Inodes     Unit = "inodes"
	Count      Unit = "count"
	NsPerByte  Unit = "ns/byte"
	NsPerLayer Unit = "ns/layer"
)

// Better says which direction of a metric is an improvement.
type Better = string

// Directions.
const (
	Lower  Better = "lower"
	Higher Better = "higher"
)

// Kind says how a metric's value behaves from run to run.
type Kind string

const (
	// Time is a latency: it varies from sample to sample and from run to run with the machine.
	Time Kind = "time"
	// Quantity is deterministic on the same plan (bytes, counts, ratios of them): a repeat of the
	// run gives the same value, so any change is a change.
	Quantity Kind = "quantity"
	// Derived is computed from other metrics' samples (a fit), not recorded.
	Derived Kind = "derived"
)

// Def is one metric of the catalogue.
type Def struct {
	ID     ID
	Unit   Unit
	Better Better
	Kind   Kind
	// Flushes: the measured call includes flushes to the device (an fsync of the copied file, a
	// snapshotter's metadata commit), so its cost follows the device's flush latency.
	Flushes bool
	// Family groups metrics shown in one table (a Families entry).
	Family string
	// Params are the parameter keys that may identify a point, in display order (a Keys entry each).
	Params []string
	Doc    string
	// Series: the samples are taken one after another in one container (a hundred creates in one
	// directory, fifty unlinks of one layer's files), so they are not independent: each changes
	// the state the next one meets. Their interval is computed from batches (stats.Summarize).
	Series bool
	// Floor is the floor metric measured in the same rounds with the same syscall pattern on a plain
	// filesystem (no snapshotter), which this metric is divided by to cancel the machine's own speed;
	// FloorBy, when set, picks it by a parameter's value instead (copy-up: write=first is a copy,
	// write=second a write). "" = none.
	Floor   ID
	FloorBy map[string]map[string]ID
}

// FloorOf returns the floor of metric id at params ("" = none).
func FloorOf(id ID, params map[string]string) ID {
	d, ok := Lookup(id)
	if !ok {
		return ""
	}
	for k, by := range d.FloorBy {
		if f, ok := by[params[k]]; ok {
			return f
		}
	}
	return d.Floor
}

// Catalogue is every metric seedbench records or derives, in report order: lifecycle first, then the
// four rules, then disk and page cache, then the derived fits.
var Catalogue = []Def{
	{ID: LayerApply, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "layer", Params: []string{PLayer},
		Floor: FloorFlush, Doc: "writing a layer's tree into its active snapshot (no fsync, as a build step)"},
	{ID: LayerDiff, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "layer", Params: []string{PLayer},
		Floor: FloorFlush, Doc: "exporting the committed layer as an uncompressed tar with containerd's walking differ"},
	{ID: LayerDiffBytes, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "layer", Params: []string{PLayer},
		Doc: "size of that tar"},
	{ID: SnapshotPrepare, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "snapshot", Params: []string{PLayer, PContainer},
		Floor: FloorFlush, Doc: "Prepare of an active snapshot: a build step's (layer) or a container's (container = its image)"},
	{ID: SnapshotMount, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "snapshot", Params: []string{PLayer, PContainer},
		Floor: FloorFlush, Doc: "mounting the active snapshot's mounts"},
	{ID: SnapshotUnmount, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "snapshot", Params: []string{PLayer, PContainer},
		Floor: FloorFlush, Doc: "unmounting it"},
	{ID: SnapshotCommit, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "snapshot", Params: []string{PLayer, PContainer},
		Floor: FloorFlush, Doc: "Commit of a build step's snapshot into a layer"},
	{ID: SnapshotRemove, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "snapshot", Params: []string{PLayer, PContainer},
		Floor: FloorFlush, Doc: "Remove of a container's snapshot or a committed layer"},
	{ID: OpCreate, Unit: NS, Better: Lower, Kind: Time, Family: "create", Params: []string{PImage, PSize},
		Floor: FloorCreate, Series: true, Doc: "open(O_CREAT|O_EXCL) + write + close of a new file in the container layer"},
	{ID: OpLookup, Unit: NS, Better: Lower, Kind: Time, Family: "lookup", Params: []string{PImage, PDepth, PLayers, PKind, PCache},
		Floor: FloorStat, Doc: "stat of a path at `depth` (1 = top image layer) of `layers`, or missing (kind=miss), parent dir already resolved"},
	{ID: OpRead, Unit: NS, Better: Lower, Kind: Time, Family: "read", Params: []string{PImage, PSize, PCache},
		Floor: FloorRead, Doc: "open + read to the end + close through the container"},
	{ID: CopyupLatency, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "copyup", Params: []string{PImage, PSize, PHow, PCache, PWrite},
		FloorBy: map[string]map[string]ID{PWrite: {"first": FloorCopy, "second": FloorWrite}}, Doc: "first modification of a lower file (write=first: the copy-up) and the second one (write=second: the write alone)"},
	{ID: OpDelete, Unit: NS, Better: Lower, Kind: Time, Family: "delete", Params: []string{PImage, PKind},
		FloorBy: map[string]map[string]ID{PKind: {"file": FloorUnlink, "dir": FloorRmdir}}, Series: true, Doc: "unlink / rmdir of a lower entry (a whiteout)"},
	{ID: OpRename, Unit: NS, Better: Lower, Kind: Time, Family: "rename", Params: []string{PImage, PResult},
		Floor: FloorRename, Series: true, Doc: "rename of a lower directory (result=exdev: the snapshotter refused, the caller must copy)"},
	{ID: TraceReplay, Unit: NS, Better: Lower, Kind: Time, Family: "trace", Params: []string{PImage, PTrace, PCache},
		Doc: "a real program's file accesses (a trace) replayed in order in a container: its start's I/O"},
	{ID: TraceFiles, Unit: Count, Better: Lower, Kind: Quantity, Family: "trace", Params: []string{PImage, PTrace},
		Doc: "regular files the trace opened or read"},
	{ID: TraceBytes, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "trace", Params: []string{PImage, PTrace},
		Doc: "distinct bytes of those files it read (an mmap counts whole)"},
	{ID: TraceShareFiles, Unit: Ratio, Better: Lower, Kind: Quantity, Family: "trace", Params: []string{PImage, PTrace},
		Doc: "trace.files ÷ the image's regular files: the share of the image the program needs"},
	{ID: TraceShareBytes, Unit: Ratio, Better: Lower, Kind: Quantity, Family: "trace", Params: []string{PImage, PTrace},
		Doc: "trace.bytes ÷ the image's bytes"},
	{ID: TracePageBytes, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "trace", Params: []string{PImage, PTrace},
		Doc: "bytes of the image's files in the page cache after the traced start, evicted before it, readahead off: the pages it read or faulted in (mincore)"},
	{ID: TracePageShare, Unit: Ratio, Better: Lower, Kind: Quantity, Family: "trace", Params: []string{PImage, PTrace},
		Doc: "trace.page_bytes ÷ the image's bytes"},
	{ID: TracePageRA, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "trace", Params: []string{PImage, PTrace},
		Doc: "the same with the filesystem's default readahead: what readahead adds to trace.page_bytes"},
	{ID: PullReady, Unit: NS, Better: Lower, Kind: Time, Family: "pull", Params: []string{PImage, PNetwork},
		Doc: "a node that never had the image, until a container of it is mounted: a full pull (fetch, decompress, apply, commit each layer) or a lazy one (mount each layer from the registry) + prepare + mount"},
	{ID: PullWorkload, Unit: NS, Better: Lower, Kind: Time, Family: "pull", Params: []string{PImage, PTrace, PNetwork},
		Doc: "the startup trace replayed in that container right after: what a lazy pull still fetches, it fetches here"},
	{ID: PullDone, Unit: NS, Better: Lower, Kind: Time, Family: "pull", Params: []string{PImage, PTrace, PNetwork},
		Doc: "pull.ready + pull.workload: until the program has started"},
	{ID: PullFirstRead, Unit: NS, Better: Lower, Kind: Time, Family: "pull", Params: []string{PImage, PTrace, PNetwork},
		Doc: "each file the start trace reads, its opens and reads in that first start summed: a sample per file and pull"},
	{ID: PullFetched, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "pull", Params: []string{PImage, PTrace, PNetwork},
		Doc: "bytes the registry sent until the startup workload was done (HTTP bodies and headers, as the proxy carried them)"},
	{ID: PullImageBytes, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "pull", Params: []string{PImage},
		Doc: "the image's layer blobs in the registry as the driver pulls them (gzip; eStargz for a lazy driver)"},
	{ID: PullShare, Unit: Ratio, Better: Lower, Kind: Quantity, Family: "pull", Params: []string{PImage, PTrace, PNetwork},
		Doc: "pull.fetched_bytes ÷ pull.image_bytes: the share of the image a start needed"},
	{ID: PullHeapPeak, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "pull", Params: []string{PImage, PTrace, PNetwork, PReadPct},
		Doc: "the Go heap's peak during the pull and the start, over what it held before: an in-process lazy snapshotter's caches (stargz, SOCI) or a full pull's buffers, the shaping proxy's included"},
	{ID: PullHeapAfter, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "pull", Params: []string{PImage, PTrace, PNetwork, PReadPct},
		Doc: "the Go heap's live bytes after the start (after a collection), over what it held before: what the lazy snapshotter keeps while the container runs"},
	{ID: BreakEvenReady, Unit: NS, Better: Lower, Kind: Time, Family: "breakeven", Params: []string{PImage, PNetwork, PReadPct},
		Doc: "pull.ready of a pull whose startup workload reads read_pct% of the image's bytes (a pull op's read_share)"},
	{ID: BreakEvenDone, Unit: NS, Better: Lower, Kind: Time, Family: "breakeven", Params: []string{PImage, PNetwork, PReadPct},
		Doc: "until that workload is done: where a lazy pull stops winning against a full pull"},
	{ID: BreakEvenShare, Unit: Ratio, Better: Lower, Kind: Quantity, Family: "breakeven", Params: []string{PImage, PNetwork, PReadPct},
		Doc: "bytes the registry sent until then ÷ pull.image_bytes"},
	{ID: DiskUsed, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "disk", Params: []string{PImages, PContainers},
		Doc: "statfs delta of the driver's dedicated backing after a sync: the images and N containers"},
	{ID: DiskInodes, Unit: Inodes, Better: Lower, Kind: Quantity, Family: "disk", Params: []string{PImages, PContainers},
		Doc: "inodes used on the backing, the same way"},
	{ID: DiskSharedSavings, Unit: Ratio, Better: Higher, Kind: Quantity, Family: "disk", Params: []string{PImages, PContainers},
		Doc: "1 − used / (every image and container as a full copy)"},
	{ID: DiskVsUnique, Unit: Ratio, Better: Lower, Kind: Quantity, Family: "disk", Params: []string{PImages, PContainers},
		Doc: "used / the images' unique layers"},
	{ID: PagecacheResident, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "pagecache", Params: []string{PImage, PContainers, PWorkingSet},
		Doc: "page cache held by the backing files after N containers read the working set (per-inode residency)"},
	{ID: PagecacheSharedSavings, Unit: Ratio, Better: Higher, Kind: Quantity, Family: "pagecache", Params: []string{PImage, PContainers, PWorkingSet},
		Doc: "1 − resident / (N × working set)"},
	{ID: IOReadBytes, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "io", Params: []string{PStep},
		Doc: "bytes the driver's backing device read during a step of the run (after a sync on each side)"},
	{ID: IOWriteBytes, Unit: Bytes, Better: Lower, Kind: Quantity, Family: "io", Params: []string{PStep},
		Doc: "bytes the driver's backing device wrote during the step"},
	{ID: IOFlushes, Unit: Count, Better: Lower, Kind: Quantity, Family: "io", Params: []string{PStep},
		Doc: "flushes (cache flush requests: fsync, journal commits) the backing device completed during the step"},
	{ID: FloorCreate, Unit: NS, Better: Lower, Kind: Time, Flushes: false, Family: "floor", Params: []string{PSize},
		Series: true, Doc: "floor of op.create: open(O_CREAT|O_EXCL) + write + close on a plain filesystem, in the same rounds"},
	{ID: FloorStat, Unit: NS, Better: Lower, Kind: Time, Family: "floor", Params: []string{PKind, PCache},
		Doc: "floor of op.lookup: stat of a path on a plain filesystem (cold: after the same eviction)"},
	{ID: FloorRead, Unit: NS, Better: Lower, Kind: Time, Family: "floor", Params: []string{PSize, PCache},
		Doc: "floor of op.read: open + read to the end + close of a file of the same size on a plain filesystem"},
	{ID: FloorCopy, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "floor", Params: []string{PSize, PCache},
		Doc: "floor of a copy-up: a new file filled by copy_file_range from one of the same size, fsynced, on a plain filesystem"},
	{ID: FloorWrite, Unit: NS, Better: Lower, Kind: Time, Family: "floor", Params: []string{PSize, PCache},
		Doc: "floor of a second write: open(O_APPEND) + write 1 byte + close of that copy"},
	{ID: FloorUnlink, Unit: NS, Better: Lower, Kind: Time, Family: "floor", Params: nil,
		Series: true, Doc: "floor of op.delete kind=file: unlink of a file on a plain filesystem"},
	{ID: FloorRmdir, Unit: NS, Better: Lower, Kind: Time, Family: "floor", Params: nil,
		Series: true, Doc: "floor of op.delete kind=dir: rmdir of an empty directory on a plain filesystem"},
	{ID: FloorRename, Unit: NS, Better: Lower, Kind: Time, Family: "floor", Params: nil,
		Series: true, Doc: "floor of op.rename: rename of a directory on a plain filesystem"},
	{ID: FloorFlush, Unit: NS, Better: Lower, Kind: Time, Flushes: true, Family: "floor", Params: []string{PStep},
		Doc: "floor of the snapshot and layer calls: a 4 KiB file created, written and fsynced on a plain filesystem"},
	{ID: FitCopyup, Unit: NsPerByte, Better: Lower, Kind: Derived, Family: "fit", Params: []string{PImage, PHow, PCache},
		Doc: "derived: copy-up = fixed cost + size / rate, from copyup.latency write=first"},
	{ID: FitLookup, Unit: NsPerLayer, Better: Lower, Kind: Derived, Family: "fit", Params: []string{PImage, PLayers, PKind, PCache},
		Doc: "derived: lookup cost per layer of depth, from op.lookup kind=hit"},
}

// Family is a group of metrics reported together.
type Family struct {
	ID    string
	Title string
}

// Families in report order.
var Families = []Family{
	{"layer", "layer.*"},
	{"snapshot", "snapshot.*"},
	{"create", "op.create"},
	{"lookup", "op.lookup"},
	{"read", "op.read"},
	{"copyup", "copyup.latency"},
	{"delete", "op.delete"},
	{"rename", "op.rename"},
	{"trace", "trace.*"},
	{"pull", "pull.*"},
	{"breakeven", "breakeven.*"},
	{"disk", "disk.*"},
	{"pagecache", "pagecache.*"},
	{"io", "io.*"},
	{"floor", "floor.*"},
	{"fit", "fit.*"},
}

var byID, rankOf = func() (map[ID]*Def, map[ID]int) {
	m, r := make(map[ID]*Def, len(Catalogue)), make(map[ID]int, len(Catalogue))
	for i := range Catalogue {
		m[Catalogue[i].ID], r[Catalogue[i].ID] = &Catalogue[i], i
	}
	return m, r
}()

// Lookup returns the catalogue entry of id; false when id is not a metric seedbench knows (a result
// file from another version may hold such names: readers treat them by their recorded unit).
func Lookup(id ID) (Def, bool) {
	if d := byID[id]; d != nil {
		return *d, true
	}
	return Def{}, false
}

// Check returns an error when params has a key the metric does not declare.
func (d *Def) Check(params map[string]string) error {
	for k := range params {
		if !slices.Contains(d.Params, k) {
			return fmt.Errorf("metric %s: parameter %q is not declared (declared: %s)", d.ID, k, strings.Join(d.Params, ", "))
		}
	}
	return nil
}

// Rank is a metric's position in the catalogue (report order); unknown names sort after every known
// one.
func Rank(id ID) int {
	if i, ok := rankOf[id]; ok {
		return i
	}
	return len(Catalogue)
}

// FamilyOf returns the family id of metric id: its catalogue entry's, else (a name seedbench does not
// know) its first dotted component.
func FamilyOf(id ID) string {
	if d := byID[id]; d != nil {
		return d.Family
	}
	first, _, _ := strings.Cut(string(id), ".")
	return first
}

// FamilyTitle is the heading of a family: its Families entry's title, else "<id>.*".
func FamilyTitle(family string) string {
	for _, f := range Families {
		if f.ID == family {
			return f.Title
		}
	}
	return family + ".*"
}

// FamilyRank is a family's report position; unknown families sort last.
func FamilyRank(family string) int {
	if i := slices.IndexFunc(Families, func(f Family) bool { return f.ID == family }); i >= 0 {
		return i
	}
	return len(Families)
}

// IsTime reports whether a metric is a time: by its catalogue entry, else by its recorded unit.
func IsTime(id ID, unit Unit) bool {
	if d := byID[id]; d != nil {
		return d.Kind == Time
	}
	return unit == NS
}

// BetterOf is the direction of metric id: its catalogue entry's, else lower.
func BetterOf(id ID) Better {
	if d := byID[id]; d != nil {
		return d.Better
	}
	return Lower
}

// Parameter keys.
const (
	PLayer      = "layer"
	PImage      = "image"
	PImages     = "images"
	PContainer  = "container"
	PContainers = "containers"
	PWorkingSet = "working_set"
	PTrace      = "trace"
	PFile       = "file"
	PSize       = "size"
	PDepth      = "depth"
	PLayers     = "layers"
	PKind       = "kind"
	PHow        = "how"
	PWrite      = "write"
	PStep       = "step"
	PResult     = "result"
	PCache      = "cache"
	PNetwork    = "network"
	PReadPct    = "read_pct"
)

// Values of the enumerated parameters. The scenario's op keys of the same names (cache, kind, how)
// take the same values, and the engine records them as given.
const (
	CacheWarm  = "warm"  // repeated on the same mount right after a warm-up pass
	CacheMount = "mount" // on a freshly mounted container: the snapshotter's own caches are empty
	CacheCold  = "cold"  // the backing files evicted from the page cache, dentries and inodes dropped

	LookupHit  = "hit"  // the path exists, at depth
	LookupMiss = "miss" // the path is in no layer (a negative lookup)

	DeleteFile = "file" // unlink of a lower file
	DeleteDir  = "dir"  // rmdir of a lower directory

	HowAppend   = "append"   // append a byte
	HowRdwr     = "rdwr"     // open O_RDWR without writing
	HowChmod    = "chmod"    // change the mode (metadata only with metacopy)
	HowTruncate = "truncate" // truncate to half its size

	WriteFirst  = "first"  // the first modification of a lower file: the copy-up
	WriteSecond = "second" // the second one, of the copy: the write alone

	RenameOK    = "ok"    // the snapshotter renamed the directory
	RenameEXDEV = "exdev" // it refused (EXDEV): the caller must copy
)

// The allowed values of each enumerated parameter, in display order; the first is a scenario's
// default. Callers must not modify them.
var (
	CacheModes    = []string{CacheWarm, CacheMount, CacheCold}
	LookupKinds   = []string{LookupHit, LookupMiss}
	DeleteKinds   = []string{DeleteFile, DeleteDir}
	Hows          = []string{HowAppend, HowRdwr, HowChmod, HowTruncate}
	Writes        = []string{WriteFirst, WriteSecond}
	RenameResults = []string{RenameOK, RenameEXDEV}
)

// Type is how a parameter's values are read and ordered.
type Type int

const (
	// NameValue: an identifier (a layer, an image); ordered as given by the reader (layer order), else
	// alphabetically.
	NameValue Type = iota
	// CountValue: a whole number, ordered by value.
	CountValue
	// SizeValue: an IEC size ("4KiB"), ordered by bytes.
	SizeValue
	// EnumValue: one of Values, ordered as listed.
	EnumValue
)

// KeyDef is one parameter key.
type KeyDef struct {
	Key    string
	Type   Type
	Values []string // EnumValue: the values, in display order
	Doc    string
}

// Keys are every parameter key, in display order: what identifies the stack first, then the point.
// The order is part of the public contract: it names the Go benchmark lines of the gobench export.
var Keys = []KeyDef{
	{Key: PLayer, Type: NameValue, Doc: "a layer of the scenario"},
	{Key: PImage, Type: NameValue, Doc: "an image of the scenario"},
	{Key: PImages, Type: CountValue, Doc: "how many of the scenario's images are built"},
	{Key: PContainer, Type: NameValue, Doc: "the image a container runs"},
	{Key: PContainers, Type: CountValue, Doc: "how many containers are started"},
	{Key: PWorkingSet, Type: SizeValue, Doc: "the bytes every container reads"},
	{Key: PTrace, Type: NameValue, Doc: "a recorded program trace"},
	{Key: PNetwork, Type: NameValue, Doc: "the network between the node and the registry: bandwidth and round-trip time"},
	{Key: PReadPct, Type: CountValue, Doc: "the percent of the image's bytes a pull's startup workload reads (read_share)"},
	{Key: PFile, Type: NameValue, Doc: "a file of a trace or a lazily pulled image"},
	{Key: PSize, Type: SizeValue, Doc: "a file's size"},
	{Key: PDepth, Type: CountValue, Doc: "the layer a path is found in (1 = the image's top layer)"},
	{Key: PLayers, Type: CountValue, Doc: "layers in the image"},
	{Key: PKind, Type: EnumValue, Values: slices.Concat(LookupKinds, DeleteKinds), Doc: "lookup hit|miss; delete file|dir"},
	{Key: PHow, Type: EnumValue, Values: Hows, Doc: "how a lower file is modified"},
	{Key: PCache, Type: EnumValue, Values: CacheModes, Doc: "cache state before the call"},
	{Key: PResult, Type: EnumValue, Values: RenameResults, Doc: "what a rename returned"},
	{Key: PWrite, Type: EnumValue, Values: Writes, Doc: "the first modification (the copy-up) or the second"},
	{Key: PStep, Type: NameValue, Doc: "a step of the run: build, containers, a workload op, teardown"},
}

// KeyRank is a key's display position; unknown keys sort after every known one.
func KeyRank(k string) int {
	if i := slices.IndexFunc(Keys, func(d KeyDef) bool { return d.Key == k }); i >= 0 {
		return i
	}
	return len(Keys)
}

// KeyOf returns the definition of key k, or nil.
func KeyOf(k string) *KeyDef {
	if i := slices.IndexFunc(Keys, func(d KeyDef) bool { return d.Key == k }); i >= 0 {
		return &Keys[i]
	}
	return nil
}

// SortKeys sorts parameter keys into display order (unknown ones alphabetically, after).
func SortKeys(keys []string) {
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := KeyRank(a), KeyRank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
}

// Number reads a parameter value as a number: a count, or an IEC size in bytes.
func Number(v string) (float64, bool) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f, true
	}
	if s, err := units.ParseSize(v); err == nil {
		return float64(s), true
	}
	return 0, false
}

// CompareValues orders two values of parameter key: an enumeration as listed, sizes and counts by
// magnitude, names by order (when given: e.g. the layers as built), then as strings.
func CompareValues(key, a, b string, order []string) int {
	if kd := KeyOf(key); kd != nil && kd.Type == EnumValue {
		if c := rank(kd.Values, a) - rank(kd.Values, b); c != 0 {
			return c
		}
	}
	if order != nil {
		if c := rank(order, a) - rank(order, b); c != 0 {
			return c
		}
	}
	na, aok := Number(a)
	nb, bok := Number(b)
	switch {
	case aok && bok && na != nb:
		if na < nb {
			return -1
		}
		return 1
	case aok && !bok:
		return -1
	case bok && !aok:
		return 1
	}
	return strings.Compare(a, b)
}

func rank(order []string, s string) int {
	if i := slices.Index(order, s); i >= 0 {
		return i
	}
	return len(order)
}
