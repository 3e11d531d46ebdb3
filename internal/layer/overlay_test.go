package layer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// overlayFixture builds layer stacks the way the overlay snapshotter does: the bottom layer is
// applied into a plain directory, every other one through an overlay mount whose upper directory
// becomes that layer, so whiteouts and opaque directories are made by the kernel.
type overlayFixture struct {
	t   *testing.T
	dir string
	n   int
}

func newOverlayFixture(t *testing.T) *overlayFixture {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount overlay")
	}
	f := &overlayFixture{t: t, dir: t.TempDir()}
	// Registered first, so it runs after every unmount: nothing may stay mounted.
	t.Cleanup(func() {
		if ms := mountsUnder(f.dir); len(ms) > 0 {
			t.Errorf("still mounted after the test: %v", ms)
			for _, m := range ms {
				unix.Unmount(m, unix.MNT_DETACH)
			}
		}
	})
	lower, upper, work, mnt := f.mkdir("probe-l"), f.mkdir("probe-u"), f.mkdir("probe-w"), f.mkdir("probe-m")
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
		t.Skipf("cannot mount overlay here: %v", err)
	}
	unix.Unmount(mnt, 0)
	return f
}

func (f *overlayFixture) mkdir(name string) string {
	p := filepath.Join(f.dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// mount mounts an overlay of lowers (top first) with an upper directory if upper != "", and
// returns the mount point and a function that unmounts it (also registered with t.Cleanup).
func (f *overlayFixture) mount(lowers []string, upper string, extra ...string) (string, func()) {
	f.n++
	mnt := f.mkdir(fmt.Sprintf("mnt%d", f.n))
	opts := []string{"lowerdir=" + strings.Join(lowers, ":"), "index=off"}
	if upper != "" {
		opts = append(opts, "upperdir="+upper, "workdir="+f.mkdir(fmt.Sprintf("work%d", f.n)))
	}
	opts = append(opts, extra...)
	if err := unix.Mount("overlay", mnt, "overlay", 0, strings.Join(opts, ",")); err != nil {
		f.t.Fatalf("mount overlay %v: %v", opts, err)
	}
	done := false
	umount := func() {
		if done {
			return
		}
		done = true
		if err := unix.Unmount(mnt, 0); err != nil {
			f.t.Errorf("unmount %s: %v", mnt, err)
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	}
	f.t.Cleanup(umount)
	return mnt, umount
}

// build applies chain and returns the layer directories, bottom first.
func (f *overlayFixture) build(name string, chain []*Tree) []string {
	var layers []string
	for i, tr := range chain {
		up := f.mkdir(fmt.Sprintf("%s-l%d", name, i))
		target := up
		umount := func() {}
		if i > 0 {
			target, umount = f.mount(reversed(layers), up)
		}
		err := tr.Apply(context.Background(), target, ApplyOptions{})
		umount()
		if err != nil {
			f.t.Fatalf("layer %d through overlay: %v", i, err)
		}
		layers = append(layers, up)
	}
	return layers
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fs := strings.Fields(s.Text()); len(fs) > 4 && strings.HasPrefix(fs[4], dir) {
			out = append(out, fs[4])
		}
	}
	return out
}

// TestOverlayMerge builds every merge case through real overlay mounts and verifies the read-only
// image view (all layers as lowers) against Merge.
func TestOverlayMerge(t *testing.T) {
	f := newOverlayFixture(t)
	for i, tc := range mergeCases {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			chain := buildChain(t, tc.layers)
			layers := f.build(fmt.Sprintf("c%d", i), chain)
			view := layers[0]
			if len(layers) > 1 {
				var umount func()
				view, umount = f.mount(reversed(layers), "")
				defer umount()
			}
			mustVerify(t, view, Merge(chain), VerifyOptions{AllContent: true})
		})
	}
	f.t = t
	// The kernel, not Apply, made the whiteouts and opaque directories in the upper layers.
	var whiteouts, opaques int
	filepath.WalkDir(f.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || strings.Contains(p, "/mnt") || strings.Contains(p, "/work") {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(p, &st) != nil {
			return nil
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			whiteouts++
		}
		b := make([]byte, 1)
		if n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", b); err == nil && n == 1 && b[0] == 'y' {
			opaques++
		}
		return nil
	})
	if whiteouts < 4 || opaques < 2 {
		t.Errorf("upper layers hold %d whiteout devices and %d opaque directories", whiteouts, opaques)
	}
}

