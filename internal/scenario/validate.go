package scenario

import (
	"container/heap"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/units"
)

// The vocabulary of a scenario file besides the ops (ops.go). Validation, Resolve, the JSON schema and
// the README test all read these lists, so a new value is added in one place.
var (
	fileTypes = []string{"file", "dir", "symlink", "hardlink"}
	sizeDists = []string{"lognormal", "uniform", "fixed"}
	backings  = []string{"ext4", "xfs", "btrfs", "tmpfs"}
)

// Limits beyond which a value is a typo, not a benchmark.
const (
	maxGenFiles   = 10_000_000 // generate.files, generate.dirs
	maxBytes      = units.TiB  // any one size, a layer's total, the whole stack
	maxCount      = 1_000_000  // create count, per container
	maxTargets    = 10_000     // delete and rename counts and read files: each is an entry in a layer
	maxContainers = 1000
	maxSamples    = 100_000
	maxWarmup     = 1000
	maxGenDepth   = 32
	maxFanout     = 1024
	maxPathLen    = 3072 // a run prefixes < 256 bytes of its own (bench.MaxWorkDir and its dirs): the whole fits PATH_MAX
	maxPathDepth  = 64
	maxNameLen    = 255  // one path component
	maxIdentLen   = 63   // scenario, layer, image and driver names
	maxChain      = 128  // layers in one image (docker stops at 125)
	maxLayers     = 1000 // layers in a scenario
	maxImages     = 100
	maxOps        = 100
	maxDrivers    = 100
)

// MinBackingSize is the smallest backing_size a driver spec may set: below it mkfs itself fails or
// leaves no room for a snapshotter's metadata.
const MinBackingSize = 16 * units.MiB

var identRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ScratchParent is the parent of a layer built on nothing (FROM scratch).
const ScratchParent = "scratch"

type validator struct {
	*errorList
	sc          *Scenario
	checkDriver func(DriverSpec) (string, error)
	st          *stack
	tooMany     bool // a list is absurdly long: check nothing else
}

// validate checks sc, adding every problem to l, and returns the layer DAG as far as it is valid.
func validate(sc *Scenario, l *errorList, checkDriver func(DriverSpec) (string, error)) *stack {
	if l.pos == nil {
		l.pos = sc.pos
	}
	if l.pos == nil {
		l.pos = linesFromStructs(sc)
	}
	l.validating = true
	v := &validator{errorList: l, sc: sc, checkDriver: checkDriver}
	v.scenario()
	if v.tooMany {
		return &stack{byName: map[string]int{}, chains: map[string][]string{}}
	}
	v.st = v.layers()
	v.images()
	v.containers()
	for i := range sc.Workload {
		v.op(i)
	}
	v.drivers()
	v.pairs()
	v.sweep()
	v.quick()
	return v.st
}

// given reports whether the key at p was written in the file or holds a non-zero value.
func (v *validator) given(p string, nonzero bool) bool { return nonzero || v.pos.has(p) }

func (v *validator) ident(p, what, name, example string) bool {
	switch {
	case name == "":
		v.addf(p, "%s is required: add `%s`", what, example)
	case len(name) > maxIdentLen:
		v.addf(p, "%s %q is longer than %d characters: shorten it", what, name, maxIdentLen)
	case !identRE.MatchString(name):
		v.addf(p, "%s %q must match ^[a-z0-9][a-z0-9-]*$ (lower-case letters, digits, '-'): write %q", what, name, identFix(name))
	default:
		return true
	}
	return false
}

// identFix suggests a valid spelling of an invalid name.
func identFix(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "x"
	}
	if len(out) > maxIdentLen {
		out = out[:maxIdentLen]
	}
	return out
}

func (v *validator) enum(p, what, val string, allowed []string) bool {
	if slices.Contains(allowed, val) {
		return true
	}
	v.addf(p, "unknown %s %q%s: use one of %s", what, val, suggest(val, allowed), strings.Join(allowed, ", "))
	return false
}

// enumList checks a list of enum values: known, not repeated, not empty.
func (v *validator) enumList(p, what string, vals, allowed []string) {
	if vals != nil && len(vals) == 0 {
		v.addf(p, "empty list: omit the key for the default, or use some of %s", strings.Join(allowed, ", "))
	}
	seen := map[string]bool{}
	for i, x := range vals {
		ip := index(p, i)
		if len(vals) == 1 && !v.pos.has(ip) {
			ip = p
		}
		if !v.enum(ip, what, x, allowed) {
			continue
		}
		if seen[x] {
			v.addf(ip, "%q is listed twice: keep one", x)
		}
		seen[x] = true
	}
}

func (v *validator) intRange(p, what string, x, lo, hi int64, fix string) bool {
	if x < lo || x > hi {
		if x < lo {
			v.addf(p, "%s must be at least %d, got %d%s", what, lo, x, fix)
		} else {
			v.addf(p, "%s must be at most %d, got %d%s", what, hi, x, fix)
		}
		return false
	}
	return true
}

func (v *validator) size(p, what string, s units.Size, allowZero bool) bool {
	switch {
	case s < 0 || (!allowZero && s == 0):
		v.addf(p, "%s must be more than 0B, got %s", what, s)
	case s > maxBytes:
		v.addf(p, "%s %s is absurd: at most %s", what, s, maxBytes)
	default:
		return true
	}
	return false
}

