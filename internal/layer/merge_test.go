package layer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/scenario"
)

const seed = 42

// mergeCase is a layer chain and the expected view, one line per path:
//
//	"a/"            directory (mode 0755; "a/ 0700" otherwise)
//	"a/f=L2"        file whose content is L2's a/f ("h=L1:f": L1's f under another name)
//	"s->target"     symlink
//	"h=>f"          hardlink of f (same inode)
type mergeCase struct {
	name   string
	layers []scenario.PlanLayer
	want   []string
}

func L(name string, files []scenario.File, del, opaque []string) scenario.PlanLayer {
	return scenario.PlanLayer{Name: name, Files: files, Delete: del, Opaque: opaque}
}

type fs_ = []scenario.File

var mergeCases = []mergeCase{
	{"shadow", []scenario.PlanLayer{
		L("L1", fs_{F("a/f", 10), F("a/g", 3)}, nil, nil),
		L("L2", fs_{F("a/f", 20)}, nil, nil),
	}, []string{"a/", "a/f=L2", "a/g=L1"}},
	{"whiteout-file", []scenario.PlanLayer{
		L("L1", fs_{F("a/f", 10), F("a/g", 3)}, nil, nil),
		L("L2", nil, []string{"a/f"}, nil),
	}, []string{"a/", "a/g=L1"}},
	{"whiteout-dir", []scenario.PlanLayer{
		L("L1", fs_{F("a/b/c", 10), F("a/b/d/e", 1), F("a/x", 3)}, nil, nil),
		L("L2", nil, []string{"a/b"}, nil),
	}, []string{"a/", "a/x=L1"}},
	{"whiteout-missing", []scenario.PlanLayer{
		L("L1", fs_{F("a/x", 3)}, nil, nil),
		L("L2", fs_{F("b", 1)}, []string{"a/nothing", "c/d"}, nil),
	}, []string{"a/", "a/x=L1", "b=L2"}},
	{"whiteout-through-symlink", []scenario.PlanLayer{
		L("L1", fs_{F("d/f", 3), S("link", "d"), S("abs", "/d")}, nil, nil),
		L("L2", nil, []string{"link/f", "abs/f"}, nil),
	}, []string{"abs->/d", "d/", "d/f=L1", "link->d"}},
	{"whiteout-then-recreate", []scenario.PlanLayer{
		L("L1", fs_{F("a/f", 10)}, nil, nil),
		L("L2", nil, []string{"a"}, nil),
		L("L3", fs_{F("a/g", 5)}, nil, nil),
	}, []string{"a/", "a/g=L3"}},
	{"opaque", []scenario.PlanLayer{
		L("L1", fs_{F("a/x", 1), F("a/y/z", 2), F("b", 1)}, nil, nil),
		L("L2", fs_{F("a/new", 4)}, nil, []string{"a"}),
		L("L3", fs_{F("a/top", 4)}, nil, nil),
	}, []string{"a/", "a/new=L2", "a/top=L3", "b=L1"}},
	{"opaque-mode", []scenario.PlanLayer{
		L("L1", fs_{F("a/x", 1)}, nil, nil),
		L("L2", fs_{D("a", "0700")}, nil, []string{"a"}),
	}, []string{"a/ 0700"}},
	{"dir-replaced-by-file", []scenario.PlanLayer{
		L("L1", fs_{F("a/b/c", 10), F("a/d", 1)}, nil, nil),
		L("L2", fs_{F("a", 5)}, nil, nil),
	}, []string{"a=L2"}},
	{"file-replaced-by-dir", []scenario.PlanLayer{
		L("L1", fs_{F("a", 10)}, nil, nil),
		L("L2", fs_{F("a/b", 5)}, nil, nil),
	}, []string{"a/", "a/b=L2"}},
	{"symlink-replaced-by-dir", []scenario.PlanLayer{
		L("L1", fs_{S("s", "/nonexistent"), S("t", "s")}, nil, nil),
		L("L2", fs_{F("s/x", 5)}, nil, nil),
	}, []string{"s/", "s/x=L2", "t->s"}},
	{"dir-modes", []scenario.PlanLayer{
		L("L1", fs_{D("a", "0700"), F("a/f", 1)}, nil, nil),
		L("L2", fs_{F("a/g", 1)}, nil, nil),
		L("L3", fs_{D("b", "0711"), F("b/c", 1)}, nil, nil),
		L("L4", fs_{D("b", "0750")}, nil, nil),
	}, []string{"a/ 0700", "a/f=L1", "a/g=L2", "b/ 0750", "b/c=L3"}},
	{"hardlink-same-layer", []scenario.PlanLayer{
		L("L1", fs_{F("f", 100), H("h", "f"), H("z/h2", "h")}, nil, nil),
	}, []string{"f=L1", "h=>f", "z/", "z/h2=>f"}},
	{"hardlink-across-layers", []scenario.PlanLayer{
		L("L1", fs_{F("d/f", 100)}, nil, nil),
		L("L2", fs_{H("h", "d/f")}, nil, nil),
	}, []string{"d/", "d/f=L1", "h=>d/f"}},
	{"hardlink-target-shadowed", []scenario.PlanLayer{
		L("L1", fs_{F("f", 100), H("h", "f"), H("i", "f")}, nil, nil),
		L("L2", fs_{F("f", 7)}, nil, nil),
	}, []string{"f=L2", "h=L1:f", "i=>h"}},
	{"hardlink-target-deleted", []scenario.PlanLayer{
		L("L1", fs_{F("f", 100), H("h", "f")}, nil, nil),
		L("L2", nil, []string{"f"}, nil),
	}, []string{"h=L1:f"}},
	{"hardlink-to-lower-with-links", []scenario.PlanLayer{
		L("L1", fs_{F("f", 100), H("a", "f")}, nil, nil),
		L("L2", fs_{H("b", "a")}, nil, nil),
	}, []string{"a=L1:f", "b=>a", "f=L1"}},
	{"modes", []scenario.PlanLayer{
		L("L1", fs_{FM("x", 10, "0600"), FM("y", 10, "0777"), FM("z", 0, "0000"), D("d", "0500")}, nil, nil),
	}, []string{"d/ 0500", "x=L1 0600", "y=L1 0777", "z=L1 0000"}},
}

