package layer

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/units"
)

// Helpers to write explicit entries tersely.
func F(p string, size int64) scenario.File { return scenario.File{Path: p, Size: units.Size(size)} }
func FM(p string, size int64, mode string) scenario.File {
	return scenario.File{Path: p, Size: units.Size(size), Mode: mode}
}
func D(p, mode string) scenario.File { return scenario.File{Path: p, Type: "dir", Mode: mode} }
func S(p, target string) scenario.File {
	return scenario.File{Path: p, Type: "symlink", Target: target}
}
func H(p, target string) scenario.File {
	return scenario.File{Path: p, Type: "hardlink", Target: target}
}

func ptr[T any](v T) *T { return &v }

// debianLayer is the flagship's base layer.
func debianLayer() scenario.PlanLayer {
	return scenario.PlanLayer{
		Name: "debian",
		Generate: &scenario.Generate{Files: 9000, Dirs: 900, Total: 120 << 20, Depth: 4, Fanout: 8,
			Root: "usr/share/debian", Symlinks: ptr(0.02),
			Size: &scenario.SizeDist{Dist: "lognormal", Median: 4 << 10, Max: 8 << 20, Sigma: ptr(1.5)}},
		Files: []scenario.File{F("etc/hostname", 16), F("usr/lib/x86_64-linux-gnu/libbig.so", 64<<20)},
	}
}