func (v *validator) scenario() {
	sc := v.sc
	v.ident("name", "name", sc.Name, "name: my-scenario")
	if sc.Seed == nil {
		v.addf("seed", "seed is required (it makes every generated tree reproducible): add `seed: 42`")
	}
	if len(sc.Layers) == 0 {
		v.addf("layers", "at least one layer is required: add `layers: [{name: base, generate: {files: 1000}}]`")
	}
	for _, c := range []struct {
		key    string
		n, max int
	}{{"layers", len(sc.Layers), maxLayers}, {"images", len(sc.Images), maxImages}, {"workload", len(sc.Workload), maxOps}, {"drivers", len(sc.Drivers), maxDrivers}} {
		if c.n > c.max {
			v.addf(c.key, "%d %s, more than %d: split the scenario", c.n, c.key, c.max)
			v.tooMany = true
		}
	}
	if v.given("samples", sc.Samples != 0) {
		v.intRange("samples", "samples", int64(sc.Samples), 1, maxSamples, " (omit it for the default, 10)")
	}
	if sc.Warmup != nil {
		v.intRange("warmup", "warmup", int64(*sc.Warmup), 0, maxWarmup, "")
	}
	if v.given("max_samples", sc.MaxSamples != 0) {
		v.intRange("max_samples", "max_samples", int64(sc.MaxSamples), 1, maxSamples, " (omit it for the default, 2 × samples)")
	}
	if sc.CITarget != nil && !(*sc.CITarget > 0 && *sc.CITarget < 1) {
		v.addf("ci_target", "must be between 0 and 1 (exclusive), got %v: e.g. `ci_target: 0.05` for ±5%%", *sc.CITarget)
	}
}

// pathProblem returns what is wrong with a path inside the image ("" if nothing) and, when obvious,
// the spelling to use instead.
func pathProblem(p string) (problem, fix string) {
	switch {
	case p == "":
		return "is empty", ""
	case strings.IndexByte(p, 0) >= 0:
		return "contains a NUL byte", ""
	case len(p) > maxPathLen:
		return fmt.Sprintf("is %d bytes long, more than %d", len(p), maxPathLen), ""
	}
	if p == "." {
		return "must name an entry below the image root", ""
	}
	if n := strings.Count(p, "/") + 1; n > maxPathDepth {
		return fmt.Sprintf("has %d components, more than %d", n, maxPathDepth), ""
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "must not contain '..': paths name entries inside the image, relative to its root", ""
		}
		if len(c) > maxNameLen {
			return fmt.Sprintf("has a component of %d bytes, more than %d", len(c), maxNameLen), ""
		}
	}
	if strings.HasPrefix(p, "/") {
		fix := strings.TrimLeft(path.Clean(p), "/")
		if fix == "" {
			return "must name an entry below the image root", ""
		}
		return "must be relative to the image root", fix
	}
	if c := path.Clean(p); c != p {
		if c == "." {
			return "must name an entry below the image root", ""
		}
		return "is not clean", c
	}
	return "", ""
}

// checkPath reports a bad path at p; reserved paths (under WorkloadDir) are refused as well.
func (v *validator) checkPath(p, what, val string) bool {
	if val == "" {
		v.addf(p, "%s is required", what)
		return false
	}
	if problem, fix := pathProblem(val); problem != "" {
		if fix != "" {
			v.addf(p, "%s %q %s: write %q", what, val, problem, fix)
		} else {
			v.addf(p, "%s %q %s", what, val, problem)
		}
		return false
	}
	if val == WorkloadDir || strings.HasPrefix(val, WorkloadDir+"/") {
		v.addf(p, "%s %q is reserved for the files the workload adds (%s/): choose another path", what, val, WorkloadDir)
		return false
	}
	return true
}

var modeRE = regexp.MustCompile(`^0?[0-7]{1,4}$`)

// ParseMode parses a File mode: an octal string of at most 07777 ("0755", "644").
func ParseMode(s string) (uint32, error) {
	if !modeRE.MatchString(s) {
		return 0, fmt.Errorf("mode %q must be an octal number up to 07777: write e.g. \"0755\"", units.Clip(s))
	}
	m, err := strconv.ParseUint(s, 8, 32)
	return uint32(m), err
}

// stack is the layer DAG: each layer's parent (-1 = scratch), the build order, and image chains.
// Any field may be partial when the scenario is invalid.
type stack struct {
	byName map[string]int
	names  []string
	parent []int // -1 = scratch, -2 = unknown
	order  []int // nil when the parents do not form a DAG
	chains map[string][]string
}

// chain lists the layers under top, bottom → top.
func (s *stack) chain(top int) []string {
	var c []string
	for i := top; i >= 0 && len(c) <= maxChain; i = s.parent[i] {
		c = append(c, s.names[i])
	}
	slices.Reverse(c)
	return c
}

