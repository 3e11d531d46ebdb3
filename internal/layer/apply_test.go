package layer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/scenario"
)

// stackLayers is a small image: a generated base, a layer that deletes and makes opaque parts of
// it, and a top layer.
func stackLayers(t testing.TB) []*Tree {
	base := mustBuild(t, scenario.PlanLayer{Name: "base",
		Generate: &scenario.Generate{Files: 1500, Dirs: 150, Total: 12 << 20, Root: "usr/share/base"},
		Files: []scenario.File{F("etc/hostname", 16), FM("etc/shadow", 700, "0640"), F("usr/lib/libbig.so", 5<<20),
			FM("usr/bin/tool", 4000, "0755"), H("usr/bin/tool-alias", "usr/bin/tool"), S("usr/bin/t", "tool"),
			D("var/lib/private", "0700"), F("var/lib/private/key", 32), F("opt/keep/a", 1), F("opt/drop/b", 1)}}, seed)
	var genDirs []string
	for _, e := range base.Entries {
		if e.Kind == Dir && strings.Count(e.Path, "/") == 3 {
			genDirs = append(genDirs, e.Path)
		}
	}
	if len(genDirs) < 2 {
		t.Fatalf("generated tree too flat: %v", genDirs)
	}
	mid := mustBuild(t, scenario.PlanLayer{Name: "mid",
		Generate: &scenario.Generate{Files: 300, Dirs: 20, Total: 2 << 20},
		Files:    []scenario.File{F("etc/hostname", 9), F(genDirs[1]+"/added", 77), F("opt/drop", 3), H("usr/bin/tool2", "usr/bin/tool")},
		Delete:   []string{genDirs[0], "etc/shadow"},
		Opaque:   []string{genDirs[1]}}, seed)
	top := mustBuild(t, scenario.PlanLayer{Name: "top",
		Files: []scenario.File{F(genDirs[0]+"/back", 5), F("usr/bin/tool", 10)}}, seed)
	return []*Tree{base, mid, top}
}

func TestApplyVerifyRoundTrip(t *testing.T) {
	chain := stackLayers(t)
	root := t.TempDir()
	for _, tr := range chain {
		if err := tr.Apply(context.Background(), root, ApplyOptions{Workers: 3}); err != nil {
			t.Fatal(err)
		}
	}
	v := Merge(chain)
	mustVerify(t, root, v, VerifyOptions{AllContent: true})
	mustVerify(t, root, v, VerifyOptions{Workers: 1})

	// applying a layer again over itself (overwrites everywhere) changes nothing
	if err := chain[2].Apply(context.Background(), root, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, root, Merge(append(chain, chain[2])), VerifyOptions{AllContent: true})
}

func TestApplyCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := stackLayers(t)[0].Apply(ctx, t.TempDir(), ApplyOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestApplyUmask(t *testing.T) {
	old := unix.Umask(0o077) // process-wide: no test here runs in parallel
	defer unix.Umask(old)
	processUmask = func() os.FileMode { return 0o077 }
	defer func() { processUmask = sync.OnceValue(umaskFromProc) }()
	tr := mustBuild(t, scenario.PlanLayer{Name: "u", Files: []scenario.File{FM("a/x", 5, "0644"), D("b", "0775"), FM("c", 1, "0600")}}, 1)
	root := t.TempDir()
	if err := tr.Apply(context.Background(), root, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, root, Merge([]*Tree{tr}), VerifyOptions{})
}

// TestVerifyDetects damages a freshly applied tree and expects Verify to name the path and the
// problem.
func TestVerifyDetects(t *testing.T) {
	layer := scenario.PlanLayer{Name: "v", Files: []scenario.File{
		F("d/a", 5000), F("d/b", 300), F("d/big", 3<<20), F("d/tiny", 5), FM("d/exe", 10, "0755"),
		S("d/link", "a"), H("d/hard", "d/a"), D("e", "0755"), F("e/x", 10)}}
	tr := mustBuild(t, layer, seed)
	v := Merge([]*Tree{tr})
	at := func(root, p string) string { return filepath.Join(root, p) }
	poke := func(t *testing.T, path string, off int64) {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		f.ReadAt(b, off)
		b[0] ^= 0x40
		f.WriteAt(b, off)
		f.Close()
	}
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, root string)
		opt     VerifyOptions
		path    string
		want    string // "" = no problem expected
	}{
		{"none", func(*testing.T, string) {}, VerifyOptions{AllContent: true}, "", ""},
		{"header-byte", func(t *testing.T, r string) { poke(t, at(r, "d/b"), 3) }, VerifyOptions{}, "d/b", "header"},
		{"body-byte-full", func(t *testing.T, r string) { poke(t, at(r, "d/big"), 2<<20+5) },
			VerifyOptions{FullContent: []string{"d/big"}}, "d/big", "differs from byte 2097157"},
		{"body-byte-headers-only", func(t *testing.T, r string) { poke(t, at(r, "d/big"), 2<<20+5) },
			VerifyOptions{}, "", ""},
		{"missing-file", func(t *testing.T, r string) { os.Remove(at(r, "d/b")) }, VerifyOptions{}, "d/b", "missing file"},
		{"missing-dir", func(t *testing.T, r string) { os.RemoveAll(at(r, "e")) }, VerifyOptions{}, "e", "missing dir"},
		{"extra-file", func(t *testing.T, r string) { os.WriteFile(at(r, "e/extra"), nil, 0o644) },
			VerifyOptions{}, "e/extra", "unexpected file"},
		{"extra-dir", func(t *testing.T, r string) { os.Mkdir(at(r, "zz"), 0o755) }, VerifyOptions{}, "zz", "unexpected directory"},
		{"whiteout-device", func(t *testing.T, r string) { unix.Mknod(at(r, "e/wh"), unix.S_IFCHR, 0) },
			VerifyOptions{}, "e/wh", "whiteout device"},
		{"file-mode", func(t *testing.T, r string) { os.Chmod(at(r, "d/exe"), 0o644) }, VerifyOptions{}, "d/exe", "mode 0644, want 0755"},
		{"dir-mode", func(t *testing.T, r string) { os.Chmod(at(r, "e"), 0o700) }, VerifyOptions{}, "e", "mode 0700, want 0755"},
		{"symlink-target", func(t *testing.T, r string) {
			os.Remove(at(r, "d/link"))
			os.Symlink("b", at(r, "d/link"))
		}, VerifyOptions{}, "d/link", `symlink to "b", want "a"`},
		{"symlink-is-file", func(t *testing.T, r string) {
			os.Remove(at(r, "d/link"))
			os.WriteFile(at(r, "d/link"), nil, 0o644)
		}, VerifyOptions{}, "d/link", "want symlink"},
		{"hardlink-broken", func(t *testing.T, r string) {
			b, _ := os.ReadFile(at(r, "d/hard"))
			os.Remove(at(r, "d/hard"))
			os.WriteFile(at(r, "d/hard"), b, 0o644)
		}, VerifyOptions{}, "d/hard", "not a hardlink of d/a"},
		{"other-files-bytes", func(t *testing.T, r string) {
			b, _ := os.ReadFile(at(r, "d/a"))
			os.WriteFile(at(r, "d/b"), b[:300], 0o644)
		}, VerifyOptions{}, "d/b", "another file's bytes"},
		{"tiny-file", func(t *testing.T, r string) { poke(t, at(r, "d/tiny"), 4) }, VerifyOptions{}, "d/tiny", "header"},
		{"truncated", func(t *testing.T, r string) { os.Truncate(at(r, "d/a"), 100) }, VerifyOptions{}, "d/a", "size 100, want 5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := tr.Apply(context.Background(), root, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			tc.corrupt(t, root)
			ps, err := Verify(context.Background(), root, v, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				for _, p := range ps {
					t.Errorf("unexpected problem: %s", p)
				}
				return
			}
			for _, p := range ps {
				if p.Path == tc.path && strings.Contains(p.Msg, tc.want) {
					return
				}
			}
			t.Errorf("no problem %s: ...%s... in %q", tc.path, tc.want, ps)
		})
	}
}

