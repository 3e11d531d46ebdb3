package scenario

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/units"
)

// Defaults Resolve applies (scenarios/README.md documents each next to its key).
const (
	DefaultSamples      = 10
	DefaultQuickSamples = 3
	DefaultWarmup       = 1
	DefaultCITarget     = 0.05
	DefaultQuickScale   = 0.25
	DefaultQuickMaxSize = 16 * units.MiB

	DefaultGenDepth  = 4
	DefaultFanout    = 8
	DefaultDist      = "lognormal"
	DefaultMedian    = 4 * units.KiB
	DefaultMaxSize   = 8 * units.MiB
	DefaultSigma     = 1.5
	DefaultSymlinks  = 0.02
	DefaultFileMode  = "0644"
	DefaultDirMode   = "0755"
	DefaultOpSize    = 4 * units.KiB // create and modify
	DefaultContainer = 1             // containers per image

	DefaultCreateCount = 100
	DefaultDeleteCount = 10
	DefaultRenameCount = 10

	// ProbesPerLayer lookup probes are added to every layer of an image a lookup runs on, and as
	// many missing paths are named; each probe is ProbeSize bytes.
	ProbesPerLayer = 64
	ProbeSize      = 16 * units.B
	// DeleteFileSize and RenameFileSize are the sizes of the files delete and rename targets hold.
	DeleteFileSize = 4 * units.KiB
	RenameFileSize = 4 * units.KiB
)

// ResolveOptions are the command-line knobs that change a Plan.
type ResolveOptions struct {
	// Quick applies the scenario's quick overrides (smaller trees, sizes capped, fewer samples).
	Quick bool
	// Samples overrides every sample count when > 0; 0 keeps the scenario's.
	Samples int
	// CheckDriver, when set, checks each drivers: entry that is valid as written against the driver
	// catalogue (a known base, options and a backing it takes), in order, so a later entry may build
	// on an earlier one. It returns the key the problem is in ("driver", "mount_options", "backing",
	// "backing_size"; "" = the entry) and the problem with its fix. Validation reports it at that
	// key's line, like every other problem.
	CheckDriver func(DriverSpec) (key string, err error)
	// Images opens the image a layer entry names (oci: or image:) and returns its layers, bottom
	// first; nil refuses such scenarios.
	Images func(ImageSource) ([]ImageLayer, error)
}

// Resolve validates sc and turns it into a Plan: every default applied, --quick and --samples folded
// in, layers in build order (parents first, file order otherwise) and the files the workload needs
// added to the layers that carry them, under WorkloadDir. The same scenario and options always give
// the same Plan. Errors are a *Errors, as from Parse.
func Resolve(sc *Scenario, opt ResolveOptions) (*Plan, error) {
	if sc == nil {
		return nil, errors.New("scenario: Resolve: nil scenario")
	}
	if opt.Samples < 0 || opt.Samples > maxSamples {
		return nil, fmt.Errorf("scenario %s: samples must be between 1 and %d, got %d", sc.Name, maxSamples, opt.Samples)
	}
	l := &errorList{file: sc.File}
	st := validate(sc, l, opt.CheckDriver)
	if err := l.err(); err != nil {
		return nil, err
	}
	if st.order == nil {
		return nil, fmt.Errorf("scenario %s: layers do not form a DAG", sc.Name) // unreachable after validate
	}
	r := &resolver{sc: sc, opt: opt, st: st, q: quickOf(sc), paths: map[string]map[string]bool{}, probePaths: map[string][]string{}}
	return r.plan()
}

// quickOf returns the quick overrides with defaults applied.
func quickOf(sc *Scenario) Quick {
	q := Quick{Scale: DefaultQuickScale, Samples: DefaultQuickSamples, MaxSize: DefaultQuickMaxSize}
	if sc.Quick != nil {
		if sc.Quick.Scale != 0 {
			q.Scale = sc.Quick.Scale
		}
		if sc.Quick.Samples != 0 {
			q.Samples = sc.Quick.Samples
		}
		if sc.Quick.MaxSize != 0 {
			q.MaxSize = sc.Quick.MaxSize
		}
		q.Line = sc.Quick.Line
	}
	return q
}

