package overlayfs_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/drivers/overlayfs"
	"github.com/seedbench/seedbench/internal/backing"
)

func TestConformance(t *testing.T) {
	for _, d := range overlayfs.Variants() {
		t.Run(d.Info().Name, func(t *testing.T) {
			drivertest.Run(t, d, drivertest.Config{
				SuiteName: suiteName(d),
				Checks:    []drivertest.Check{{Name: "mount-kinds", Run: checkMountKinds}},
			})
		})
	}
}

// The registry's backing variants, where copy-up is a reflink clone, run the whole suite too.
func TestConformanceReflinkBackings(t *testing.T) {
	for _, fs := range []string{backing.XFS, backing.Btrfs} {
		d := overlayfs.New("overlayfs-"+fs, nil, fs)
		t.Run(d.Info().Name, func(t *testing.T) { drivertest.Run(t, d, drivertest.Config{SuiteName: suiteName(d)}) })
	}
}

// suiteName picks the containerd suite's expectations: with redirect_dir=on a lower directory can be
// renamed, so the suite's rename test runs in full; otherwise overlay returns EXDEV and the suite
// skips that rename for "overlayfs".
func suiteName(d drivers.Driver) string {
	if strings.Contains(d.Info().Options["mount_options"], "redirect_dir=on") {
		return d.Info().Name
	}
	return "overlayfs"
}

// checkMountKinds pins down what the snapshotter returns: a bind mount for a snapshot without a
// parent and for a view of one layer; an overlay, carrying the driver's options, above that.
func checkMountKinds(t *testing.T, env *drivertest.Env) {
	ctx := context.Background()
	sn := env.Instance.Snapshotter()
	want := strings.Split(env.Driver.Info().Options["mount_options"], ",")
	if want[0] == "" {
		want = []string{"index=off"} // containerd's default, where the kernel has the index feature
		if _, err := os.Stat("/sys/module/overlay/parameters/index"); err != nil {
			want = nil
		}
	}
	expect := func(what string, ms []mount.Mount, typ string, has, hasNot []string) {
		t.Helper()
		if len(ms) != 1 || ms[0].Type != typ {
			t.Fatalf("%s: mounts %+v, want one %s mount", what, ms, typ)
		}
		for _, o := range has {
			if !slices.ContainsFunc(ms[0].Options, func(s string) bool { return s == o || strings.HasPrefix(s, o+"=") }) {
				t.Errorf("%s: options %v lack %s", what, ms[0].Options, o)
			}
		}
		for _, o := range hasNot {
			if slices.ContainsFunc(ms[0].Options, func(s string) bool { return strings.HasPrefix(s, o) }) {
				t.Errorf("%s: options %v have %s", what, ms[0].Options, o)
			}
		}
	}

	ms, err := sn.Prepare(ctx, "a-active", "")
	if err != nil {
		t.Fatal(err)
	}
	expect("prepare without parent", ms, "bind", []string{"rbind", "rw"}, nil)
	if err := sn.Commit(ctx, "a", "a-active"); err != nil {
		t.Fatal(err)
	}
	ms, err = sn.View(ctx, "a-view", "a")
	if err != nil {
		t.Fatal(err)
	}
	expect("view of one layer", ms, "bind", []string{"rbind", "ro"}, nil)

	ms, err = sn.Prepare(ctx, "b-active", "a")
	if err != nil {
		t.Fatal(err)
	}
	expect("prepare on a parent", ms, "overlay", append([]string{"lowerdir", "upperdir", "workdir"}, want...), nil)
	if err := sn.Commit(ctx, "b", "b-active"); err != nil {
		t.Fatal(err)
	}
	ms, err = sn.View(ctx, "b-view", "b")
	if err != nil {
		t.Fatal(err)
	}
	expect("view of two layers", ms, "overlay", []string{"lowerdir"}, []string{"upperdir", "workdir"})
	if lower := ms[0].Options[slices.IndexFunc(ms[0].Options, func(s string) bool { return strings.HasPrefix(s, "lowerdir=") })]; strings.Count(lower, ":") != 1 {
		t.Errorf("view of two layers: %s, want two lower dirs", lower)
	}
	// And it mounts.
	dir := env.Mount(t, ms, "b-view")
	env.Unmount(t, dir)
}

// The overlay driver runs on every backing kind.
func TestBackings(t *testing.T) {
	for _, fs := range backing.Kinds {
		t.Run(fs, func(t *testing.T) {
			d := overlayfs.New("overlayfs-"+fs, nil, fs)
			drivertest.RequireSupported(t, d)
			env := drivertest.Open(t, d, drivers.Options{})
			if got := env.Instance.Backing(); got.Dedicated != (fs != backing.Dir) || (got.Dedicated && got.FS != fs) {
				t.Errorf("backing = %+v", got)
			}
			drivertest.Lifecycle(t, env)
		})
	}
}

// An option the kernel rejects is reported by Check and by Open as unsupported, with the kernel's
// reason, and Open leaves nothing behind.
func TestUnsupportedOption(t *testing.T) {
	drivertest.RequireSupported(t, overlayfs.New("overlayfs", nil, ""))
	d := overlayfs.New("overlayfs-bogus", []string{"bogus=1"}, "")
	err := d.Check(context.Background())
	if !errors.Is(err, drivers.ErrUnsupported) || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("Check = %v, want unsupported naming the option", err)
	}
	t.Log(err)

	dir := t.TempDir()
	_, err = overlayfs.New("overlayfs", nil, "").Open(context.Background(), drivers.Options{WorkDir: dir, BackingSize: 64 << 20, MountOptions: []string{"bogus=1"}})
	if !errors.Is(err, drivers.ErrUnsupported) {
		t.Fatalf("Open = %v, want unsupported", err)
	}
	if ms, _ := backing.MountsUnder(dir); len(ms) > 0 {
		t.Errorf("left mounted: %v", ms)
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Errorf("left in the work dir: %v", ents)
	}
}

func TestValidateOptions(t *testing.T) {
	for _, bad := range [][]string{{"lowerdir=/x"}, {"upperdir=/x"}, {"workdir=/x"}, {""}, {"index=on,metacopy=on"}} {
		if err := overlayfs.ValidateOptions(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := overlayfs.ValidateOptions(overlayfs.MetacopyOptions); err != nil {
		t.Error(err)
	}
}

func TestInfo(t *testing.T) {
	for _, d := range overlayfs.Variants() {
		i := d.Info()
		if i.Family != overlayfs.Family || i.Snapshotter != overlayfs.SnapshotterPackage || i.Version == "" ||
			i.Backing != backing.Ext4 || i.Description == "" || !i.Capabilities.Overlay {
			t.Errorf("%+v", i)
		}
	}
}