// TestOverlayContainer builds an image through overlay, starts a "container" (an overlay with
// its own upper directory), runs workload changes in it, records them in the view, and verifies.
func TestOverlayContainer(t *testing.T) {
	f := newOverlayFixture(t)
	chain := stackLayers(t)
	layers := f.build("img", chain)
	image := Merge(chain)

	// The image itself, read-only.
	ro, umount := f.mount(reversed(layers), "")
	mustVerify(t, ro, image, VerifyOptions{AllContent: true})
	umount()

	mnt, umount := f.mount(reversed(layers), f.mkdir("ctr-upper"), "redirect_dir=on")
	defer umount()
	v := image.Clone()
	at := func(p string) string { return filepath.Join(mnt, p) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// pick lower files of the base layer by size
	var small, mid []string
	var dirs []string
	for _, p := range v.Paths() {
		e, _ := v.Lookup(p)
		if !strings.HasPrefix(p, "usr/share/base/") {
			continue
		}
		switch {
		case e.Kind == File && e.Size > 100 && e.Size < 8<<10:
			small = append(small, p)
		case e.Kind == File && e.Size >= 64<<10:
			mid = append(mid, p)
		case e.Kind == Dir && strings.Count(p, "/") == 4:
			dirs = append(dirs, p)
		}
	}
	if len(small) < 6 || len(mid) < 2 || len(dirs) < 3 {
		t.Fatalf("not enough targets: %d small, %d mid, %d dirs", len(small), len(mid), len(dirs))
	}
	appendTo := func(p string, b []byte) {
		fh, err := os.OpenFile(at(p), os.O_WRONLY|os.O_APPEND, 0)
		must(err)
		_, err = fh.Write(b)
		must(err)
		must(fh.Close())
	}
	appendTo(mid[0], []byte{'A'}) // copy-up of a big file
	must(v.Appended(mid[0], []byte{'A'}))
	must(os.Truncate(at(mid[1]), 1000))
	must(v.Truncated(mid[1], 1000))
	must(os.Chmod(at(small[0]), 0o600))
	must(v.Chmod(small[0], 0o600))
	fh, err := os.OpenFile(at(small[1]), os.O_RDWR, 0)
	must(err)
	must(fh.Close())
	must(v.Touched(small[1]))
	must(os.Remove(at(small[2])))
	must(v.Removed(small[2]))
	must(os.Rename(at(small[3]), at(small[3]+".moved")))
	must(v.Renamed(small[3], small[3]+".moved"))
	id := ContentID(seed, "ctr", "seedbench/new", 0)
	must(os.MkdirAll(at("seedbench"), 0o755))
	must(v.Mkdir("seedbench", 0o755))
	buf := make([]byte, 10000)
	Content(id, 0, buf)
	must(os.WriteFile(at("seedbench/new"), buf, 0o644))
	must(v.Created("seedbench/new", 10000, id))
	must(os.RemoveAll(at(dirs[0]))) // remove a lower directory
	must(v.Removed(dirs[0]))
	// make a lower directory opaque: rm -rf, mkdir, one new file
	must(os.RemoveAll(at(dirs[1])))
	must(os.Mkdir(at(dirs[1]), 0o755))
	must(v.Removed(dirs[1]))
	must(v.Mkdir(dirs[1], 0o755))
	must(os.WriteFile(at(dirs[1]+"/only"), buf[:100], 0o644))
	must(v.Created(dirs[1]+"/only", 100, id))
	// rename a lower directory (redirect_dir)
	if err := os.Rename(at(dirs[2]), at(dirs[2]+".renamed")); err != nil {
		if !errors.Is(err, unix.EXDEV) {
			t.Fatal(err)
		}
		t.Logf("directory rename: %v (no redirect_dir)", err)
	} else {
		must(v.Renamed(dirs[2], dirs[2]+".renamed"))
	}
	// append through one name of a lower hardlink pair: copy-up breaks the pair
	appendTo("usr/bin/tool-alias", []byte{7})
	must(v.Appended("usr/bin/tool-alias", []byte{7}))

	mustVerify(t, mnt, v, VerifyOptions{})
	// and the image view no longer matches
	ps, err := Verify(context.Background(), mnt, image, VerifyOptions{})
	must(err)
	if len(ps) < 10 {
		t.Errorf("the unchanged image view matches the changed container: %q", ps)
	}
}