func (v *validator) layers() *stack {
	sc := v.sc
	st := &stack{byName: map[string]int{}, parent: make([]int, len(sc.Layers)), chains: map[string][]string{}}
	names := make([]string, len(sc.Layers))
	for i, l := range sc.Layers {
		p := index("layers", i)
		names[i] = l.Name
		v.ident(join(p, "name"), "layer name", l.Name, "name: base")
		switch first, dup := st.byName[l.Name]; {
		case l.Name == "":
		case l.Name == ScratchParent:
			v.addf(join(p, "name"), "%q is reserved for FROM scratch: choose another name", l.Name)
		case dup:
			v.addf(join(p, "name"), "duplicate layer name %q (first at line %d): rename one", l.Name, v.pos.line(index("layers", first)))
		default:
			st.byName[l.Name] = i
		}
		v.layerContent(i)
	}
	st.names = names
	ok := true
	for i, l := range sc.Layers {
		switch {
		case l.Parent == "" && i == 0:
			st.parent[i] = -1
		case l.Parent == "":
			st.parent[i] = i - 1
		case l.Parent == ScratchParent:
			st.parent[i] = -1
		default:
			j, found := st.byName[l.Parent]
			if !found {
				v.addf(join(index("layers", i), "parent"), "unknown parent %q%s: name a layer of this file (%s) or %s",
					l.Parent, suggest(l.Parent, sortedKeys(st.byName)), nameList(sortedKeys(st.byName)), ScratchParent)
				st.parent[i] = -2
				ok = false
				continue
			}
			st.parent[i] = j
		}
	}
	// Each layer has one parent, so a cycle is found by walking up from each layer; a layer
	// whose walk is finished (done) is never walked again, which keeps this linear.
	const (
		fresh = iota
		walking
		done
	)
	state := make([]int, len(sc.Layers))
	for i := range sc.Layers {
		var walk []int
		j := i
		for j >= 0 && state[j] == fresh {
			state[j] = walking
			walk = append(walk, j)
			j = st.parent[j]
		}
		if j >= 0 && state[j] == walking {
			// The walk came back to one of its own layers: from there on it is a cycle.
			cyc := walk[slices.Index(walk, j):]
			names, implicit := []string{}, false
			for _, k := range cyc {
				names = append(names, sc.Layers[k].Name)
				implicit = implicit || sc.Layers[k].Parent == ""
			}
			names = append(names, sc.Layers[cyc[0]].Name)
			hint := ""
			if implicit {
				hint = "; a layer without parent builds on the layer listed before it"
			}
			v.addf(join(index("layers", cyc[0]), "parent"), "the parents form a cycle, %s (each arrow points to a parent%s): start one of them FROM scratch (`parent: scratch`) or from a layer outside the cycle",
				strings.Join(names, " → "), hint)
			ok = false
		}
		for _, k := range walk {
			state[k] = done
		}
	}
	if !ok {
		return st
	}
	st.order = buildOrder(st.parent)
	v.visibility(st)
	return st
}

// buildOrder sorts layers parents-first, keeping file order wherever the parents allow.
func buildOrder(parent []int) []int {
	children := make([][]int, len(parent))
	var ready intHeap
	for i, p := range parent {
		if p < 0 {
			ready = append(ready, i)
		} else {
			children[p] = append(children[p], i)
		}
	}
	heap.Init(&ready)
	order := make([]int, 0, len(parent))
	for ready.Len() > 0 {
		i := heap.Pop(&ready).(int)
		order = append(order, i)
		for _, c := range children[i] {
			heap.Push(&ready, c)
		}
	}
	return order
}

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (v *validator) layerContent(i int) {
	l := v.sc.Layers[i]
	lp := index("layers", i)
	v.imageSource(i)
	if l.Generate != nil {
		v.generate(join(lp, "generate"), l.Name, l.Generate)
	}
	type seenAt struct {
		line int
		typ  string
	}
	seen := map[string]seenAt{}
	for j, f := range l.Files {
		fp := index(join(lp, "files"), j)
		okPath := v.checkPath(join(fp, "path"), "path", f.Path)
		typ := f.Type
		if typ == "" {
			typ = "file"
		} else if !v.enum(join(fp, "type"), "type", typ, fileTypes) {
			typ = ""
		}
		if okPath {
			if first, dup := seen[f.Path]; dup {
				v.addf(join(fp, "path"), "duplicate path %q in this layer (first at line %d): keep one", f.Path, first.line)
			} else {
				seen[f.Path] = seenAt{v.pos.line(fp), typ}
			}
		}
		if v.given(join(fp, "size"), f.Size != 0) && typ != "file" && typ != "" {
			v.addf(join(fp, "size"), "size applies only to type file, not %s: remove it", typ)
		} else {
			v.size(join(fp, "size"), "size", f.Size, true)
		}
		if f.Mode != "" {
			if typ == "symlink" || typ == "hardlink" {
				v.addf(join(fp, "mode"), "mode does not apply to a %s: remove it", typ)
			} else if _, err := ParseMode(f.Mode); err != nil {
				v.addf(join(fp, "mode"), "%v", err)
			}
		}
		switch typ {
		case "symlink":
			switch {
			case f.Target == "":
				v.addf(fp, "a symlink needs a target: add `target: some/path`")
			case strings.IndexByte(f.Target, 0) >= 0:
				v.addf(join(fp, "target"), "target contains a NUL byte")
			case len(f.Target) > maxPathLen:
				v.addf(join(fp, "target"), "target is %d bytes long, more than %d", len(f.Target), maxPathLen)
			}
		case "hardlink":
			switch {
			case f.Target == "":
				v.addf(fp, "a hardlink needs a target, a regular file of this layer or below: add `target: some/file`")
			case f.Target == f.Path:
				v.addf(join(fp, "target"), "a hardlink cannot point to itself")
			default:
				v.checkPath(join(fp, "target"), "target", f.Target)
			}
		default:
			if f.Target != "" {
				v.addf(join(fp, "target"), "target applies only to symlink and hardlink entries: remove it or set `type: symlink`")
			}
		}
	}
	// An entry cannot live inside a non-directory of the same layer. written maps each path the
	// files write, and each directory above one, to the first entry that writes it.
	written := make(map[string]int, len(l.Files))
	for j, f := range l.Files {
		if _, ok := written[f.Path]; !ok {
			written[f.Path] = j
		}
		ancestors(f.Path, func(d string) bool {
			if s, ok := seen[d]; ok && s.typ != "dir" {
				v.addf(join(index(join(lp, "files"), j), "path"), "%q is inside %q, which is a %s (line %d): make that a dir or move this entry", f.Path, d, s.typ, s.line)
				return false
			}
			if _, ok := written[d]; ok {
				return false // its ancestors are recorded already
			}
			written[d] = j
			return true
		})
	}
	gone := map[string]string{}
	for _, key := range []string{"delete", "opaque"} {
		list := l.Delete
		if key == "opaque" {
			list = l.Opaque
		}
		for j, x := range list {
			xp := index(join(lp, key), j)
			if !v.checkPath(xp, "path", x) {
				continue
			}
			if prev, dup := gone[x]; dup {
				v.addf(xp, "%q is already listed in %s: keep one", x, prev)
				continue
			}
			gone[x] = key
			if key == "delete" {
				if j, ok := written[x]; ok {
					v.addf(xp, "%q is deleted and also written by files (line %d) in the same layer: to replace a directory's contents use opaque", x, v.pos.line(index(join(lp, "files"), j)))
				}
			} else if s, ok := seen[x]; ok && s.typ != "dir" {
				v.addf(xp, "%q is made opaque but files (line %d) writes it as a %s in the same layer", x, s.line, s.typ)
			}
		}
	}
}

