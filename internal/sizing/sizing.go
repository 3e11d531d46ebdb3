// Package sizing says how large each driver's backing is made, and what a replay is expected to
// take from the host. The same formulas serve twice: estimated from the Plan alone before anything
// is built or mounted (Estimate, for the pre-flight check of internal/preflight), and from the
// layers as built when the engine opens the drivers (BackingSize, ImageSize).
package sizing

import (
	"math"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/units"
)

const (
	block = 4096
	gib   = 1 << 30
	// ext4BytesPerInode is the inode ratio internal/backing formats ext4 images with.
	ext4BytesPerInode = 8192
	// entryMemory is what the engine holds per tree entry (the entry in its layer's tree, built,
	// and in the expected view of each image and container showing it), measured with room to
	// spare: ~150 B live per tree entry, ~330 B per view entry.
	entryMemory = 512
	// baseMemory is the engine's own footprint besides the trees: containerd's libraries, buffers.
	baseMemory = 256 << 20
	// snapshotterOverhead is what a snapshotter writes besides the snapshots: its metadata database
	// (bolt grows in steps), the snapshot dirs, the mount points.
	snapshotterOverhead = 16 << 20
)

// LayerSize is one layer's footprint: block-rounded bytes (file sizes rounded up to 4 KiB, 4 KiB
// per directory, as layer.Stats counts DiskBytes) and entries.
type LayerSize struct {
	DiskBytes int64
	Entries   int64
}

// Plan estimates every layer's footprint from the plan alone, without building its tree
// (a scenario too large for this host must be refused before its trees fill memory): a generated
// tree's total, plus half a block of rounding per file and a block per directory; explicit files
// rounded up to a block.
func Plan(plan *scenario.Plan) map[string]LayerSize {
	out := map[string]LayerSize{}
	for _, pl := range plan.Layers {
		var s LayerSize
		if il := pl.Image; il != nil {
			s.DiskBytes, s.Entries = il.DiskBytes, il.Entries
		}
		if g := pl.Generate; g != nil {
			symlinks := 0.0
			if g.Symlinks != nil {
				symlinks = *g.Symlinks
			}
			s.DiskBytes = sat(int64(g.Total), sat(int64(g.Files)*block/2, int64(g.Dirs)*block))
			s.Entries = int64(g.Files) + int64(g.Dirs) + int64(math.Round(symlinks*float64(g.Files)))
		}
		for _, f := range pl.Files {
			s.Entries++
			switch f.Type {
			case "", "file":
				s.DiskBytes = sat(s.DiskBytes, (int64(f.Size)+block-1)/block*block)
			case "dir":
				s.DiskBytes = sat(s.DiskBytes, block)
			}
		}
		s.Entries += int64(len(pl.Delete) + len(pl.Opaque))
		out[pl.Name] = s
	}
	return out
}

// Realised are the footprints of the layers as built.
func Realised(ls []result.Layer) map[string]LayerSize {
	out := map[string]LayerSize{}
	for _, l := range ls {
		out[l.Name] = LayerSize{DiskBytes: l.DiskBytes,
			Entries: int64(l.Files + l.Dirs + l.Symlinks + l.Hardlinks + l.Whiteouts + l.Opaques)}
	}
	return out
}

// fullCopies is what a driver that copies the whole parent on every Prepare stores: every
// committed layer as a full copy of its chain, and every container plus two fresh ones (the copy-up
// ops start fresh containers) as a full copy of its image — in bytes and in entries.
func fullCopies(plan *scenario.Plan, layers map[string]LayerSize) (bytes, entries int64) {
	for _, img := range plan.Images {
		var chain, chainEntries int64
		for i, n := range img.Chain {
			chain = sat(chain, layers[n].DiskBytes)
			chainEntries = sat(chainEntries, layers[n].Entries)
			bytes = sat(bytes, mulDiv(chain, int64(i+1), int64(len(img.Chain)))) // committed full copies, roughly
			entries = sat(entries, mulDiv(chainEntries, int64(i+1), int64(len(img.Chain))))
		}
		bytes = sat(bytes, mul(chain, int64(img.Containers+2)))
		entries = sat(entries, mul(chainEntries, int64(img.Containers+2)))
	}
	return bytes, entries
}

// uniqueLayers is what a driver that shares layers stores: every layer once.
func uniqueLayers(layers map[string]LayerSize) (bytes, entries int64) {
	for _, s := range layers {
		bytes, entries = sat(bytes, s.DiskBytes), sat(entries, s.Entries)
	}
	return bytes, entries
}