// resolveGenerate applies the generate defaults and scales counts and totals by scale (1 = as
// written). The size distribution's unset bounds follow the set ones, so defaults never conflict
// with what the file says.
func resolveGenerate(layer string, g *Generate, scale float64) *Generate {
	r := *g
	sd := SizeDist{}
	if g.Size != nil {
		sd = *g.Size
	}
	if sd.Dist == "" {
		sd.Dist = DefaultDist
	}
	maxGiven, medianGiven := sd.Max != 0, sd.Median != 0
	if !maxGiven {
		sd.Max = max(DefaultMaxSize, sd.Min)
		if medianGiven && sd.Dist != "uniform" {
			sd.Max = max(sd.Max, sd.Median)
		}
	}
	if !medianGiven {
		if sd.Dist == "uniform" {
			sd.Median = sd.Min + (sd.Max-sd.Min)/2
		} else {
			sd.Median = max(DefaultMedian, sd.Min)
			if maxGiven {
				sd.Median = min(sd.Median, sd.Max)
			}
		}
	}
	if sd.Sigma == nil {
		s := DefaultSigma
		sd.Sigma = &s
	} else {
		s := *sd.Sigma
		sd.Sigma = &s
	}
	r.Size = &sd
	if r.Symlinks == nil {
		s := DefaultSymlinks
		r.Symlinks = &s
	} else {
		s := *r.Symlinks
		r.Symlinks = &s
	}
	if r.Depth == 0 {
		r.Depth = DefaultGenDepth
	}
	if r.Fanout == 0 {
		r.Fanout = DefaultFanout
	}
	if r.Root == "" {
		r.Root = "usr/share/" + layer
	}
	scaleInt := func(n int) int { return max(1, int(math.Round(float64(n)*scale))) }
	if scale != 1 {
		r.Files = scaleInt(g.Files)
		if g.Dirs != 0 {
			r.Dirs = scaleInt(g.Dirs)
		}
	}
	if r.Dirs == 0 {
		r.Dirs = max(1, r.Files/10)
	}
	files := units.Size(r.Files)
	switch {
	case sd.Dist == "fixed" || g.Total == 0:
		r.Total = units.SatMul(files, sd.Median)
	case scale != 1:
		r.Total = units.Size(math.Round(float64(g.Total) * scale))
		// Rounding the file count must not push the total outside what the files can hold.
		r.Total = min(max(r.Total, units.SatMul(files, sd.Min)), units.SatMul(files, sd.Max))
	}
	return &r
}

type resolver struct {
	sc    *Scenario
	opt   ResolveOptions
	st    *stack
	q     Quick
	p     *Plan
	layer map[string]*PlanLayer
	paths map[string]map[string]bool // layer → workload paths already added
	// probePaths are each layer's lookup probes, shared by every lookup and image.
	probePaths map[string][]string
}