func TestVerifyCap(t *testing.T) {
	var files []scenario.File
	for i := range 80 {
		files = append(files, F("d/f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26)), 20))
	}
	tr := mustBuild(t, scenario.PlanLayer{Name: "c", Files: files}, 1)
	root := t.TempDir()
	if err := tr.Apply(context.Background(), root, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		os.Chmod(filepath.Join(root, f.Path), 0o600)
	}
	ps, err := Verify(context.Background(), root, Merge([]*Tree{tr}), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 51 || ps[50].Path != "" || !strings.Contains(ps[50].Msg, "80 problems in all, 30 not listed") {
		t.Fatalf("%d problems, last %v", len(ps), ps[len(ps)-1])
	}
	for i := 1; i < 50; i++ {
		if ComparePaths(ps[i-1].Path, ps[i].Path) > 0 {
			t.Fatalf("problems not sorted: %s, %s", ps[i-1].Path, ps[i].Path)
		}
	}
}

// TestApplyEscape plants symlinks out of the root in a lower layer and writes through them in
// upper layers: nothing may land outside the root.
func TestApplyEscape(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	up := strings.Repeat("../", strings.Count(root, "/")+2)
	l1 := mustBuild(t, scenario.PlanLayer{Name: "l1", Files: []scenario.File{
		S("evil", outside), S("evil2", up+outside[1:]), S("evil3", outside), S("evil4", outside),
		S("d/evil5", "../../../../../../.."+outside)}}, 1)
	l2 := mustBuild(t, scenario.PlanLayer{Name: "l2",
		Files:  []scenario.File{F("evil/x", 10), F("evil2/y", 10), F("d/evil5/z", 10)},
		Delete: []string{"evil3/secret"}}, 1)
	l3 := mustBuild(t, scenario.PlanLayer{Name: "l3", Files: []scenario.File{H("h", "evil4/secret")}}, 1)
	ctx := context.Background()
	for _, tr := range []*Tree{l1, l2} {
		if err := tr.Apply(ctx, root, ApplyOptions{}); err != nil {
			t.Fatalf("%s: %v", tr.Layer, err)
		}
	}
	// the writes landed inside: the implicit parent directory replaced the symlink
	mustVerify(t, root, Merge([]*Tree{l1, l2}), VerifyOptions{AllContent: true})
	if err := l3.Apply(ctx, root, ApplyOptions{}); err == nil {
		t.Errorf("hardlink through an escaping symlink: no error")
	} else {
		t.Logf("l3: %v", err)
	}
	ents, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "secret" {
		t.Errorf("outside directory changed: %v", ents)
	}
	var st unix.Stat_t
	if err := unix.Stat(secret, &st); err != nil || st.Nlink != 1 || st.Size != 4 {
		t.Errorf("outside secret: %v nlink %d size %d", err, st.Nlink, st.Size)
	}
}

// BenchmarkApplyDebian applies the flagship base layer (9000 files + 64 MiB, 184 MiB in all)
// into a fresh directory of $SEEDBENCH_BENCH_DIR (default /var/tmp: the ext4 root here).
func BenchmarkApplyDebian(b *testing.B) {
	tr := mustBuild(b, debianLayer(), seed)
	st := tr.Stats()
	b.Logf("tree: %d files, %d dirs, %d symlinks, %d MiB", st.Files, st.Dirs, st.Symlinks, st.Bytes>>20)
	base := os.Getenv("SEEDBENCH_BENCH_DIR")
	if base == "" {
		base = "/var/tmp"
	}
	for _, workers := range []int{0, 1} {
		name := "workers=ncpu"
		if workers == 1 {
			name = "workers=1"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(st.Bytes)
			// Trees are removed only at the end: on this VM's ext4 (online discard) a big rm
			// slows the next round's writes for seconds, which is not what is measured here.
			var dirs []string
			b.Cleanup(func() {
				for _, d := range dirs {
					os.RemoveAll(d)
				}
			})
			for b.Loop() {
				b.StopTimer()
				dir, err := os.MkdirTemp(base, "seedbench-apply-")
				if err != nil {
					b.Fatal(err)
				}
				dirs = append(dirs, dir)
				unix.Sync() // no writeback of the previous round during this one
				b.StartTimer()
				if err := tr.Apply(context.Background(), dir, ApplyOptions{Workers: workers}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestVerifyHeaderShare: with a share, every structural fact is still checked, and the identity of
// a stable sample of the files: a corrupted header is found in about that share of them.
func TestVerifyHeaderShare(t *testing.T) {
	tr, err := Build(scenario.PlanLayer{Name: "many", Generate: &scenario.Generate{Files: 800, Dirs: 20, Total: 800 * 64}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := tr.Apply(context.Background(), root, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, e := range tr.Entries {
		if e.Kind == File && e.Size > 0 {
			files++
			if err := os.WriteFile(filepath.Join(root, e.Path), bytes.Repeat([]byte{'x'}, int(e.Size)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	v := Merge([]*Tree{tr})
	count := func(opt VerifyOptions) int {
		opt.MaxProblems = 10000
		ps, err := Verify(context.Background(), root, v, opt)
		if err != nil {
			t.Fatal(err)
		}
		return len(ps)
	}
	all, some := count(VerifyOptions{}), count(VerifyOptions{HeaderShare: 1.0 / 8})
	if all != files || some < files/16 || some > files/4 {
		t.Errorf("%d files corrupted: %d found in full, %d with an eighth sampled", files, all, some)
	}
}