func (v *validator) generate(gp, layer string, g *Generate) {
	filesOK := false
	switch {
	case g.Files == 0 && !v.pos.has(join(gp, "files")):
		v.addf(gp, "generate needs files, the number of regular files: add `files: 1000`")
	default:
		filesOK = v.intRange(join(gp, "files"), "files", int64(g.Files), 1, maxGenFiles, "")
	}
	dirsOK := true
	if v.given(join(gp, "dirs"), g.Dirs != 0) {
		dirsOK = v.intRange(join(gp, "dirs"), "dirs", int64(g.Dirs), 1, maxGenFiles, " (omit it for files/10)")
	}
	totalOK := true
	if v.given(join(gp, "total"), g.Total != 0) {
		totalOK = v.size(join(gp, "total"), "total", g.Total, false)
	}
	shapeOK := true
	if v.given(join(gp, "depth"), g.Depth != 0) {
		shapeOK = v.intRange(join(gp, "depth"), "depth", int64(g.Depth), 1, maxGenDepth, "") && shapeOK
	}
	if v.given(join(gp, "fanout"), g.Fanout != 0) {
		shapeOK = v.intRange(join(gp, "fanout"), "fanout", int64(g.Fanout), 1, maxFanout, "") && shapeOK
	}
	if v.given(join(gp, "root"), g.Root != "") {
		v.checkPath(join(gp, "root"), "root", g.Root)
	}
	if g.Symlinks != nil && (*g.Symlinks < 0 || *g.Symlinks > 1 || math.IsNaN(*g.Symlinks)) {
		v.addf(join(gp, "symlinks"), "symlinks is a fraction between 0 and 1, got %v", *g.Symlinks)
	}
	distOK := true
	if sd := g.Size; sd != nil {
		sp := join(gp, "size")
		if sd.Dist != "" {
			distOK = v.enum(join(sp, "dist"), "dist", sd.Dist, sizeDists)
		}
		if v.given(join(sp, "median"), sd.Median != 0) {
			distOK = v.size(join(sp, "median"), "median", sd.Median, false) && distOK
		}
		if v.given(join(sp, "min"), sd.Min != 0) {
			distOK = v.size(join(sp, "min"), "min", sd.Min, true) && distOK
		}
		if v.given(join(sp, "max"), sd.Max != 0) {
			distOK = v.size(join(sp, "max"), "max", sd.Max, false) && distOK
		}
		if sd.Sigma != nil && (!(*sd.Sigma > 0) || *sd.Sigma > 10) {
			v.addf(join(sp, "sigma"), "sigma (the lognormal shape) must be in (0, 10], got %v", *sd.Sigma)
			distOK = false
		}
	}
	if !filesOK || !dirsOK || !totalOK || !shapeOK || !distOK {
		return
	}
	r := resolveGenerate(layer, g, 1)
	sp := join(gp, "size")
	d := r.Size
	if d.Median < d.Min {
		v.addf(join(sp, "median"), "median %s is below min %s: raise median or lower min", d.Median, d.Min)
		return
	}
	if d.Median > d.Max && d.Dist != "fixed" {
		v.addf(join(sp, "median"), "median %s is above max %s: raise max or lower median", d.Median, d.Max)
		return
	}
	files := units.Size(r.Files)
	switch {
	case d.Dist == "fixed" && v.given(join(gp, "total"), g.Total != 0) && g.Total != units.SatMul(files, d.Median):
		v.addf(join(gp, "total"), "with dist fixed every file is median (%s) bytes, so total must be files × median = %s: omit total", d.Median, units.SatMul(files, d.Median))
	case d.Dist != "fixed" && r.Total < units.SatMul(files, d.Min):
		v.addf(join(gp, "total"), "total %s is less than files × min (%d × %s): raise total or lower min", r.Total, r.Files, d.Min)
	case d.Dist != "fixed" && r.Total > units.SatMul(files, d.Max):
		v.addf(join(gp, "total"), "total %s does not fit in %d files of at most %s: raise files or size.max, or lower total", r.Total, r.Files, d.Max)
	case r.Total > maxBytes:
		v.addf(join(gp, "total"), "total %s is absurd: at most %s", r.Total, maxBytes)
	}
	if c := dirCapacity(r.Depth, r.Fanout); int64(r.Dirs) > c {
		v.addf(join(gp, "dirs"), "%d dirs do not fit in depth %d with fanout %d (at most %d): raise depth or fanout, or lower dirs", r.Dirs, r.Depth, r.Fanout, c)
	}
}

// dirCapacity is how many directories a tree of the given depth and fanout holds below its root.
func dirCapacity(depth, fanout int) int64 {
	var total, level int64 = 0, 1
	for range depth {
		level = int64(units.SatMul(units.Size(level), units.Size(fanout)))
		total = int64(units.SatAdd(units.Size(total), units.Size(level)))
	}
	return total
}

