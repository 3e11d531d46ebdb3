package scenario

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/units"
)

func mustResolve(t *testing.T, file string, opt ResolveOptions) *Plan {
	t.Helper()
	sc, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Resolve(sc, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parseResolve(t *testing.T, src string, opt ResolveOptions) *Plan {
	t.Helper()
	sc, err := Parse("inline.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Resolve(sc, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func layerNames(p *Plan) []string {
	var out []string
	for _, l := range p.Layers {
		out = append(out, l.Name+"<"+l.Parent)
	}
	return out
}

func TestBuildOrder(t *testing.T) {
	p := mustResolve(t, "testdata/valid/forward-parent.yaml", ResolveOptions{})
	if got, want := layerNames(p), []string{"base<", "lib<base", "app<lib", "tool<base"}; !reflect.DeepEqual(got, want) {
		t.Errorf("build order %v, want %v", got, want)
	}
	if got := p.Image("z-app").Chain; !reflect.DeepEqual(got, []string{"base", "lib", "app"}) {
		t.Errorf("z-app chain %v", got)
	}
	// Already in order: the file's order is kept, siblings included.
	p = mustResolve(t, "testdata/valid/synthetic-stack.yaml", ResolveOptions{})
	if got, want := layerNames(p), []string{"debian<", "emacs<debian", "apache2<emacs", "python<debian"}; !reflect.DeepEqual(got, want) {
		t.Errorf("build order %v, want %v", got, want)
	}
}

func TestResolveDefaults(t *testing.T) {
	p := parseResolve(t, `
name: defaults
seed: 5
layers:
  - name: base
    generate: {files: 100}
    files: [{path: a}, {path: d, type: dir}, {path: l, type: symlink, target: a}]
  - name: top
images: {app: top, low: base}
containers: {app: 3}
workload:
  - {op: create}
  - {op: lookup}
  - {op: modify, image: app}
  - {op: delete}
  - {op: rename}
  - {op: read, working_set: 1KiB}
`, ResolveOptions{})
	sigma, symlinks := DefaultSigma, DefaultSymlinks
	wantGen := &Generate{Files: 100, Dirs: 10, Total: 400 * units.KiB, Depth: 4, Fanout: 8, Root: "usr/share/base",
		Size: &SizeDist{Dist: "lognormal", Median: 4 * units.KiB, Min: 0, Max: 8 * units.MiB, Sigma: &sigma}, Symlinks: &symlinks, Line: 6}
	if g := p.Layer("base").Generate; !reflect.DeepEqual(g, wantGen) {
		t.Errorf("generate = %+v %+v\nwant %+v %+v", g, g.Size, wantGen, wantGen.Size)
	}
	files := p.Layer("base").Files[:3]
	if files[0].Type != "file" || files[0].Mode != "0644" || files[1].Mode != "0755" || files[2].Mode != "" {
		t.Errorf("file defaults %+v", files)
	}
	if p.Samples != 10 || p.Warmup != 1 || !reflect.DeepEqual(p.Containers, []int{3}) {
		t.Errorf("samples %d warmup %d containers %v", p.Samples, p.Warmup, p.Containers)
	}
	if p.Image("app").Containers != 3 || p.Image("low").Containers != 1 {
		t.Errorf("containers %+v", p.Images)
	}
	o := p.Ops
	check := func(i int, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("op %d (%s): got %v, want %v", i, o[i].Op, got, want)
		}
	}
	check(0, []any{o[0].Count, o[0].Sizes, o[0].Caches, o[0].Images, o[0].Samples}, []any{100, []units.Size{4 * units.KiB}, []string{"warm"}, []string{"app", "low"}, 10})
	check(1, []any{o[1].Depths, o[1].Kinds}, []any{[]int{1}, []string{"hit"}}) // shortest chain: low, 1 layer
	check(2, []any{o[2].Sizes, o[2].Hows, o[2].Layer, o[2].Images}, []any{[]units.Size{4 * units.KiB}, []string{"append"}, "base", []string{"app"}})
	check(3, []any{o[3].Count, o[3].Kinds, o[3].Layer, len(o[3].DeleteFiles), len(o[3].DeleteDirs)}, []any{10, []string{"file"}, "base", 10, 0})
	check(4, []any{o[4].Count, o[4].Layer, len(o[4].RenameDirs)}, []any{10, "base", 10})
	check(5, []any{o[5].WorkingSet, o[5].WorkingSetFiles}, []any{units.KiB, []string{"seedbench/read/5/w0"}})
	for _, op := range o {
		if op.Op != "modify" && op.Hows != nil || op.Op != "lookup" && op.Depths != nil {
			t.Errorf("op %s has hows %v depths %v", op.Op, op.Hows, op.Depths)
		}
	}
}

func TestResolveGenerateDefaultsFollowBounds(t *testing.T) {
	for _, c := range []struct {
		in                SizeDist
		median, min, max_ units.Size
	}{
		{SizeDist{Dist: "uniform", Min: 1 * units.KiB, Max: 3 * units.KiB}, 2 * units.KiB, units.KiB, 3 * units.KiB},
		{SizeDist{Min: 64 * units.KiB}, 64 * units.KiB, 64 * units.KiB, 8 * units.MiB},
		{SizeDist{Max: 1 * units.KiB}, 1 * units.KiB, 0, units.KiB},
		{SizeDist{Median: 32 * units.MiB}, 32 * units.MiB, 0, 32 * units.MiB},
		{SizeDist{Dist: "fixed", Median: 100}, 100, 0, 8 * units.MiB},
	} {
		in := c.in
		g := resolveGenerate("x", &Generate{Files: 10, Size: &in}, 1)
		if g.Size.Median != c.median || g.Size.Min != c.min || g.Size.Max != c.max_ || g.Total != 10*c.median {
			t.Errorf("%+v resolved to %+v total %s", c.in, g.Size, g.Total)
		}
	}
}

func TestResolveQuick(t *testing.T) {
	p := mustResolve(t, "testdata/valid/synthetic-stack.yaml", ResolveOptions{Quick: true})
	deb := p.Layer("debian")
	if g := deb.Generate; g.Files != 300 || g.Dirs != 30 || g.Total != 12*units.MiB {
		t.Errorf("quick debian generate %d files %d dirs %s", g.Files, g.Dirs, g.Total)
	}
	if g := p.Layer("emacs").Generate; g.Files != 100 || g.Dirs != 10 || g.Total != 11*units.MiB {
		t.Errorf("quick emacs generate %d files %d dirs %s", g.Files, g.Dirs, g.Total)
	}
	if p.Samples != 3 || !p.Quick {
		t.Errorf("quick samples %d", p.Samples)
	}
	var modify, read *PlanOp
	for i := range p.Ops {
		switch p.Ops[i].Op {
		case "modify":
			modify = &p.Ops[i]
		case "read":
			read = &p.Ops[i]
		}
		if p.Ops[i].Samples != 3 {
			t.Errorf("op %d samples %d", i, p.Ops[i].Samples)
		}
	}
	// 16MiB and 64MiB are both capped to 8MiB: measured once.
	if want := []units.Size{4 * units.KiB, units.MiB, 8 * units.MiB}; !reflect.DeepEqual(modify.Sizes, want) || len(modify.Targets) != 3 {
		t.Errorf("quick modify sizes %v targets %v", modify.Sizes, modify.Targets)
	}
	if read.WorkingSet != 8*units.MiB {
		t.Errorf("quick working set %s", read.WorkingSet)
	}
	// Explicit files are capped too; smaller ones keep their size.
	for _, f := range deb.Files {
		if want := map[string]units.Size{"usr/lib/x86_64-linux-gnu/libbig.so": 8 * units.MiB, "usr/bin/bash": 1280 * units.KiB}[f.Path]; want != 0 && f.Size != want {
			t.Errorf("quick %s: %s, want %s", f.Path, f.Size, want)
		}
	}
	full := mustResolve(t, "testdata/valid/synthetic-stack.yaml", ResolveOptions{})
	for _, f := range full.Layer("debian").Files {
		if f.Path == "usr/lib/x86_64-linux-gnu/libbig.so" && f.Size != 64*units.MiB {
			t.Errorf("full run: libbig.so %s, want 64MiB", f.Size)
		}
	}

	// An op's own samples are capped by quick, and --samples overrides everything.
	src := "name: s\nseed: 1\nsamples: 20\nlayers: [{name: a}]\nimages: {i: a}\nworkload: [{op: create, samples: 50}, {op: create, samples: 2}]\n"
	for _, c := range []struct {
		opt  ResolveOptions
		want []int
	}{
		{ResolveOptions{}, []int{20, 50, 2}},
		{ResolveOptions{Quick: true}, []int{3, 3, 2}},
		{ResolveOptions{Samples: 7}, []int{7, 7, 7}},
		{ResolveOptions{Quick: true, Samples: 7}, []int{7, 7, 7}},
	} {
		p := parseResolve(t, src, c.opt)
		if got := []int{p.Samples, p.Ops[0].Samples, p.Ops[1].Samples}; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: samples %v, want %v", c.opt, got, c.want)
		}
	}
}

// files indexes a plan's entries: layer → path → entry.
func files(p *Plan) map[string]map[string]File {
	out := map[string]map[string]File{}
	for _, l := range p.Layers {
		out[l.Name] = map[string]File{}
		for _, f := range l.Files {
			out[l.Name][f.Path] = f
		}
	}
	return out
}

func TestWorkloadFiles(t *testing.T) {
	p := mustResolve(t, "testdata/valid/synthetic-stack.yaml", ResolveOptions{})
	fs := files(p)
	ops := map[OpKind]*PlanOp{}
	for i := range p.Ops {
		ops[p.Ops[i].Op] = &p.Ops[i]
	}

	lk := ops["lookup"]
	if !reflect.DeepEqual(lk.Depths, []int{1, 2, 3}) || len(lk.Probes) != 1 || len(lk.Missing) != ProbesPerLayer {
		t.Fatalf("lookup depths %v probes for %d images, %d missing", lk.Depths, len(lk.Probes), len(lk.Missing))
	}
	for depth, layer := range map[int]string{1: "apache2", 2: "emacs", 3: "debian"} {
		probes := lk.Probes["web"][depth]
		if len(probes) != ProbesPerLayer {
			t.Fatalf("depth %d: %d probes", depth, len(probes))
		}
		for _, path := range probes {
			if !strings.HasPrefix(path, "seedbench/probe/"+layer+"-") {
				t.Errorf("depth %d probe %s is not %s's", depth, path, layer)
			}
			for name, l := range fs {
				if _, ok := l[path]; ok != (name == layer) {
					t.Errorf("probe %s in layer %s: %v", path, name, ok)
				}
			}
			if f := fs[layer][path]; f.Size != ProbeSize || f.Type != "file" {
				t.Errorf("probe %+v", f)
			}
		}
	}
	for _, path := range lk.Missing {
		for name, l := range fs {
			if _, ok := l[path]; ok || !strings.HasPrefix(path, "seedbench/probe/missing-") {
				t.Errorf("missing path %s exists in %s", path, name)
			}
		}
	}
	if n := countPrefix(fs["python"], "seedbench/probe/"); n != 0 {
		t.Errorf("python has %d probes, but the lookup runs on web only", n)
	}

	mod := ops["modify"]
	if len(mod.Targets) != 4 {
		t.Fatalf("modify targets %v", mod.Targets)
	}
	for _, s := range []units.Size{4 * units.KiB, units.MiB, 16 * units.MiB, 64 * units.MiB} {
		for _, how := range []string{"append", "rdwr", "chmod"} {
			paths := mod.Targets[s][how]
			if len(paths) != mod.ModifyRounds(p.Warmup) {
				t.Errorf("target %s %s: %d files, want one per round (%d)", s, how, len(paths), mod.ModifyRounds(p.Warmup))
			}
			for k, path := range paths {
				if want := fmt.Sprintf("seedbench/modify/2/%s-%s-r%d", s, how, k); path != want {
					t.Errorf("target %s %s round %d = %q, want %q", s, how, k, path, want)
				}
				if f, ok := fs["debian"][path]; !ok || f.Size != s {
					t.Errorf("target %s not a %s file in debian: %+v", path, s, f)
				}
			}
		}
	}

	del := ops["delete"]
	if len(del.DeleteFiles) != 50 || len(del.DeleteDirs) != 50 || del.Layer != "debian" {
		t.Fatalf("delete %d files %d dirs in %s", len(del.DeleteFiles), len(del.DeleteDirs), del.Layer)
	}
	for i := range 50 {
		f, d := fs["debian"][del.DeleteFiles[i]], fs["debian"][del.DeleteDirs[i]]
		if f.Path != fmt.Sprintf("seedbench/delete/3/f%d", i) || f.Size != DeleteFileSize || f.Type != "file" {
			t.Errorf("delete file %+v", f)
		}
		if d.Path != fmt.Sprintf("seedbench/delete/3/d%d", i) || d.Type != "dir" {
			t.Errorf("delete dir %+v", d)
		}
	}

	rd := ops["read"]
	if rd.WorkingSet != 256*units.MiB || len(rd.WorkingSetFiles) != 1 || fs["debian"][rd.WorkingSetFiles[0]].Size != 256*units.MiB {
		t.Errorf("read %s in %v", rd.WorkingSet, rd.WorkingSetFiles)
	}
	if !reflect.DeepEqual(p.Containers, []int{1, 2, 4}) || p.Image("web").Containers+p.Image("tools").Containers != 8 {
		t.Errorf("containers %v, images %+v", p.Containers, p.Images)
	}

	// The file's bytes are hashed.
	data, _ := os.ReadFile("testdata/valid/synthetic-stack.yaml")
	sum := sha256.Sum256(data)
	if p.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 %s", p.SHA256)
	}
}