// describeView renders a view in mergeCase notation.
func describeView(v *View, layers []*Tree) []string {
	origin := map[uint64]string{}
	for _, t := range layers {
		for _, e := range t.Entries {
			if e.Kind == File {
				origin[e.ID] = t.Layer + ":" + e.Path
			}
		}
	}
	var out []string
	for _, p := range v.Paths() {
		e, _ := v.Lookup(p)
		var s string
		switch e.Kind {
		case Dir:
			s = p + "/"
			if e.Mode != 0o755 {
				s += fmt.Sprintf(" %04o", e.Mode)
			}
		case File:
			o := origin[e.ID]
			if strings.HasSuffix(o, ":"+p) {
				o = strings.TrimSuffix(o, ":"+p)
			}
			s = p + "=" + o
			if e.Mode != 0o644 {
				s += fmt.Sprintf(" %04o", e.Mode)
			}
		case Symlink:
			s = p + "->" + e.Target
		case Hardlink:
			s = p + "=>" + e.Target
		default:
			s = p + "?" + e.Kind.String()
		}
		out = append(out, s)
	}
	return out
}

func buildChain(t testing.TB, layers []scenario.PlanLayer) []*Tree {
	t.Helper()
	var chain []*Tree
	for _, pl := range layers {
		chain = append(chain, mustBuild(t, pl, seed))
	}
	return chain
}

func TestMerge(t *testing.T) {
	for _, tc := range mergeCases {
		t.Run(tc.name, func(t *testing.T) {
			chain := buildChain(t, tc.layers)
			got := describeView(Merge(chain), chain)
			if !slices.Equal(got, tc.want) {
				t.Errorf("view:\n  got  %q\n  want %q", got, tc.want)
			}
		})
	}
}