// imageSource checks the keys of a layer entry that stands for an image's layers (oci: or image:).
func (v *validator) imageSource(i int) {
	l := v.sc.Layers[i]
	lp := index("layers", i)
	switch {
	case l.OCI != "" && l.Image != "":
		v.addf(join(lp, "image"), "a layer comes from an OCI layout (oci) or from a registry (image), not both: keep one")
	case !l.FromImage():
		if l.Ref != "" {
			v.addf(join(lp, "ref"), "ref picks an image of an OCI layout: add `oci: PATH` or remove ref")
		}
		if len(l.Names) > 0 {
			v.addf(join(lp, "names"), "names name an image's layers: add `oci: PATH` or `image: REF`, or remove names")
		}
		if l.BuiltBy != "" {
			v.addf(join(lp, "built_by"), "built_by says how to build an image: add `oci: PATH` or `image: REF`, or remove built_by")
		}
		return
	}
	if l.Image != "" && l.Ref != "" {
		v.addf(join(lp, "ref"), "ref picks an image of an OCI layout; a registry reference names its image itself: remove ref")
	}
	for _, c := range []struct {
		key string
		set bool
	}{{"generate", l.Generate != nil}, {"files", len(l.Files) > 0 && l.Manifest == ""}, {"delete", len(l.Delete) > 0 && l.Manifest == ""},
		{"opaque", len(l.Opaque) > 0 && l.Manifest == ""}, {"manifest", l.Manifest != ""}} {
		if c.set {
			v.addf(join(lp, c.key), "a layer from an image holds the image's own content: put %s in a layer of its own on top (`parent: %s`)", c.key, l.Name)
		}
	}
	seen := map[string]int{}
	for j, n := range l.Names {
		np := index(join(lp, "names"), j)
		if !v.ident(np, "layer name", n, "names: [base, app]") {
			continue
		}
		if k, dup := seen[n]; dup {
			v.addf(np, "duplicate name %q (also names[%d]): rename one", n, k)
		}
		seen[n] = j
	}
	if len(l.Names) > 0 && l.Names[len(l.Names)-1] != l.Name {
		v.addf(join(lp, "names"), "names list the image's layers bottom first, and the last is the entry's own name: end the list with %q", l.Name)
	}
}

// entry kinds in the visibility model below.
const (
	kFile = iota + 1
	kDir
	kSymlink
	kGenRoot // a generated tree: a directory whose contents only the generator knows
	kImage   // below a layer from an image: content the image alone knows
)

// visibility follows the explicit entries through the DAG, so delete and opaque name something a
// lower layer has and hardlinks point at a regular file of this layer or below. Generated trees are
// opaque to it: their roots (and the directories above) are known, their contents are not.
//
// Each layer keeps only what it adds and hides (layerView), and a lookup walks down the chain: a
// layer's view is never copied, so the cost is linear in the entries, times the chain's length
// (at most maxChain) and a path's depth (at most maxPathDepth) per lookup.
func (v *validator) visibility(st *stack) {
	sc := v.sc
	vis := make([]*layerView, len(sc.Layers))
	var total units.Size
	for _, i := range st.order {
		l := sc.Layers[i]
		lp := index("layers", i)
		var lower *layerView
		if p := st.parent[i]; p >= 0 {
			lower = vis[p]
		}
		check := func(xp, x, key string) bool {
			if problem, _ := pathProblem(x); problem != "" {
				return false
			}
			k := lower.lookup(x)
			if k == 0 {
				if g := lower.insideGenerated(x); g != "" {
					v.addf(xp, "%q is inside the generated tree %s, whose names only the generator knows: list the path under files in a lower layer", x, g)
				} else {
					v.addf(xp, "no lower layer of %s has %q (explicit files, their directories and generate roots count): add it to a lower layer's files", l.Name, x)
				}
				return false
			}
			if key == "opaque" && k != kDir && k != kGenRoot && k != kImage {
				v.addf(xp, "%q is not a directory in the lower layers: to remove a file use delete", x)
				return false
			}
			return true
		}
		cur := &layerView{parent: lower, added: map[string]int{}, deleted: map[string]bool{}, opaque: map[string]bool{}, image: l.FromImage()}
		for j, x := range l.Opaque {
			if check(index(join(lp, "opaque"), j), x, "opaque") {
				cur.opaque[x] = true
			}
		}
		for j, x := range l.Delete {
			if check(index(join(lp, "delete"), j), x, "delete") {
				cur.deleted[x] = true
			}
		}
		if l.Generate != nil {
			r := resolveGenerate(l.Name, l.Generate, 1)
			if problem, _ := pathProblem(r.Root); problem == "" {
				cur.add(r.Root, kGenRoot)
			}
			if r.Files <= maxGenFiles && r.Total <= maxBytes {
				total = units.SatAdd(total, r.Total) // absurd values are reported where they are written
			}
		}
		for _, f := range l.Files {
			if problem, _ := pathProblem(f.Path); problem != "" {
				continue
			}
			switch f.Type {
			case "dir":
				cur.add(f.Path, kDir)
			case "symlink":
				cur.add(f.Path, kSymlink)
			default:
				cur.add(f.Path, kFile)
			}
			if f.Type == "" || f.Type == "file" {
				total = units.SatAdd(total, min(max(f.Size, 0), maxBytes))
			}
		}
		for j, f := range l.Files {
			if f.Type != "hardlink" || f.Target == "" || f.Target == f.Path {
				continue
			}
			if problem, _ := pathProblem(f.Target); problem != "" {
				continue
			}
			if k := cur.lookup(f.Target); k != kFile && k != kImage {
				v.addf(join(index(join(lp, "files"), j), "target"), "hardlink target %q is not a regular file listed in %s or its lower layers: add it to files", f.Target, l.Name)
			}
		}
		vis[i] = cur
	}
	if total > maxBytes {
		v.addf("layers", "the layers hold %s in all, more than %s: shrink the generated totals or the files", total.Approx(), maxBytes)
	}
}

