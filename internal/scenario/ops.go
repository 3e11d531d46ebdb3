package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/units"
)

// OpKind names a workload op.
type OpKind string

// The workload ops: the four rules of layered storage and what they imply.
const (
	OpCreate OpKind = "create"
	OpLookup OpKind = "lookup"
	OpRead   OpKind = "read"
	OpModify OpKind = "modify"
	OpDelete OpKind = "delete"
	OpRename OpKind = "rename"
	OpTrace  OpKind = "trace"
	OpPull   OpKind = "pull"
)

// opSpec is everything the scenario package knows about one op kind: the keys it takes, how its
// values are checked and defaulted, the files it adds to the image, and what it writes into a
// container (for the run's size estimate). The engine registers a runner for each kind
// (internal/replay); adding an op is a spec here, a runner there, and its docs
// (scenarios/README.md, and the metric catalogue if it records a new metric).
type opSpec struct {
	kind OpKind
	// keys are the keys it takes besides commonOpKeys. The shared checks and defaults below apply
	// to a key when the op takes it: count (1..maxCount, default defaultCount), size (IEC sizes,
	// default DefaultOpSize, capped by --quick), kind (one of kinds, default kinds[0]), how (one of
	// hows, default hows[0]), depth, layer (default: the image's bottom layer).
	keys         []string
	kinds        []string
	hows         []string
	maxCount     int64
	defaultCount int
	// check validates what the shared checks do not (nil = nothing more). wp is the op's path.
	check func(v *validator, op *Op, wp string)
	// targets adds the files the op needs to the layers and records them in po; dir is the op's
	// own directory under WorkloadDir.
	targets func(r *resolver, po *PlanOp, op *Op, dir string)
	// writes is what one run of the op writes into a container on top of its image: the bytes of
	// the files it creates, and those of the lower files it copies up (nil = nothing).
	writes func(po *PlanOp) (created, copiedUp int64)
}

// commonOpKeys are the keys every op takes.
var commonOpKeys = []string{"op", "image", "cache", "samples", "max_samples"}

var opSpecs = []opSpec{
	{
		kind: OpCreate, keys: []string{"count", "size"}, maxCount: maxCount, defaultCount: DefaultCreateCount,
		writes: func(po *PlanOp) (int64, int64) { return units.SatMul(int64(po.Count), sizesOnDisk(po.Sizes)), 0 },
	},
	{
		kind: OpLookup, keys: []string{"depth", "kind"}, kinds: metric.LookupKinds,
		targets: (*resolver).lookupTargets,
	},
	{
		kind: OpRead, keys: []string{"layer", "working_set", "files"},
		check: (*validator).readOp, targets: (*resolver).readTargets,
	},
	{
		kind: OpModify, keys: []string{"layer", "size", "how"}, hows: metric.Hows,
		targets: (*resolver).modifyTargets,
		writes: func(po *PlanOp) (int64, int64) {
			rounds := 0
			if len(po.Sizes) > 0 && len(po.Hows) > 0 {
				rounds = len(po.Targets[po.Sizes[0]][po.Hows[0]])
			}
			return 0, units.SatMul(sizesOnDisk(po.Sizes), units.SatMul(int64(len(po.Hows)), int64(rounds)))
		},
	},
	{
		kind: OpDelete, keys: []string{"layer", "count", "kind"}, kinds: metric.DeleteKinds,
		maxCount: maxTargets, defaultCount: DefaultDeleteCount, targets: (*resolver).deleteTargets,
	},
	{
		kind: OpRename, keys: []string{"layer", "count"}, maxCount: maxTargets, defaultCount: DefaultRenameCount,
		targets: (*resolver).renameTargets,
	},
	{
		kind: OpTrace, keys: []string{"trace"}, check: (*validator).traceOp, targets: (*resolver).traceTargets,
	},
	{
		kind: OpPull, keys: []string{"trace", "networks", "read_share"}, check: (*validator).pullOp, targets: (*resolver).pullTargets,
	},
}

// OpKinds lists every op kind, in the order the documentation lists them.
func OpKinds() []OpKind {
	out := make([]OpKind, len(opSpecs))
	for i, s := range opSpecs {
		out[i] = s.kind
	}
	return out
}

func specOf(kind OpKind) *opSpec {
	for i := range opSpecs {
		if opSpecs[i].kind == kind {
			return &opSpecs[i]
		}
	}
	return nil
}

func opNames() []string {
	out := make([]string, len(opSpecs))
	for i, s := range opSpecs {
		out[i] = string(s.kind)
	}
	return out
}

// takes reports whether the op takes key.
func (s *opSpec) takes(key string) bool {
	return slices.Contains(commonOpKeys, key) || slices.Contains(s.keys, key)
}

// allowed lists every key the op takes.
func (s *opSpec) allowed() []string { return append(slices.Clone(commonOpKeys), s.keys...) }

// Writes is what one run of the op writes into a container on top of its image: the bytes of the
// files it creates and of the lower files it copies up (block-rounded).
func (o *PlanOp) Writes() (created, copiedUp int64) {
	if s := specOf(o.Op); s != nil && s.writes != nil {
		return s.writes(o)
	}
	return 0, 0
}