// TestMergeApplyPlain applies every case layer after layer into one plain directory (what a
// native snapshotter does) and verifies it against Merge: Apply and Merge agree.
func TestMergeApplyPlain(t *testing.T) {
	for _, tc := range mergeCases {
		t.Run(tc.name, func(t *testing.T) {
			chain := buildChain(t, tc.layers)
			root := t.TempDir()
			for _, tr := range chain {
				if err := tr.Apply(context.Background(), root, ApplyOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			mustVerify(t, root, Merge(chain), VerifyOptions{AllContent: true})
		})
	}
}

func mustVerify(t testing.TB, root string, v *View, opt VerifyOptions) {
	t.Helper()
	ps, err := Verify(context.Background(), root, v, opt)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		t.Errorf("verify: %s", p)
	}
}

// TestViewChanges performs workload changes on a real directory, records them in the view, and
// verifies; then checks that each recorded change is really checked.
func TestViewChanges(t *testing.T) {
	chain := buildChain(t, []scenario.PlanLayer{
		L("L1", fs_{F("d/a", 5000), F("d/b", 3), F("d/c", 100), F("d/e", 10), F("d/f", 64), F("x/y/z", 9),
			F("l/f", 50), H("l/h", "l/f"), F("m", 1), F("n", 2)}, nil, nil),
	})
	root := t.TempDir()
	if err := chain[0].Apply(context.Background(), root, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	v := Merge(chain)
	base := v.Clone()
	at := func(p string) string { return filepath.Join(root, p) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	appendTo := func(p string, b []byte) {
		f, err := os.OpenFile(at(p), os.O_WRONLY|os.O_APPEND, 0)
		must(err)
		_, err = f.Write(b)
		must(err)
		must(f.Close())
	}
	// append a byte
	appendTo("d/a", []byte{'!'})
	must(v.Appended("d/a", []byte{'!'}))
	// truncate shorter, then append, then extend with zeros, then append again
	must(os.Truncate(at("d/c"), 40))
	must(v.Truncated("d/c", 40))
	appendTo("d/c", []byte("xy"))
	must(v.Appended("d/c", []byte("xy")))
	must(os.Truncate(at("d/c"), 100))
	must(v.Truncated("d/c", 100))
	appendTo("d/c", []byte("z"))
	must(v.Appended("d/c", []byte("z")))
	// truncate a tiny file inside its header
	must(os.Truncate(at("d/b"), 1))
	must(v.Truncated("d/b", 1))
	// rewrite with new content
	id := ContentID(seed, "c1", "d/e", 1)
	f, err := os.OpenFile(at("d/e"), os.O_WRONLY|os.O_TRUNC, 0)
	must(err)
	buf := make([]byte, 777)
	Content(id, 0, buf)
	_, err = f.Write(buf)
	must(err)
	must(f.Close())
	must(v.Modified("d/e", 777, id))
	// touch, chmod, create, remove, rename, mkdir
	must(v.Touched("d/f"))
	must(os.Chmod(at("m"), 0o600))
	must(v.Chmod("m", 0o600))
	cid := ContentID(seed, "c1", "new/file", 0)
	must(os.Mkdir(at("new"), 0o755))
	must(v.Mkdir("new", 0o755))
	buf = make([]byte, 12345)
	Content(cid, 0, buf)
	must(os.WriteFile(at("new/file"), buf, 0o644))
	must(v.Created("new/file", 12345, cid))
	must(os.RemoveAll(at("x/y")))
	must(v.Removed("x/y"))
	must(os.Rename(at("x"), at("x2")))
	must(v.Renamed("x", "x2"))
	must(os.Rename(at("n"), at("x2/n")))
	must(v.Renamed("n", "x2/n"))
	// append through one name of a hardlink pair the way overlay copy-up does it: the name gets
	// a new inode, the other name keeps the old content.
	old, err := os.ReadFile(at("l/h"))
	must(err)
	must(os.Remove(at("l/h")))
	must(os.WriteFile(at("l/h"), append(old, 1), 0o644))
	must(v.Appended("l/h", []byte{1}))
	if e, _ := v.Lookup("l/f"); e.Kind != File || e.Size != 50 {
		t.Fatalf("l/f after detaching l/h: %+v", e)
	}
	mustVerify(t, root, v, VerifyOptions{})

	// The unchanged view must see every change as a problem.
	ps, err := Verify(context.Background(), root, base, VerifyOptions{MaxProblems: 100})
	must(err)
	var got []string
	for _, p := range ps {
		got = append(got, p.Path)
	}
	for _, p := range []string{"d/a", "d/b", "d/c", "d/e", "m", "new", "x", "x2", "n", "l/h"} {
		if !slices.Contains(got, p) {
			t.Errorf("unchanged view: no problem reported for %s (got %q)", p, ps)
		}
	}
	if err := v.Renamed("x2", "x2/n/deeper"); err == nil {
		t.Error("rename into itself accepted")
	}
	if err := v.Created("nowhere/f", 1, 1); err == nil {
		t.Error("create without a parent accepted")
	}
	if err := v.Appended("new", []byte{1}); err == nil {
		t.Error("append to a directory accepted")
	}
}

func TestViewCloneRenameLinks(t *testing.T) {
	chain := buildChain(t, []scenario.PlanLayer{L("L1", fs_{F("d/f", 10), H("d/h", "d/f"), H("x/g", "d/f")}, nil, nil)})
	v := Merge(chain)
	c := v.Clone()
	if err := c.Renamed("d", "e"); err != nil {
		t.Fatal(err)
	}
	if got, want := describeView(c, chain), []string{"e/", "e/f=L1:d/f", "e/h=L1:d/f", "x/", "x/g=L1:d/f"}; !slices.Equal(got, want) {
		t.Errorf("after rename: %q, want %q", got, want)
	}
	if got, want := describeView(v, chain), []string{"d/", "d/f=L1", "d/h=>d/f", "x/", "x/g=>d/f"}; !slices.Equal(got, want) {
		t.Errorf("the original changed with its clone: %q, want %q", got, want)
	}
	if err := v.Removed("d/f"); err != nil {
		t.Fatal(err)
	}
	if got, want := describeView(v, chain), []string{"d/", "d/h=L1:d/f", "x/", "x/g=>d/h"}; !slices.Equal(got, want) {
		t.Errorf("after removing the primary: %q, want %q", got, want)
	}
	if err := v.Renamed("x", "d"); err == nil {
		t.Error("rename onto a non-empty directory accepted")
	}
}