// layerView is one layer's part of the explicit entries: what it adds (with the directories above
// them), what it deletes and which directories it makes opaque, over its parent's view (nil: the
// empty one of scratch).
type layerView struct {
	parent  *layerView
	added   map[string]int
	deleted map[string]bool
	opaque  map[string]bool
	// image: the layer comes from an image, whose entries are known once it is opened: any path
	// may be there (checked when the layers are built).
	image bool
}

// lookup returns the kind of p in the view, 0 when it is absent.
func (lv *layerView) lookup(p string) int {
	for l := lv; l != nil; l = l.parent {
		if k, ok := l.added[p]; ok {
			return k
		}
		if l.hides(p) {
			return 0
		}
		if l.image {
			return kImage
		}
	}
	return 0
}

// hides reports whether the layer hides the lower p: it deletes p or a directory above it, or makes
// a directory above it opaque.
func (lv *layerView) hides(p string) bool {
	if len(lv.deleted) == 0 && len(lv.opaque) == 0 {
		return false
	}
	if lv.deleted[p] {
		return true
	}
	hidden := false
	ancestors(p, func(d string) bool {
		hidden = lv.deleted[d] || lv.opaque[d]
		return !hidden
	})
	return hidden
}

// add records p of kind in the layer, with the directories above it that the view lacks as
// directories (a generated root keeps its kind).
func (lv *layerView) add(p string, kind int) {
	lv.added[p] = kind
	ancestors(p, func(d string) bool {
		if k := lv.lookup(d); k == kDir || k == kGenRoot {
			return false
		}
		lv.added[d] = kDir
		return true
	})
}

// insideGenerated returns the generated root p lies under in the view, or "".
func (lv *layerView) insideGenerated(p string) string {
	root := ""
	ancestors(p, func(d string) bool {
		if lv.lookup(d) == kGenRoot {
			root = d
		}
		return root == ""
	})
	return root
}

// ancestors calls fn with each directory above the clean relative path p, deepest first, as
// slices of p (no allocation), until fn returns false.
func ancestors(p string, fn func(dir string) bool) {
	for i := strings.LastIndexByte(p, '/'); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		if !fn(p[:i]) {
			return
		}
	}
}

func (v *validator) images() {
	sc := v.sc
	if len(sc.Images) == 0 {
		v.addf("images", "at least one image is required: add `images: {app: <top layer>}`")
		return
	}
	seen := map[string]int{}
	for _, im := range sc.Images {
		ip := imagePath(im.Name)
		if first, dup := seen[im.Name]; dup {
			v.addf(ip, "duplicate image %q (first at line %d): keep one", im.Name, first)
			continue
		}
		seen[im.Name] = im.Line
		v.ident(ip, "image name", im.Name, "images: {app: top-layer}")
		if im.Top == "" {
			v.addf(ip, "image %q needs its top layer: write `%s: <layer>`", im.Name, im.Name)
			continue
		}
		top, ok := v.st.byName[im.Top]
		if !ok {
			v.addf(ip, "unknown layer %q%s: an image's top is one of the layers (%s)", im.Top, suggest(im.Top, sortedKeys(v.st.byName)), nameList(sortedKeys(v.st.byName)))
			continue
		}
		if v.st.order != nil {
			c := v.st.chain(top)
			if len(c) > maxChain {
				v.addf(ip, "image %q has more than %d layers: real images stay below that", im.Name, maxChain)
				continue
			}
			v.st.chains[im.Name] = c
		}
	}
}

func imagePath(name string) string {
	if plainKeyRE.MatchString(name) {
		return join("images", name)
	}
	return fmt.Sprintf("images[%q]", name)
}

func (v *validator) containers() {
	names := map[string]bool{}
	for _, im := range v.sc.Images {
		names[im.Name] = true
	}
	for _, k := range sortedKeys(v.sc.Containers) {
		cp := join("containers", k)
		if !plainKeyRE.MatchString(k) {
			cp = fmt.Sprintf("containers[%q]", k)
		}
		if !names[k] {
			v.addf(cp, "unknown image %q%s: containers are counted per image (%s)", k, suggest(k, sortedKeys(names)), strings.Join(sortedKeys(names), ", "))
			continue
		}
		v.intRange(cp, "containers", int64(v.sc.Containers[k]), 1, maxContainers, "")
	}
}

// opImages are the images an op runs on: its image, or every image.
func (sc *Scenario) opImages(op *Op) []string {
	if op.Image != "" {
		return []string{op.Image}
	}
	var out []string
	for _, im := range sc.Images {
		out = append(out, im.Name)
	}
	return out
}

