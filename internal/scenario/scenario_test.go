package scenario

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/units"
)

// TestInvalid runs every testdata/invalid/NAME.yaml and compares its problems, in order, with
// NAME.err: one "LINE: field: message" per line, where the message may be a prefix or any substring
// of the reported one. The count must match too, so an extra (cascading) error fails the case.
func TestInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) < 20 {
		t.Fatalf("want at least 20 invalid cases, got %d (%v)", len(files), err)
	}
	errFiles, _ := filepath.Glob("testdata/invalid/*.err")
	if len(errFiles) != len(files) {
		t.Errorf("%d .yaml files but %d .err files: every case needs both", len(files), len(errFiles))
	}
	lineRE := regexp.MustCompile(`^(\d+): (.+)$`)
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			want := readLines(t, strings.TrimSuffix(file, ".yaml")+".err")
			sc, err := Load(file)
			if err == nil {
				t.Fatalf("Load succeeded (%s), want errors", sc.Name)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not a *Errors: %v", err, err)
			}
			if len(*errs) != len(want) {
				t.Errorf("got %d problems, want %d:\n%v", len(*errs), len(want), err)
			}
			for i, w := range want {
				m := lineRE.FindStringSubmatch(w)
				if m == nil {
					t.Fatalf("%s.err line %q is not LINE: field: message", name, w)
				}
				if i >= len(*errs) {
					t.Errorf("missing problem %s", w)
					continue
				}
				e := (*errs)[i]
				line, _ := strconv.Atoi(m[1])
				got := e.Msg
				if e.Field != "" {
					got = e.Field + ": " + e.Msg
				}
				if e.Line != line || !strings.Contains(got, m[2]) {
					t.Errorf("problem %d = %d: %s\n              want %s", i, e.Line, got, w)
				}
				if e.File != file || !strings.HasPrefix(e.Error(), file+":"+m[1]+": ") {
					t.Errorf("problem %d formats as %q, want the prefix %s:%s: ", i, e.Error(), file, m[1])
				}
			}
			for i := 1; i < len(*errs); i++ {
				if (*errs)[i].Line < (*errs)[i-1].Line {
					t.Errorf("problems not sorted by line:\n%v", err)
				}
			}
			if got := strings.Count(err.Error(), "\n") + 1; got != len(*errs) {
				t.Errorf("Error() has %d lines for %d problems", got, len(*errs))
			}
		})
	}
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if l := strings.TrimSpace(s.Text()); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s expects no problem", file)
	}
	return out
}

// stubImages is a rootless test double of the image opener (bench.Images): every image has three
// layers of 1 MiB, whose tars are not read here.
func stubImages(src ImageSource) ([]ImageLayer, error) {
	var out []ImageLayer
	for i := range 3 {
		out = append(out, ImageLayer{Source: "stub", Index: i + 1, Count: 3, DiskBytes: 1 << 20, Entries: 100})
	}
	return out, nil
}

// TestValid loads, validates and resolves every valid test file and every shipped scenario, in
// normal and quick mode, and renders the plan.
func TestValid(t *testing.T) {
	valid, _ := filepath.Glob("testdata/valid/*.yaml")
	shipped, _ := filepath.Glob("../../scenarios/*.yaml")
	if len(valid) < 5 || len(shipped) < 2 {
		t.Fatalf("found %d valid test files and %d scenarios", len(valid), len(shipped))
	}
	for _, file := range append(valid, shipped...) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			sc, err := Load(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, quick := range []bool{false, true} {
				p, err := Resolve(sc, ResolveOptions{Quick: quick, Images: stubImages})
				if err != nil {
					t.Fatalf("Resolve(quick=%v): %v", quick, err)
				}
				checkPlan(t, p)
				var b bytes.Buffer
				if err := p.Describe(&b); err != nil || !strings.Contains(b.String(), "scenario "+sc.Name) {
					t.Fatalf("Describe = %q, %v", b.String(), err)
				}
			}
		})
	}
}