// imageWrites is what the workload writes into one container of each image on top of the image:
// the files an image's create ops make and the lower files its modify ops copy up (a copy per size,
// how and round), all in its first container.
type imageWrites struct{ created, copiedUp int64 }

func writesByImage(plan *scenario.Plan) map[string]imageWrites {
	by := map[string]imageWrites{}
	for i := range plan.Ops {
		created, copiedUp := plan.Ops[i].Writes()
		for _, img := range plan.Ops[i].Images {
			w := by[img]
			w.created, w.copiedUp = sat(w.created, created), sat(w.copiedUp, copiedUp)
			by[img] = w
		}
	}
	return by
}

// workloadWrites is what the workload writes into containers on top of their images: created files
// and copy-ups, both in each image's first container (a modify op's every round copies up lower
// files of its own there, counted in its writes).
func workloadWrites(plan *scenario.Plan) (created, copiedUp int64) {
	for _, w := range writesByImage(plan) {
		created, copiedUp = sat(created, w.created), sat(copiedUp, w.copiedUp)
	}
	return created, copiedUp
}

// reflinks says a backing shares a copy's blocks with its source: on xfs and btrfs overlayfs
// copies up by cloning, and a btrfs snapshot shares every block until one is written, so a copy-up
// takes a few blocks of its own, not the file's size.
func reflinks(backing string) bool { return backing == "xfs" || backing == "btrfs" }

// ImageSize is the largest container the plan makes, in bytes (drivers.Options.ImageSize): the
// biggest image (all its layers' trees, as files) and the most the workload adds to one container's
// filesystem when it writes in place (a snapshot that is a whole filesystem, as blockfile's): the
// files it creates. A modification rewrites its file where it is — no copy-up — and grows it by a
// byte or two at most.
func ImageSize(plan *scenario.Plan, layers map[string]LayerSize) int64 {
	var image, growth int64
	for _, img := range plan.Images {
		var n int64
		for _, l := range img.Chain {
			n = sat(n, layers[l].DiskBytes)
		}
		image = max(image, n)
	}
	for _, w := range writesByImage(plan) {
		growth = max(growth, w.created)
	}
	return sat(image, growth)
}

// BackingSize sizes a driver's dedicated filesystem from the plan and its layers' footprints: room
// for every layer, every container and every fresh copy-up container as full copies (what a copying
// driver needs), twice over plus 1 GiB, in whole GiB — and at least enough for ext4 to have an inode
// for twice the entries a copying driver writes. The image file is sparse, so generosity costs
// little.
func BackingSize(plan *scenario.Plan, layers map[string]LayerSize) int64 {
	bytes, entries := fullCopies(plan, layers)
	total := max(sat(mul(bytes, 2), gib), mul(mul(entries, 2), ext4BytesPerInode))
	return mulDiv(sat(total, gib-1), 1, gib) * gib
}

// Need is what replaying a plan on one driver is expected to take from the host.
type Need struct {
	Driver string
	// Backing is the kind of the driver's backing: ext4, xfs, btrfs (loop-mounted images on the work
	// dir's filesystem), tmpfs (memory), dir (files on the work dir's filesystem), or a kind this
	// estimate does not know (a pool: nothing is estimated).
	Backing string
	// Size is the backing's size: an image's length, a tmpfs's limit (the scenario's backing_size,
	// or BackingSize).
	Size int64
	// Use is the bytes the replay is expected to write into the backing, at most Size: the snapshots
	// (full copies for a full-copy driver, every layer once for the others), the workload's writes,
	// and the filesystem's own metadata. A sparse image takes this much of the work dir's
	// filesystem.
	Use int64
	// Want is Use before it is capped at Size; Overflows says it exceeds Size: the backing is
	// expected to run out of space (a scenario's backing_size too small for it).
	Want      int64
	Overflows bool
	// Inodes is the entries the replay is expected to create in the backing.
	Inodes int64
	// Loop: the backing is a loop-mounted image.
	Loop bool
}

// Disk is the bytes the driver is expected to take on the work dir's filesystem.
func (n Need) Disk() int64 {
	switch n.Backing {
	case "ext4", "xfs", "btrfs", "dir":
		return n.Use
	}
	return 0
}