func (v *validator) op(i int) {
	op := &v.sc.Workload[i]
	wp := index("workload", i)
	if op.Op == "" {
		v.addf(wp, "every workload step needs an op: add `op: %s`", joinOps())
		return
	}
	if !v.enum(join(wp, "op"), "op", op.Op, opNames()) {
		return
	}
	spec := specOf(OpKind(op.Op))
	allowed := spec.allowed()
	ov := reflect.ValueOf(op).Elem()
	f := structFields(ov.Type())
	for _, key := range f.keys {
		kp := join(wp, key)
		if !slices.Contains(allowed, key) && v.given(kp, !ov.Field(f.index[key]).IsZero()) {
			v.addf(kp, "%s does not apply to %s (%s takes: %s): remove it", key, op.Op, op.Op, strings.Join(allowed, ", "))
		}
	}
	has := spec.takes

	imagesOK := true
	if op.Image != "" {
		if _, ok := v.st.chains[op.Image]; !ok && !v.imageExists(op.Image) {
			v.addf(join(wp, "image"), "unknown image %q%s: use one of %s, or omit image to run on all", op.Image, suggest(op.Image, v.imageNames()), strings.Join(v.imageNames(), ", "))
			imagesOK = false
		}
	}
	var chains [][]string
	for _, name := range v.sc.opImages(op) {
		c, ok := v.st.chains[name]
		if !ok {
			imagesOK = false
			continue
		}
		chains = append(chains, c)
	}
	imagesOK = imagesOK && len(chains) > 0

	if has("count") && v.given(join(wp, "count"), op.Count != 0) {
		v.intRange(join(wp, "count"), "count", int64(op.Count), 1, spec.maxCount, "")
	}
	if has("size") {
		if op.Size != nil && len(op.Size) == 0 {
			v.addf(join(wp, "size"), "empty list: omit size for the default (4KiB) or list sizes such as [4KiB, 1MiB]")
		}
		seen := map[units.Size]bool{}
		for j, s := range op.Size {
			sp := index(join(wp, "size"), j)
			if len(op.Size) == 1 && !v.pos.has(sp) {
				sp = join(wp, "size")
			}
			if v.size(sp, "size", s, false) && seen[s] {
				v.addf(sp, "%s is listed twice: keep one", s)
			}
			seen[s] = true
		}
	}
	if has("kind") {
		v.enumList(join(wp, "kind"), "kind", op.Kind, spec.kinds)
	}
	v.enumList(join(wp, "cache"), "cache", op.Cache, metric.CacheModes)
	if has("how") {
		v.enumList(join(wp, "how"), "how", op.How, spec.hows)
	}
	if has("depth") && !op.Depth.All {
		dp := join(wp, "depth")
		if op.Depth.Levels != nil && len(op.Depth.Levels) == 0 {
			v.addf(dp, "empty list: %s", depthHelp)
		}
		shortest := 0
		for k, c := range chains {
			if k == 0 || len(c) < shortest {
				shortest = len(c)
			}
		}
		seen := map[int]bool{}
		for j, d := range op.Depth.Levels {
			ep := index(dp, j)
			if !v.pos.has(ep) {
				ep = dp
			}
			switch {
			case d < 1:
				v.addf(ep, "depth %d: depths start at 1 (the image's top layer)", d)
			case imagesOK && d > shortest:
				v.addf(ep, "depth %d is deeper than the image stack: %s has %d layers; use 1..%d or `all`", d, v.shortestName(op, shortest), shortest, shortest)
			case seen[d]:
				v.addf(ep, "depth %d is listed twice: keep one", d)
			}
			seen[d] = true
		}
	}
	if has("layer") && imagesOK {
		lp := join(wp, "layer")
		if op.Layer != "" {
			if _, ok := v.st.byName[op.Layer]; !ok {
				v.addf(lp, "unknown layer %q%s: use one of %s", op.Layer, suggest(op.Layer, sortedKeys(v.st.byName)), nameList(sortedKeys(v.st.byName)))
			} else {
				for _, name := range v.sc.opImages(op) {
					if c := v.st.chains[name]; !slices.Contains(c, op.Layer) {
						v.addf(lp, "layer %q is not in image %s (%s): use one of those layers, or set image", op.Layer, name, strings.Join(c, " → "))
						break
					}
				}
			}
		} else {
			def := chains[0][0]
			for k, name := range v.sc.opImages(op) {
				if !slices.Contains(chains[k], def) {
					v.addf(wp, "the default layer %q (the bottom of image %s) is not in image %s: set layer, or set image", def, v.sc.opImages(op)[0], name)
					break
				}
			}
		}
	}
	if spec.check != nil {
		spec.check(v, op, wp)
	}
	if v.given(join(wp, "samples"), op.Samples != 0) {
		v.intRange(join(wp, "samples"), "samples", int64(op.Samples), 1, maxSamples, " (omit it for the scenario's samples)")
	}
	if v.given(join(wp, "max_samples"), op.MaxSamples != 0) {
		v.intRange(join(wp, "max_samples"), "max_samples", int64(op.MaxSamples), 1, maxSamples, " (omit it for the scenario's max_samples)")
	}
}

func (v *validator) imageExists(name string) bool {
	for _, im := range v.sc.Images {
		if im.Name == name {
			return true
		}
	}
	return false
}

func (v *validator) imageNames() []string {
	var out []string
	for _, im := range v.sc.Images {
		out = append(out, im.Name)
	}
	return out
}

func (v *validator) shortestName(op *Op, n int) string {
	for _, name := range v.sc.opImages(op) {
		if c, ok := v.st.chains[name]; ok && len(c) == n {
			return "image " + name
		}
	}
	return "the image"
}

// pairs checks each pair names two distinct drivers, of the scenario's list when it has one.
func (v *validator) pairs() {
	listed := map[string]bool{}
	var names []string
	for _, d := range v.sc.Drivers {
		listed[d.Name] = true
		names = append(names, d.Name)
	}
	for i, pr := range v.sc.Pairs {
		pp := index("pairs", i)
		for _, side := range []struct{ key, name string }{{"base", pr.Base}, {"new", pr.New}} {
			sp := join(pp, side.key)
			if !v.pos.has(sp) {
				sp = pp
			}
			if !v.ident(sp, "pair "+side.key, side.name, side.key+": overlayfs") {
				continue
			}
			if len(listed) > 0 && !listed[side.name] {
				v.addf(sp, "pair %s %q is not one of the scenario's drivers (%s): add it to drivers or pair those", side.key, side.name, nameList(names))
			}
		}
		if pr.Base != "" && pr.Base == pr.New {
			v.addf(pp, "pair compares %q with itself: for an A/A pair, add a plain variant ({name: %s-b, driver: %s}) and pair the two", pr.Base, pr.Base, pr.Base)
		}
	}
}