// checkPlan asserts what every Plan promises.
func checkPlan(t *testing.T, p *Plan) {
	t.Helper()
	built := map[string]bool{}
	for _, l := range p.Layers {
		if l.Parent != "" && !built[l.Parent] {
			t.Errorf("layer %s comes before its parent %s", l.Name, l.Parent)
		}
		built[l.Name] = true
		seen := map[string]bool{}
		for _, f := range l.Files {
			if seen[f.Path] {
				t.Errorf("layer %s lists %s twice", l.Name, f.Path)
			}
			seen[f.Path] = true
			if f.Type == "" || (f.Type == "file" || f.Type == "dir") && f.Mode == "" {
				t.Errorf("layer %s: %s has no resolved type or mode: %+v", l.Name, f.Path, f)
			}
		}
		if g := l.Generate; g != nil && (g.Files < 1 || g.Dirs < 1 || g.Depth < 1 || g.Fanout < 1 || g.Root == "" ||
			g.Size == nil || g.Size.Dist == "" || g.Size.Sigma == nil || g.Symlinks == nil || g.Size.Max < g.Size.Median) {
			t.Errorf("layer %s: generate defaults not applied: %+v", l.Name, g)
		}
	}
	if p.Samples < 1 || len(p.Containers) == 0 || p.SHA256 == "" {
		t.Errorf("plan samples %d, containers %v, sha %q", p.Samples, p.Containers, p.SHA256)
	}
	for _, im := range p.Images {
		if len(im.Chain) == 0 || im.Chain[len(im.Chain)-1] != im.Top || im.Containers < 1 {
			t.Errorf("image %+v", im)
		}
	}
	for _, o := range p.Ops {
		if o.Samples < 1 || len(o.Caches) == 0 || len(o.Images) == 0 {
			t.Errorf("op %d (%s): samples %d caches %v images %v", o.Index, o.Op, o.Samples, o.Caches, o.Images)
		}
		if p.Quick {
			for _, s := range o.Sizes {
				if s > DefaultQuickMaxSize && s > 16*units.MiB {
					t.Errorf("op %d: quick size %s not capped", o.Index, s)
				}
			}
		}
	}
}

// TestPositions checks the Line of every struct and the line of problems deep in the file.
func TestPositions(t *testing.T) {
	src := `# comment
name: pos
seed: 1
layers:
  - name: base
    generate:
      files: 10
      size:
        dist: uniform
    files:
      - path: a
      - {path: b}
  - name: top
images:
  app: top
  other: base
workload:
  - op: create
  - {op: lookup}
drivers:
  - overlayfs
  - name: native
sweep:
  containers: [1]
quick:
  scale: 0.5
`
	sc, err := Parse("pos.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want int
	}{
		{"scenario", sc.Line, 2},
		{"layers[0]", sc.Layers[0].Line, 5},
		{"layers[0].generate", sc.Layers[0].Generate.Line, 6},
		{"layers[0].generate.size", sc.Layers[0].Generate.Size.Line, 8},
		{"layers[0].files[0]", sc.Layers[0].Files[0].Line, 11},
		{"layers[0].files[1]", sc.Layers[0].Files[1].Line, 12},
		{"layers[1]", sc.Layers[1].Line, 13},
		{"images.app", sc.Images[0].Line, 15},
		{"images.other", sc.Images[1].Line, 16},
		{"workload[0]", sc.Workload[0].Line, 18},
		{"workload[1]", sc.Workload[1].Line, 19},
		{"drivers[0]", sc.Drivers[0].Line, 21},
		{"drivers[1]", sc.Drivers[1].Line, 22},
		{"sweep", sc.Sweep.Line, 23},
		{"quick", sc.Quick.Line, 25},
	} {
		if c.got != c.want {
			t.Errorf("%s.Line = %d, want %d", c.what, c.got, c.want)
		}
	}
	// The same file with a problem on each of several lines: each is reported at its own line.
	bad := strings.NewReplacer("files: 10", "files: 0", "dist: uniform", "dist: normal", "path: a", "path: /a",
		"other: base", "other: nope", "op: create", "op: creat", "scale: 0.5", "scale: 2").Replace(src)
	_, err = Parse("pos.yaml", []byte(bad))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want *Errors, got %v", err)
	}
	want := map[string]int{
		"layers[0].generate.files": 7, "layers[0].generate.size.dist": 9, "layers[0].files[0].path": 11,
		"images.other": 16, "workload[0].op": 18, "quick.scale": 26,
	}
	for _, e := range *errs {
		if w, ok := want[e.Field]; !ok || w != e.Line {
			t.Errorf("unexpected problem %v", e)
		}
		delete(want, e.Field)
	}
	for f, l := range want {
		t.Errorf("missing the problem at %d: %s", l, f)
	}
}