func mustBuild(t testing.TB, pl scenario.PlanLayer, seed int64) *Tree {
	t.Helper()
	tr, err := Build(pl, seed)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// treeHash digests every field of every entry.
func treeHash(t *Tree) string {
	h := sha256.New()
	var b [8]byte
	for _, e := range t.Entries {
		fmt.Fprintf(h, "%s\x00%d\x00%o\x00%s\x00%t\x00", e.Path, e.Kind, e.Mode, e.Target, e.Implicit)
		binary.LittleEndian.PutUint64(b[:], uint64(e.Size))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], e.ID)
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestBuildDeterministic(t *testing.T) {
	a := mustBuild(t, debianLayer(), 42)
	b := mustBuild(t, debianLayer(), 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two builds of the same layer differ")
	}
	c := mustBuild(t, debianLayer(), 43)
	if treeHash(a) == treeHash(c) {
		t.Fatal("seeds 42 and 43 give the same tree")
	}
	other := debianLayer()
	other.Name = "debian2"
	other.Generate.Root = "usr/share/debian"
	if treeHash(a) == treeHash(mustBuild(t, other, 42)) {
		t.Fatal("layer name does not change the tree")
	}
	// Golden digest: a tree must be the same on every machine and Go version. If this changes,
	// every stored result's layer contents changed: bump it deliberately, never casually.
	const golden = "e73bba6acdf5c779740f2fe5eb1e9bd47d9411510c85d6c5bbaa5e11250c3530"
	if got := treeHash(a); got != golden {
		t.Errorf("debian tree digest = %s, want %s", got, golden)
	}
}

func TestBuildGenerate(t *testing.T) {
	for _, tc := range []struct {
		name string
		g    scenario.Generate
	}{
		{"lognormal", scenario.Generate{Files: 3000, Dirs: 300, Total: 40 << 20, Depth: 4, Fanout: 8,
			Size: &scenario.SizeDist{Dist: "lognormal", Median: 4 << 10, Max: 8 << 20, Sigma: ptr(1.5)}}},
		{"lognormal-clipped", scenario.Generate{Files: 1000, Dirs: 50, Total: 1000 * 6000, Depth: 2, Fanout: 8,
			Size: &scenario.SizeDist{Dist: "lognormal", Median: 4 << 10, Min: 1 << 10, Max: 16 << 10, Sigma: ptr(2.0)}}},
		{"uniform", scenario.Generate{Files: 777, Dirs: 77, Total: 5_000_001, Depth: 3, Fanout: 5,
			Size: &scenario.SizeDist{Dist: "uniform", Min: 100, Max: 20000}}},
		{"fixed", scenario.Generate{Files: 100, Dirs: 1, Total: 100*4096 + 7, Depth: 1, Fanout: 1,
			Size: &scenario.SizeDist{Dist: "fixed", Median: 4096, Max: 8 << 20}}},
		{"defaults", scenario.Generate{Files: 50}},
		{"deep-narrow", scenario.Generate{Files: 200, Dirs: 15, Total: 1 << 20, Depth: 3, Fanout: 2, Symlinks: ptr(0.5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.g
			tr := mustBuild(t, scenario.PlanLayer{Name: "gen", Generate: &g}, 7)
			root := "usr/share/gen"
			st := tr.Stats()
			if st.Files != g.Files {
				t.Errorf("files = %d, want %d", st.Files, g.Files)
			}
			wantTotal := int64(g.Total)
			if wantTotal == 0 {
				wantTotal = int64(g.Files) * 4096
			}
			if st.Bytes != wantTotal {
				t.Errorf("bytes = %d, want %d", st.Bytes, wantTotal)
			}
			dirs := g.Dirs
			if dirs == 0 {
				dirs = max(1, g.Files/10)
			}
			depth, fanout := g.Depth, g.Fanout
			if depth == 0 {
				depth = 4
			}
			if fanout == 0 {
				fanout = 8
			}
			// generated dirs = dirs under root (root included) ; plus usr, usr/share
			if st.Dirs != dirs+2 {
				t.Errorf("dirs = %d, want %d (+2 parents of root)", st.Dirs, dirs)
			}
			frac := 0.02
			if g.Symlinks != nil {
				frac = *g.Symlinks
			}
			if want := int(frac*float64(g.Files) + 0.5); st.Symlinks != want {
				t.Errorf("symlinks = %d, want %d", st.Symlinks, want)
			}
			byPath := map[string]Entry{}
			kids := map[string]int{}
			sizes := map[int64]bool{}
			for i, e := range tr.Entries {
				byPath[e.Path] = e
				if i > 0 && ComparePaths(tr.Entries[i-1].Path, e.Path) >= 0 {
					t.Fatalf("entries not sorted: %s before %s", tr.Entries[i-1].Path, e.Path)
				}
				if p := parent(e.Path); p != "" {
					if d, ok := byPath[p]; !ok || d.Kind != Dir {
						t.Fatalf("%s: parent not listed before it", e.Path)
					}
					if e.Kind == Dir {
						kids[p]++
					}
				}
				if e.Kind == Dir && strings.HasPrefix(e.Path, root+"/") {
					if d := strings.Count(e.Path[len(root):], "/"); d > depth {
						t.Errorf("%s: depth %d > %d", e.Path, d, depth)
					}
				}
				if e.Kind == File {
					sizes[e.Size] = true
					if sd := g.Size; sd != nil && (e.Size < int64(sd.Min) || sd.Max > 0 && e.Size > int64(sd.Max)) {
						t.Errorf("%s: size %d outside [%d, %d]", e.Path, e.Size, sd.Min, sd.Max)
					}
					if e.ID == 0 || e.Mode == 0 {
						t.Errorf("%s: id %x mode %o", e.Path, e.ID, e.Mode)
					}
				}
			}
			for d, n := range kids {
				if n > fanout {
					t.Errorf("%s: %d subdirectories > fanout %d", d, n, fanout)
				}
			}
			for _, e := range tr.Entries {
				if e.Kind != Symlink {
					continue
				}
				target := e.Target
				p := parent(e.Path)
				for strings.HasPrefix(target, "../") {
					target, p = target[3:], parent(p)
				}
				if f, ok := byPath[join(p, target)]; !ok || f.Kind != File {
					t.Errorf("symlink %s -> %s does not reach a generated file", e.Path, e.Target)
				}
			}
			if g.Size == nil || g.Size.Dist != "fixed" {
				if len(sizes) < g.Files/10 {
					t.Errorf("only %d distinct sizes", len(sizes))
				}
			}
		})
	}
}

func TestBuildNames(t *testing.T) {
	tr := mustBuild(t, debianLayer(), 42)
	lengths := map[int]int{}
	for _, e := range tr.Entries {
		b := base(e.Path)
		lengths[len(b)]++
		if strings.ContainsAny(b, "/\x00") || b == "." || b == ".." {
			t.Fatalf("bad name %q", b)
		}
	}
	if len(lengths) < 15 {
		t.Errorf("names have only %d distinct lengths", len(lengths))
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		pl   scenario.PlanLayer
		want string
	}{
		{"infeasible-total", scenario.PlanLayer{Generate: &scenario.Generate{Files: 10, Total: 1 << 30,
			Size: &scenario.SizeDist{Max: 1 << 20}}}, "cannot be split"},
		{"too-many-dirs", scenario.PlanLayer{Generate: &scenario.Generate{Files: 10, Dirs: 100, Depth: 2, Fanout: 3}}, "do not fit"},
		{"dotdot", scenario.PlanLayer{Files: []scenario.File{F("a/../../etc/passwd", 1)}}, "must not contain .."},
		{"absolute", scenario.PlanLayer{Files: []scenario.File{F("/etc/passwd", 1)}}, "relative"},
		{"bad-mode", scenario.PlanLayer{Files: []scenario.File{FM("a", 1, "999")}}, "octal"},
		{"bad-type", scenario.PlanLayer{Files: []scenario.File{{Path: "a", Type: "fifo"}}}, "want file, dir"},
		{"delete-written", scenario.PlanLayer{Files: []scenario.File{F("a/b", 1)}, Delete: []string{"a"}}, "writes a/b below it"},
		{"delete-same", scenario.PlanLayer{Files: []scenario.File{F("a", 1)}, Delete: []string{"a"}}, "also writes"},
		{"delete-in-opaque", scenario.PlanLayer{Opaque: []string{"a"}, Delete: []string{"a/b"}}, "opaque"},
		{"opaque-file", scenario.PlanLayer{Files: []scenario.File{F("a", 1)}, Opaque: []string{"a"}}, "writes a file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.pl.Name = "x"
			_, err := Build(tc.pl, 1)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "layer x: ") {
				t.Errorf("err %q does not name the layer", err)
			}
		})
	}
}