func (v *validator) drivers() {
	seen := map[string]int{}
	for i, d := range v.sc.Drivers {
		before := len(v.errs)
		dp := index("drivers", i)
		np := join(dp, "name")
		if !v.pos.has(np) {
			np = dp
		}
		if v.ident(np, "driver name", d.Name, "name: overlayfs") {
			if first, dup := seen[d.Name]; dup {
				v.addf(np, "duplicate driver %q (first at line %d): give variants distinct names", d.Name, first)
			}
			seen[d.Name] = v.pos.line(dp)
		}
		if d.Driver != "" {
			v.ident(join(dp, "driver"), "driver", d.Driver, "driver: overlayfs")
		}
		if d.Backing != "" {
			v.enum(join(dp, "backing"), "backing", d.Backing, backings)
		}
		if bp := join(dp, "backing_size"); v.given(bp, d.BackingSize != 0) && v.size(bp, "backing_size", d.BackingSize, false) &&
			d.BackingSize < MinBackingSize {
			v.addf(bp, "backing_size %s is too small for a filesystem: at least %s", d.BackingSize, MinBackingSize)
		}
		if sp := join(dp, "socket"); v.given(sp, d.Socket != "") && !filepath.IsAbs(d.Socket) {
			v.addf(sp, "socket %q: give the socket's absolute path (e.g. /run/containerd/containerd.sock)", d.Socket)
		}
		for j, o := range d.MountOptions {
			op := index(join(dp, "mount_options"), j)
			switch {
			case strings.TrimSpace(o) == "":
				v.addf(op, "empty mount option: remove it")
			case strings.ContainsAny(o, ", \t\n\x00"):
				v.addf(op, "mount option %q: write one option per list entry, without spaces or commas", o)
			}
		}
		if v.checkDriver != nil && len(v.errs) == before {
			if key, err := v.checkDriver(d); err != nil {
				kp := dp
				if key != "" && v.pos.has(join(dp, key)) {
					kp = join(dp, key)
				}
				v.addf(kp, "%v", err)
			}
		}
	}
}

func (v *validator) sweep() {
	sw := v.sc.Sweep
	if sw == nil {
		return
	}
	if len(sw.Containers) == 0 && len(sw.Images) == 0 {
		v.addf("sweep", "sweep has nothing to sweep: add `containers: [1, 2, 4]` or `images: [1, 2]`, or remove it")
		return
	}
	v.ascending("sweep.containers", "container counts", sw.Containers, maxContainers, "")
	v.ascending("sweep.images", "image counts", sw.Images, int64(max(1, len(v.sc.Images))),
		fmt.Sprintf(" (the scenario has %d images)", len(v.sc.Images)))
}

// ascending checks a sweep's list: each value in 1..most, ascending.
func (v *validator) ascending(path, what string, xs []int, most int64, why string) {
	for i, n := range xs {
		p := index(path, i)
		if !v.intRange(p, path[strings.LastIndex(path, ".")+1:], int64(n), 1, most, why) {
			continue
		}
		if i > 0 && n <= xs[i-1] {
			fix := slices.Clone(xs)
			slices.Sort(fix)
			fix = slices.Compact(fix)
			v.addf(p, "%s must ascend: write %s", what, intList(fix))
			break
		}
	}
}

func intList(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func (v *validator) quick() {
	q := v.sc.Quick
	if q == nil {
		return
	}
	if v.given("quick.scale", q.Scale != 0) && (!(q.Scale > 0) || q.Scale > 1) {
		v.addf("quick.scale", "scale shrinks generated trees for --quick: it must be in (0, 1], got %v", q.Scale)
	}
	if v.given("quick.samples", q.Samples != 0) {
		v.intRange("quick.samples", "samples", int64(q.Samples), 1, maxSamples, "")
	}
	if v.given("quick.max_size", q.MaxSize != 0) {
		v.size("quick.max_size", "max_size", q.MaxSize, false)
	}
}

// linesFromStructs builds positions from the Line fields of a Scenario built in code, so its
// problems still point somewhere.
func linesFromStructs(sc *Scenario) positions {
	p := positions{"": sc.Line}
	set := func(k string, line int) {
		if line > 0 {
			p[k] = line
		}
	}
	for i, l := range sc.Layers {
		lp := index("layers", i)
		set(lp, l.Line)
		if l.Generate != nil {
			set(join(lp, "generate"), l.Generate.Line)
			if l.Generate.Size != nil {
				set(join(lp, "generate.size"), l.Generate.Size.Line)
			}
		}
		for j, f := range l.Files {
			set(index(join(lp, "files"), j), f.Line)
		}
	}
	for _, im := range sc.Images {
		set(imagePath(im.Name), im.Line)
	}
	for i, op := range sc.Workload {
		set(index("workload", i), op.Line)
	}
	for i, d := range sc.Drivers {
		set(index("drivers", i), d.Line)
	}
	if sc.Sweep != nil {
		set("sweep", sc.Sweep.Line)
	}
	if sc.Quick != nil {
		set("quick", sc.Quick.Line)
	}
	return p
}

// nameList lists names for a message, the first maxListed of them.
func nameList(xs []string) string {
	if len(xs) == 0 {
		return "none valid"
	}
	if len(xs) > maxListed {
		return strings.Join(xs[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(xs)-maxListed)
	}
	return strings.Join(xs, ", ")
}

// maxListed is how many names a message lists.
const maxListed = 20