// sizesOnDisk is the block-rounded sum of sizes.
func sizesOnDisk(sizes []units.Size) int64 {
	var n int64
	for _, s := range sizes {
		n = units.SatAdd(n, (int64(s)+4095)/4096*4096)
	}
	return n
}

func (v *validator) readOp(op *Op, wp string) {
	switch {
	case op.WorkingSet == 0 && !v.pos.has(join(wp, "working_set")):
		v.addf(wp, "read needs working_set, the bytes every container reads: add `working_set: 64MiB`")
	case v.size(join(wp, "working_set"), "working_set", op.WorkingSet, false):
		if v.given(join(wp, "files"), op.Files != 0) && v.intRange(join(wp, "files"), "files", int64(op.Files), 1, maxTargets, "") &&
			units.Size(op.Files) > op.WorkingSet {
			v.addf(join(wp, "files"), "%d files cannot split working_set %s (at least 1 byte each): lower files", op.Files, op.WorkingSet)
		}
	}
}

func (r *resolver) lookupTargets(po *PlanOp, op *Op, _ string) {
	shortest := 0
	for k, name := range po.Images {
		if c := r.st.chains[name]; k == 0 || len(c) < shortest {
			shortest = len(c)
		}
	}
	if op.Depth.All || len(op.Depth.Levels) == 0 {
		for d := 1; d <= shortest; d++ {
			po.Depths = append(po.Depths, d)
		}
	} else {
		po.Depths = slices.Clone(op.Depth.Levels)
	}
	po.Probes = map[string]map[int][]string{}
	for _, name := range po.Images {
		byDepth := map[int][]string{}
		c := r.st.chains[name]
		for j, layer := range c {
			byDepth[len(c)-j] = r.probes(layer)
		}
		po.Probes[name] = byDepth
	}
	for n := range ProbesPerLayer {
		po.Missing = append(po.Missing, fmt.Sprintf("%s/probe/missing-%d", WorkloadDir, n))
	}
}

func (r *resolver) modifyTargets(po *PlanOp, _ *Op, dir string) {
	po.Targets = map[units.Size]map[string][]string{}
	for _, s := range po.Sizes {
		po.Targets[s] = map[string][]string{}
		for _, how := range po.Hows {
			for k := range po.ModifyRounds(r.p.Warmup) {
				t := fmt.Sprintf("%s%s-%s-r%d", dir, s, how, k)
				r.add(po.Layer, File{Path: t, Size: s})
				po.Targets[s][how] = append(po.Targets[s][how], t)
			}
		}
	}
}

// ModifyRounds is how many rounds a modify op makes, each on lower files of its own: the warm-up
// rounds and the samples, for each cache mode.
func (o *PlanOp) ModifyRounds(warmup int) int {
	return len(o.Caches) * (warmup + o.MaxSamples)
}

func (r *resolver) deleteTargets(po *PlanOp, _ *Op, dir string) {
	for _, kind := range po.Kinds {
		for n := range po.Count {
			if kind == metric.DeleteFile {
				t := dir + "f" + strconv.Itoa(n)
				r.add(po.Layer, File{Path: t, Size: DeleteFileSize})
				po.DeleteFiles = append(po.DeleteFiles, t)
			} else {
				t := dir + "d" + strconv.Itoa(n)
				r.add(po.Layer, File{Path: t, Type: "dir"})
				po.DeleteDirs = append(po.DeleteDirs, t)
			}
		}
	}
}

func (r *resolver) readTargets(po *PlanOp, op *Op, dir string) {
	po.WorkingSet = r.capSize(op.WorkingSet)
	files := max(op.Files, 1)
	files = int(min(units.Size(files), po.WorkingSet))
	each, extra := po.WorkingSet/units.Size(files), po.WorkingSet%units.Size(files)
	for n := range files {
		s := each
		if units.Size(n) < extra {
			s++ // spread the remainder so the files add up to the working set exactly
		}
		t := dir + "w" + strconv.Itoa(n)
		r.add(po.Layer, File{Path: t, Size: s})
		po.WorkingSetFiles = append(po.WorkingSetFiles, t)
	}
}

func (r *resolver) renameTargets(po *PlanOp, _ *Op, dir string) {
	for n := range po.Count {
		t := dir + "r" + strconv.Itoa(n)
		r.add(po.Layer, File{Path: t, Type: "dir"})
		r.add(po.Layer, File{Path: t + "/x", Size: RenameFileSize})
		po.RenameDirs = append(po.RenameDirs, t)
	}
}

// opKeysDoc lists the keys of each op as scenarios/README.md documents them.
func opKeysDoc() map[string][]string {
	out := map[string][]string{}
	for _, s := range opSpecs {
		out[string(s.kind)] = s.keys
	}
	return out
}

// kindValues are every op's kind values, for the schema's enum.
func kindValues() []string {
	var out []string
	for _, s := range opSpecs {
		for _, k := range s.kinds {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// howValues are the how values (modify's).
func howValues() []string {
	var out []string
	for _, s := range opSpecs {
		out = append(out, s.hows...)
	}
	return out
}

func joinOps() string { return strings.Join(opNames(), "|") }