func TestBuildExplicitWins(t *testing.T) {
	g := &scenario.Generate{Files: 20, Dirs: 3, Total: 20 << 10, Root: "opt/app"}
	gen := mustBuild(t, scenario.PlanLayer{Name: "l", Generate: g}, 1)
	var file, dir string
	for _, e := range gen.Entries {
		if e.Kind == File && file == "" {
			file = e.Path
		}
		if e.Kind == Dir && strings.Count(e.Path, "/") == 2 && dir == "" {
			dir = e.Path
		}
	}
	pl := scenario.PlanLayer{Name: "l", Generate: g, Files: []scenario.File{
		FM(file, 5, "0600"), F(dir, 3), D("opt/app", "0700"), S("etc/alt", "/opt/app"), H("etc/hl", file),
	}, Delete: []string{"var/cache/x"}, Opaque: []string{"etc/ssl"}}
	tr := mustBuild(t, pl, 1)
	m := map[string]Entry{}
	for _, e := range tr.Entries {
		m[e.Path] = e
	}
	if e := m[file]; e.Size != 5 || e.Mode != 0o600 {
		t.Errorf("explicit file did not win: %+v", e)
	}
	if e := m[dir]; e.Kind != File {
		t.Errorf("explicit file over generated dir: %+v", e)
	}
	for p := range m {
		if under(p, dir) {
			t.Errorf("%s survived under a file", p)
		}
	}
	if e := m["opt/app"]; e.Kind != Dir || e.Mode != 0o700 || e.Implicit {
		t.Errorf("explicit dir mode over generated root: %+v", e)
	}
	if e := m["opt"]; e.Kind != Dir || e.Mode != 0o755 || !e.Implicit {
		t.Errorf("implicit parent: %+v", e)
	}
	if e := m["etc/hl"]; e.Kind != Hardlink || e.ID != m[file].ID || e.Size != 5 {
		t.Errorf("hardlink: %+v", e)
	}
	if e := m["var/cache/x"]; e.Kind != Whiteout {
		t.Errorf("whiteout: %+v", e)
	}
	if _, ok := m["var/cache"]; ok {
		t.Errorf("a whiteout's parent was added")
	}
	if e := m["etc/ssl"]; e.Kind != Opaque || e.Mode != 0o755 {
		t.Errorf("opaque: %+v", e)
	}
	if tr.Source != "generate+files+delete+opaque" {
		t.Errorf("source = %q", tr.Source)
	}
	st := tr.Stats()
	if st.Whiteouts != 1 || st.Opaques != 1 || st.Hardlinks != 1 || st.Symlinks != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestStatsDiskBytes(t *testing.T) {
	tr := mustBuild(t, scenario.PlanLayer{Name: "s", Files: []scenario.File{F("a/x", 1), F("a/y", 4096), F("a/z", 4097), F("e", 0)}}, 1)
	st := tr.Stats()
	want := Stats{Files: 4, Dirs: 1, Bytes: 1 + 4096 + 4097, DiskBytes: 4096 + 4096 + 8192 + 4096}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestContent(t *testing.T) {
	const n = 3*Chunk + 12345
	whole := make([]byte, n)
	Content(99, 0, whole)
	if id, ok := HeaderID(whole); !ok || id != 99 {
		t.Fatalf("HeaderID = %x %v", id, ok)
	}
	if _, ok := HeaderID(make([]byte, 16)); ok {
		t.Error("zero header accepted")
	}
	if bytes.Count(whole, []byte{0}) > n/100 {
		t.Error("content is mostly zero")
	}
	for _, off := range []int64{0, 1, 15, 16, 17, 4095, Chunk - 3, poolSize - 5, 2*Chunk + 1} {
		for _, l := range []int{1, 7, 100, Chunk + 9} {
			if off+int64(l) > n {
				continue
			}
			p := make([]byte, l)
			Content(99, off, p)
			if !bytes.Equal(p, whole[off:off+int64(l)]) {
				t.Fatalf("Content(99, %d, %d bytes) differs from the whole file", off, l)
			}
		}
	}
	other := make([]byte, 4096)
	Content(100, 0, other)
	if bytes.Equal(other[16:], whole[16:4096]) {
		t.Error("two ids share content")
	}
	// a file larger than the pool wraps around it
	big := make([]byte, 16)
	Content(99, poolSize+100, big)
	if !bytes.Equal(big, whole[100:116]) {
		t.Error("content is not periodic with the pool size")
	}
}

func TestExpDet(t *testing.T) {
	for _, x := range []float64{-20, -3.3, -1, -0.5, 0, 1e-9, 0.3, 1, 2.5, 10, 30} {
		got, want := expDet(x), math.Exp(x)
		if d := (got - want) / want; d > 1e-14 || d < -1e-14 {
			t.Errorf("expDet(%v) = %v, want %v", x, got, want)
		}
	}
}