func (r *resolver) plan() (*Plan, error) {
	sc := r.sc
	p := &Plan{
		Name: sc.Name, Description: sc.Description, File: sc.File, SHA256: sc.SHA256,
		Seed: *sc.Seed, Quick: r.opt.Quick, Warmup: DefaultWarmup,
		Drivers: slices.Clone(sc.Drivers),
		Pairs:   slices.Clone(sc.Pairs),
	}
	r.p = p
	switch {
	case r.opt.Samples > 0:
		p.Samples = r.opt.Samples
	case r.opt.Quick:
		p.Samples = r.q.Samples
	case sc.Samples > 0:
		p.Samples = sc.Samples
	default:
		p.Samples = DefaultSamples
	}
	if sc.Warmup != nil {
		p.Warmup = *sc.Warmup
	}
	p.CITarget = DefaultCITarget
	if sc.CITarget != nil {
		p.CITarget = *sc.CITarget
	}
	scale := 1.0
	if r.opt.Quick {
		scale = r.q.Scale
	}
	expanded := map[string][]string{} // an image entry's name → its layers' names, bottom first
	for _, i := range r.st.order {
		l := sc.Layers[i]
		pl := PlanLayer{Name: l.Name, Delete: slices.Clone(l.Delete), Opaque: slices.Clone(l.Opaque), Line: l.Line}
		if j := r.st.parent[i]; j >= 0 {
			pl.Parent = sc.Layers[j].Name
		}
		if l.FromImage() {
			pls, err := r.imageLayers(i, pl.Parent)
			if err != nil {
				return nil, err
			}
			for _, x := range pls {
				expanded[l.Name] = append(expanded[l.Name], x.Name)
			}
			p.Layers = append(p.Layers, pls...)
			continue
		}
		if l.Generate != nil {
			pl.Generate = resolveGenerate(l.Name, l.Generate, scale)
		}
		dropped := map[string]bool{} // manifest entries a --quick plan leaves out
		for _, f := range l.Files {
			if r.opt.Quick && f.fromManifest && f.Type != "dir" &&
				(!keepInQuick(f.Path, scale) || f.Type == "hardlink" && dropped[f.Target]) {
				dropped[f.Path] = true
				continue
			}
			f = resolveFile(f)
			f.Size = r.capSize(f.Size)
			pl.Files = append(pl.Files, f)
		}
		p.Layers = append(p.Layers, pl)
	}
	r.layer = map[string]*PlanLayer{}
	for i := range p.Layers {
		r.layer[p.Layers[i].Name] = &p.Layers[i]
	}
	most := 0
	for _, im := range sc.Images {
		n := DefaultContainer
		if c, ok := sc.Containers[im.Name]; ok {
			n = c
		}
		most = max(most, n)
		var chain []string
		for _, l := range r.st.chains[im.Name] {
			if x, ok := expanded[l]; ok {
				chain = append(chain, x...)
			} else {
				chain = append(chain, l)
			}
		}
		p.Images = append(p.Images, PlanImage{Name: im.Name, Top: im.Top, Chain: chain, Containers: n})
	}
	if sc.Sweep != nil {
		p.ImageSweep = slices.Clone(sc.Sweep.Images)
	}
	if sc.Sweep != nil && len(sc.Sweep.Containers) > 0 {
		p.Containers = slices.Clone(sc.Sweep.Containers)
	} else {
		p.Containers = []int{most}
	}
	for i := range sc.Workload {
		p.Ops = append(p.Ops, r.op(i))
	}
	return p, nil
}