func countPrefix(m map[string]File, prefix string) int {
	n := 0
	for p := range m {
		if strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

func TestWorkloadFilesAllOps(t *testing.T) {
	p := mustResolve(t, "testdata/valid/all-ops.yaml", ResolveOptions{})
	fs := files(p)
	rd, ren := p.Ops[2], p.Ops[5]
	var total units.Size
	for i, path := range rd.WorkingSetFiles {
		f := fs["mid"][path]
		if want := []units.Size{4, 3, 3}[i]; f.Size != want {
			t.Errorf("working-set file %s is %s, want %s", path, f.Size, want)
		}
		total += f.Size
	}
	if total != 10 || rd.WorkingSet != 10 {
		t.Errorf("working set adds up to %s, want 10B", total)
	}
	if !reflect.DeepEqual(ren.RenameDirs, []string{"seedbench/rename/5/r0", "seedbench/rename/5/r1"}) {
		t.Errorf("rename dirs %v", ren.RenameDirs)
	}
	for _, d := range ren.RenameDirs {
		if fs["base"][d].Type != "dir" || fs["base"][d+"/x"].Size != RenameFileSize {
			t.Errorf("rename dir %s: %+v %+v", d, fs["base"][d], fs["base"][d+"/x"])
		}
	}
	if got := p.Ops[3].Points(); got != 8 {
		t.Errorf("modify points %d, want 2 sizes × 4 hows", got)
	}
	if got := p.Ops[1].Points(); got != 18 {
		t.Errorf("lookup points %d, want 3 depths × 2 kinds × 3 caches", got)
	}
}

// Probes are added once per layer however many ops and images look them up.
func TestProbesShared(t *testing.T) {
	p := parseResolve(t, `
name: probes
seed: 1
layers:
  - name: base
  - name: a
  - name: b
    parent: base
images: {x: a, y: b}
workload:
  - {op: lookup}
  - {op: lookup, image: x, depth: 2, cache: cold}
`, ResolveOptions{})
	for _, l := range p.Layers {
		if n := countPrefix(files(p)[l.Name], "seedbench/probe/"); n != ProbesPerLayer {
			t.Errorf("layer %s has %d probes, want %d", l.Name, n, ProbesPerLayer)
		}
	}
	if !reflect.DeepEqual(p.Ops[0].Probes["x"][2], p.Ops[0].Probes["y"][2]) || p.Ops[0].Probes["x"][2][0] != "seedbench/probe/base-0" {
		t.Errorf("the shared base is depth 2 of both images: %v", p.Ops[0].Probes)
	}
	if p.Ops[0].Probes["y"][1][0] != "seedbench/probe/b-0" {
		t.Errorf("depth 1 of y: %v", p.Ops[0].Probes["y"][1][:1])
	}
}

func TestResolveDeterministic(t *testing.T) {
	for _, quick := range []bool{false, true} {
		a := mustResolve(t, "testdata/valid/synthetic-stack.yaml", ResolveOptions{Quick: quick})
		b := mustResolve(t, "testdata/valid/synthetic-stack.yaml", ResolveOptions{Quick: quick})
		if !reflect.DeepEqual(a, b) {
			t.Errorf("two resolutions differ (quick=%v)", quick)
		}
	}
}

// Resolve validates a Scenario built in code too, with lines from its Line fields.
func TestResolveInvalid(t *testing.T) {
	if _, err := Resolve(nil, ResolveOptions{}); err == nil {
		t.Error("Resolve(nil) succeeded")
	}
	sc := &Scenario{Name: "code", File: "code.go", Line: 1,
		Layers: []Layer{{Name: "a", Line: 3}, {Name: "b", Parent: "c", Line: 4}},
		Images: Images{{Name: "i", Top: "b", Line: 6}}}
	_, err := Resolve(sc, ResolveOptions{})
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want *Errors, got %v", err)
	}
	var got []string
	for _, e := range *errs {
		got = append(got, fmt.Sprintf("%d %s", e.Line, e.Field))
	}
	if want := []string{"1 seed", "4 layers[1].parent"}; !reflect.DeepEqual(got, want) {
		t.Errorf("problems %v, want %v:\n%v", got, want, err)
	}
	seed := int64(1)
	sc.Seed, sc.Layers[1].Parent = &seed, ""
	if _, err := Resolve(sc, ResolveOptions{Samples: -1}); err == nil {
		t.Error("negative --samples accepted")
	}
	if p, err := Resolve(sc, ResolveOptions{}); err != nil || !slices.Equal(p.Images[0].Chain, []string{"a", "b"}) {
		t.Errorf("fixed scenario: %v %v", p, err)
	}
}

// TestDescribeGolden compares `seedbench show` renderings with testdata/describe/*.golden
// (go test -update rewrites them).
func TestDescribeGolden(t *testing.T) {
	for _, c := range []struct {
		name, file string
		opt        ResolveOptions
	}{
		{"flagship", "../../scenarios/debian-emacs-apache.yaml", ResolveOptions{}},
		{"flagship-quick", "../../scenarios/debian-emacs-apache.yaml", ResolveOptions{Quick: true}},
		{"all-ops", "testdata/valid/all-ops.yaml", ResolveOptions{}},
		{"drivers", "testdata/valid/drivers.yaml", ResolveOptions{Samples: 2}},
	} {
		p := mustResolve(t, c.file, c.opt)
		p.SHA256 = "0123456789abcdef" // keep the golden files stable when comments change
		var b bytes.Buffer
		if err := p.Describe(&b); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "describe", c.name+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s: Describe differs from %s (go test -update rewrites it):\n%s", c.name, golden, b.String())
		}
	}
}

// TestResolveMaxSamples: an op's own max_samples caps its adaptive sampling (never below its
// samples); the scenario's applies to the others; --quick and --samples pin every count.
func TestResolveMaxSamples(t *testing.T) {
	src := `
name: caps
seed: 1
samples: 5
max_samples: 8
layers: [{name: base, generate: {files: 10}}]
images: {app: base}
workload:
  - {op: modify, size: [1MiB], max_samples: 3}
  - {op: modify, size: [4KiB], samples: 4, max_samples: 6}
  - {op: lookup}
`
	for _, c := range []struct {
		opt  ResolveOptions
		want [][2]int // samples, max per op
	}{
		{ResolveOptions{}, [][2]int{{5, 5}, {4, 6}, {5, 8}}},
		{ResolveOptions{Samples: 2}, [][2]int{{2, 2}, {2, 2}, {2, 2}}},
	} {
		p := parseResolve(t, src, c.opt)
		for i, w := range c.want {
			if got := [2]int{p.Ops[i].Samples, p.Ops[i].MaxSamples}; got != w {
				t.Errorf("%+v: op %d: samples, max_samples = %v, want %v", c.opt, i, got, w)
			}
		}
	}
}