// Memory is the bytes of memory the driver's backing is expected to take (tmpfs).
func (n Need) Memory() int64 {
	if n.Backing == "tmpfs" {
		return n.Use
	}
	return 0
}

// HostInodes is the inodes the driver is expected to take on the work dir's filesystem.
func (n Need) HostInodes() int64 {
	switch n.Backing {
	case "ext4", "xfs", "btrfs":
		return 1 // the image
	case "dir":
		return n.Inodes
	}
	return 0
}

// Needs is what replaying a plan takes from the host.
type Needs struct {
	Drivers []Need
	// Store is the peak use of the content store on the work dir's filesystem: diffs are exported one
	// layer at a time and deleted once measured.
	Store int64
	// Memory is the engine's own: the layer trees, the expected views of images and containers, the
	// buffers of the largest create op.
	Memory int64
}

// Disk is the bytes the whole replay is expected to take on the work dir's filesystem: every driver's
// (they run side by side) and the content store.
func (ns Needs) Disk() int64 {
	total := ns.Store
	for _, n := range ns.Drivers {
		total = sat(total, n.Disk())
	}
	return total
}

// Estimate returns what replaying plan on ds is expected to take from the host, from the plan alone
// (nothing is built or mounted). A driver's fixed backing size (Info.BackingSize) is honoured.
func Estimate(plan *scenario.Plan, ds []drivers.Driver) Needs {
	layers := Plan(plan)
	size := BackingSize(plan, layers)
	fullBytes, fullEntries := fullCopies(plan, layers)
	uniqueBytes, uniqueEntries := uniqueLayers(layers)
	created, copiedUp := workloadWrites(plan)

	var ns Needs
	for _, d := range ds {
		info := d.Info()
		n := Need{Driver: info.Name, Backing: info.Backing, Size: size}
		if info.BackingSize > 0 {
			n.Size = info.BackingSize
		}
		data, entries := uniqueBytes, uniqueEntries
		if info.Capabilities.FullCopy {
			data, entries = fullBytes, fullEntries
		}
		data = sat(data, created)
		if !reflinks(n.Backing) {
			data = sat(data, copiedUp)
		}
		// A tenth more for directories' growth, the journal's churn and allocation slack.
		n.Want = sat(sat(sat(data, data/10), snapshotterOverhead), fsOverhead(n.Backing, n.Size))
		n.Use, n.Overflows = min(n.Size, n.Want), n.Want > n.Size
		n.Inodes = entries
		n.Loop = n.Backing == "ext4" || n.Backing == "xfs" || n.Backing == "btrfs"
		ns.Drivers = append(ns.Drivers, n)
	}

	// One exported diff at a time: the largest layer's bytes plus a tar header (and padding) per entry.
	for _, s := range layers {
		ns.Store = max(ns.Store, sat(s.DiskBytes, mul(s.Entries, 1024)))
	}

	var treeEntries, viewEntries int64
	for _, s := range layers {
		treeEntries = sat(treeEntries, s.Entries)
	}
	for _, img := range plan.Images {
		var chain int64
		for _, n := range img.Chain {
			chain = sat(chain, layers[n].Entries)
		}
		viewEntries = sat(viewEntries, mul(chain, int64(img.Containers+1)))
	}
	// The largest op's buffers: a create op holds every file's contents before it times them.
	var buffers int64
	for i := range plan.Ops {
		created, _ := plan.Ops[i].Writes()
		buffers = max(buffers, created)
	}
	ns.Memory = sat(sat(mul(sat(treeEntries, viewEntries), entryMemory), buffers), baseMemory)
	return ns
}

// fsOverhead is what a fresh filesystem of kind and size takes of its image before any data (as
// measured after mkfs: ext4 ~1/32 of its size up to its 64 MiB journal, at least a 4 MiB one, plus
// bitmaps; xfs its 64 MiB log; btrfs a few MiB).
func fsOverhead(kind string, size int64) int64 {
	switch kind {
	case "ext4":
		return max(4<<20, min(size/32, 64<<20)) + size/1024
	case "xfs":
		return 64 << 20
	case "btrfs":
		return 16 << 20
	}
	return 0
}

// Saturating arithmetic: a hostile scenario must give a huge estimate, not a wrapped negative one.
var (
	sat = units.SatAdd[int64]
	mul = units.SatMul[int64]
)

func mulDiv(a, b, c int64) int64 {
	if a > math.MaxInt64/max(b, 1) {
		return a / c * b
	}
	return a * b / c
}