func TestDecodeForms(t *testing.T) {
	sc, err := Load("testdata/valid/scalar-forms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w := sc.Workload
	if !reflect.DeepEqual(w[0].Size, []units.Size{units.MiB}) || !reflect.DeepEqual(w[0].Cache, []string{"cold"}) {
		t.Errorf("scalar size/cache: %v %v", w[0].Size, w[0].Cache)
	}
	if !reflect.DeepEqual(w[1].How, []string{"truncate"}) || !reflect.DeepEqual(w[2].Kind, []string{"dir"}) {
		t.Errorf("scalar how/kind: %v %v", w[1].How, w[2].Kind)
	}
	if !reflect.DeepEqual(w[3].Depth, Depth{Levels: []int{1}}) {
		t.Errorf("depth: 1 decoded as %+v", w[3].Depth)
	}
	g := sc.Layers[0].Generate
	if g.Files != 1000 || g.Total != 3<<19 || g.Size.Min != 16 || *g.Symlinks != 0 || *sc.Seed != -3 || *sc.Warmup != 0 {
		t.Errorf("generate %+v seed %d warmup %d", g, *sc.Seed, *sc.Warmup)
	}
	if f := sc.Layers[0].Files; f[0].Mode != "0755" || f[1].Mode != "700" {
		t.Errorf("modes %q %q", f[0].Mode, f[1].Mode)
	}

	sc, err = Load("testdata/valid/forward-parent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Images{{"z-app", "app", 16}, {"a-tool", "tool", 17}}); !reflect.DeepEqual(sc.Images, want) {
		t.Errorf("images = %+v, want the file's order %+v", sc.Images, want)
	}
	if !sc.Workload[0].Depth.All || !reflect.DeepEqual(sc.Workload[1].Depth.Levels, []int{3, 1}) {
		t.Errorf("depths %+v %+v", sc.Workload[0].Depth, sc.Workload[1].Depth)
	}

	sc, err = Load("testdata/valid/drivers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []DriverSpec{
		{Name: "overlayfs", Line: 7},
		{Name: "native", Line: 8},
		{Name: "overlay-nometa", Driver: "overlayfs", MountOptions: []string{"index=off", "metacopy=off"}, Backing: "xfs", Line: 9},
		{Name: "btrfs", Backing: "btrfs", Line: 13},
		{Name: "small", Driver: "overlayfs", BackingSize: 64 * units.MiB, Line: 14},
	}
	if !reflect.DeepEqual(sc.Drivers, want) {
		t.Errorf("drivers = %+v\nwant %+v", sc.Drivers, want)
	}

	sc, err = Load("testdata/valid/anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Layers[1].Generate.Files != 100 || !reflect.DeepEqual(sc.Workload[1].Size, []units.Size{4 * units.KiB, 64 * units.KiB}) {
		t.Errorf("aliases not followed: %+v %v", sc.Layers[1].Generate, sc.Workload[1].Size)
	}
}

func TestErrorFormat(t *testing.T) {
	for _, c := range []struct {
		e    Error
		want string
	}{
		{Error{"a.yaml", 3, "layers[0].name", "bad"}, "a.yaml:3: layers[0].name: bad"},
		{Error{"a.yaml", 1, "", "malformed"}, "a.yaml:1: malformed"},
		{Error{"", 0, "seed", "missing"}, "seed: missing"},
		{Error{"a.yaml", 0, "seed", "missing"}, "a.yaml: seed: missing"},
	} {
		if got := c.e.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
	errs := &Errors{{"f", 1, "a", "x"}, {"f", 2, "b", "y"}}
	if errs.Error() != "f:1: a: x\nf:2: b: y" {
		t.Errorf("Errors.Error() = %q", errs.Error())
	}
	var one Error
	if !errors.As(error(errs), &one) || one.Field != "a" {
		t.Errorf("errors.As(Error) = %+v", one)
	}
}

// TestAllAtOnce: problems from decoding and from validation come back together.
func TestAllAtOnce(t *testing.T) {
	_, err := Parse("x.yaml", []byte("name: X\nlayers:\n  - name: a\n    sise: 1\n  - name: a\nimages: {i: b}\n"))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want *Errors, got %v", err)
	}
	var got []string
	for _, e := range *errs {
		got = append(got, strconv.Itoa(e.Line)+" "+e.Field)
	}
	want := []string{"1 name", "1 seed", "4 layers[0].sise", "5 layers[1].name", "6 images.i"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q\nwant %q\n%v", got, want, err)
	}
}