// imageLayers opens the image layer entry i names and returns its layers as plan layers, bottom
// first, the bottom one on parent.
func (r *resolver) imageLayers(i int, parent string) ([]PlanLayer, error) {
	l := r.sc.Layers[i]
	at := fmt.Sprintf("%s:%d: layer %s", r.sc.File, l.Line, l.Name)
	if r.opt.Images == nil {
		return nil, fmt.Errorf("%s: layers from images cannot be opened here", at)
	}
	src := ImageSource{OCI: l.OCI, Ref: l.Ref, Image: l.Image, Dir: filepath.Dir(r.sc.File), Line: l.Line}
	ils, err := r.opt.Images(src)
	if err != nil && l.BuiltBy != "" {
		return nil, fmt.Errorf("%s: %w (build the image with `%s`)", at, err, l.BuiltBy)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	names := l.Names
	if len(names) == 0 {
		for k := 1; k < len(ils); k++ {
			names = append(names, fmt.Sprintf("%s-%d", l.Name, k))
		}
		names = append(names, l.Name)
	} else if len(names) != len(ils) {
		return nil, fmt.Errorf("%s: names lists %d layers, the image has %d: list %d names, bottom first, or leave names out", at, len(names), len(ils), len(ils))
	}
	if len(ils) > maxChain {
		return nil, fmt.Errorf("%s: the image has %d layers, more than the %d a chain may have", at, len(ils), maxChain)
	}
	var out []PlanLayer
	for k := range ils {
		if _, clash := r.st.byName[names[k]]; clash && k < len(ils)-1 {
			return nil, fmt.Errorf("%s: the image's layer %d would be named %s, as another layer of the scenario: name the image's layers with names", at, k+1, names[k])
		}
		il := ils[k]
		out = append(out, PlanLayer{Name: names[k], Parent: parent, Image: &il, Line: l.Line})
		parent = names[k]
	}
	return out, nil
}

func resolveFile(f File) File {
	if f.Type == "" {
		f.Type = "file"
	}
	if f.Mode == "" {
		switch f.Type {
		case "file":
			f.Mode = DefaultFileMode
		case "dir":
			f.Mode = DefaultDirMode
		}
	}
	return f
}

// add puts a workload entry in a layer once, however many ops or images ask for it.
func (r *resolver) add(layer string, f File) {
	seen := r.paths[layer]
	if seen == nil {
		seen = map[string]bool{}
		r.paths[layer] = seen
	}
	if seen[f.Path] {
		return
	}
	seen[f.Path] = true
	pl := r.layer[layer]
	pl.Files = append(pl.Files, resolveFile(f))
}

// probes adds a layer's lookup probes (once) and returns their paths.
func (r *resolver) probes(layer string) []string {
	if paths, ok := r.probePaths[layer]; ok {
		return paths
	}
	paths := make([]string, ProbesPerLayer)
	for n := range paths {
		paths[n] = fmt.Sprintf("%s/probe/%s-%d", WorkloadDir, layer, n)
		r.add(layer, File{Path: paths[n], Size: ProbeSize})
	}
	r.probePaths[layer] = paths
	return paths
}

// capSize applies quick.max_size.
func (r *resolver) capSize(s units.Size) units.Size {
	if r.opt.Quick {
		return min(s, r.q.MaxSize)
	}
	return s
}

func (r *resolver) op(i int) PlanOp {
	sc := r.sc
	op := sc.Workload[i]
	spec := specOf(OpKind(op.Op))
	po := PlanOp{
		Index: i, Op: spec.kind, Images: sc.opImages(&op), Count: op.Count, Line: op.Line,
		Caches: orDefault(op.Cache, metric.CacheModes[0]),
	}
	switch {
	case r.opt.Samples > 0:
		po.Samples = r.opt.Samples
	case op.Samples > 0 && r.opt.Quick:
		po.Samples = min(op.Samples, r.p.Samples)
	case op.Samples > 0:
		po.Samples = op.Samples
	default:
		po.Samples = r.p.Samples
	}
	// Adaptive sampling may go on to max_samples; --quick and --samples pin the count.
	switch {
	case r.opt.Samples > 0 || r.opt.Quick:
		po.MaxSamples = po.Samples
	case op.MaxSamples > 0:
		po.MaxSamples = max(po.Samples, op.MaxSamples)
	case sc.MaxSamples > 0:
		po.MaxSamples = max(po.Samples, sc.MaxSamples)
	default:
		po.MaxSamples = 2 * po.Samples
	}
	if spec.takes("layer") {
		po.Layer = op.Layer
		if po.Layer == "" {
			po.Layer = r.st.chains[po.Images[0]][0]
		}
	}
	if spec.takes("size") {
		sizes := op.Size
		if len(sizes) == 0 {
			sizes = []units.Size{DefaultOpSize}
		}
		for _, s := range sizes {
			if s = r.capSize(s); !slices.Contains(po.Sizes, s) {
				po.Sizes = append(po.Sizes, s)
			}
		}
	}
	if spec.takes("count") && po.Count == 0 {
		po.Count = spec.defaultCount
	}
	if spec.takes("kind") {
		po.Kinds = orDefault(op.Kind, spec.kinds[0])
	}
	if spec.takes("how") {
		po.Hows = orDefault(op.How, spec.hows[0])
	}
	if spec.targets != nil {
		spec.targets(r, &po, &op, fmt.Sprintf("%s/%s/%d/", WorkloadDir, op.Op, i))
	}
	return po
}

func orDefault(xs []string, def string) []string {
	if len(xs) == 0 {
		return []string{def}
	}
	return slices.Clone(xs)
}

// Layer returns the named layer, or nil.
func (p *Plan) Layer(name string) *PlanLayer {
	for i := range p.Layers {
		if p.Layers[i].Name == name {
			return &p.Layers[i]
		}
	}
	return nil
}

// Image returns the named image, or nil.
func (p *Plan) Image(name string) *PlanImage {
	for i := range p.Images {
		if p.Images[i].Name == name {
			return &p.Images[i]
		}
	}
	return nil
}

// Points is the number of parameter points of an op: the product of its lists' lengths.
func (o *PlanOp) Points() int {
	n := 1
	for _, k := range []int{len(o.Sizes), len(o.Depths), len(o.Kinds), len(o.Caches), len(o.Hows)} {
		if k > 0 {
			n *= k
		}
	}
	return n
}
