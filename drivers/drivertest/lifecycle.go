package drivertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/backing"
)

// Lifecycle is the build-then-run sequence every driver must get right: prepare a base, write it,
// commit it; prepare a child on it, see the lower files, modify one and delete another; mount the
// child again and find the changes kept; view the committed base and find it unchanged and
// read-only; stack a third layer; then Close and find nothing left mounted or attached.
func Lifecycle(t *testing.T, env *Env) {
	ctx := context.Background()
	sn := env.Instance.Snapshotter()
	b := env.Instance.Backing()
	if b.Hidden == "" && (b.Path == "" || (b.Dedicated && b.FS == "")) {
		t.Errorf("backing not described: %+v", b)
	} else if b.Hidden != "" && (b.Path != "" || b.Dedicated || b.Device != "") {
		t.Errorf("a hidden backing names a place to read: %+v", b)
	}

	// Base layer.
	mounts, err := sn.Prepare(ctx, "base-active", "")
	if err != nil {
		t.Fatalf("prepare base: %v", err)
	}
	dir := env.Mount(t, mounts, "base")
	writeFiles(t, dir, map[string]string{
		"keep":          "lower keep\n",
		"modify":        "lower modify\n",
		"delete":        "lower delete\n",
		"d/sub/deep":    "deep\n",
		"d/sub/removed": "removed\n",
	})
	env.Unmount(t, dir)
	if err := sn.Commit(ctx, "base", "base-active"); err != nil {
		t.Fatalf("commit base: %v", err)
	}
	if info, err := sn.Stat(ctx, "base"); err != nil || info.Kind != snapshots.KindCommitted {
		t.Fatalf("stat base: %+v %v", info, err)
	}

	// Child: lower files visible, then changed.
	mounts, err = sn.Prepare(ctx, "child", "base")
	if err != nil {
		t.Fatalf("prepare child: %v", err)
	}
	dir = env.Mount(t, mounts, "child")
	expectFiles(t, dir, map[string]string{"keep": "lower keep\n", "modify": "lower modify\n", "d/sub/deep": "deep\n"})
	writeFiles(t, dir, map[string]string{"modify": "upper modify\n", "new": "new\n"})
	for _, p := range []string{"delete", "d/sub/removed"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			t.Fatalf("delete lower %s: %v", p, err)
		}
	}
	childView := map[string]string{"keep": "lower keep\n", "modify": "upper modify\n", "new": "new\n", "d/sub/deep": "deep\n"}
	expectFiles(t, dir, childView)
	expectMissing(t, dir, "delete", "d/sub/removed")
	env.Unmount(t, dir)

	// The same active snapshot mounted again (a container restarted, or the "mount" cache mode).
	mounts, err = sn.Mounts(ctx, "child")
	if err != nil {
		t.Fatalf("mounts child: %v", err)
	}
	dir = env.Mount(t, mounts, "child-again")
	expectFiles(t, dir, childView)
	expectMissing(t, dir, "delete", "d/sub/removed")
	env.Unmount(t, dir)

	// The committed parent is unchanged, and a view of it is read-only.
	mounts, err = sn.View(ctx, "base-view", "base")
	if err != nil {
		t.Fatalf("view base: %v", err)
	}
	dir = env.Mount(t, mounts, "base-view")
	expectFiles(t, dir, map[string]string{"keep": "lower keep\n", "modify": "lower modify\n", "delete": "lower delete\n", "d/sub/removed": "removed\n"})
	expectMissing(t, dir, "new")
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write into a view: %v, want EROFS", err)
	}
	env.Unmount(t, dir)

	// A third layer on the committed child: a stack of two lowers.
	if err := sn.Commit(ctx, "child-c", "child"); err != nil {
		t.Fatalf("commit child: %v", err)
	}
	mounts, err = sn.Prepare(ctx, "top", "child-c")
	if err != nil {
		t.Fatalf("prepare top: %v", err)
	}
	dir = env.Mount(t, mounts, "top")
	expectFiles(t, dir, childView)
	expectMissing(t, dir, "delete", "d/sub/removed")
	env.Unmount(t, dir)

	if u, err := sn.Usage(ctx, "base"); err != nil || u.Inodes == 0 {
		t.Errorf("usage of base: %+v %v", u, err)
	}

	// Close removes everything: no mount under the work dir, no loop device on the image.
	if err := env.Instance.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := leaks(env.root); err != nil {
		t.Fatal(err)
	}
	if b.Device != "" {
		if devs, err := backing.LoopDevices(filepath.Join(env.WorkDir, backing.ImageName)); err != nil || len(devs) > 0 {
			t.Errorf("loop devices still on the image: %v %v", devs, err)
		}
	}
	if _, err := os.Stat(filepath.Join(env.WorkDir, backing.ImageName)); !os.IsNotExist(err) {
		t.Errorf("backing image left behind: %v", err)
	}
	if err := env.Instance.Close(ctx); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		path := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func expectFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
		} else if string(got) != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
}

func expectMissing(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s: want it gone, got %v", p, err)
		}
	}
}

// DeepStackLayers is how many layers DeepStack builds: enough for the overlay mount options of the
// top to exceed one page (~4 KiB) at the suite's path lengths, which takes a different mount path.
const DeepStackLayers = 64

// DeepStack builds DeepStackLayers layers, each adding a file and replacing a shared one, then mounts
// a view of the top and a container on it: every file must be visible, the topmost version must win,
// and no thread of this process may be left with its working directory on the backing (which would
// keep it busy at Close).
func DeepStack(t *testing.T, env *Env) {
	ctx := context.Background()
	sn := env.Instance.Snapshotter()
	parent := ""
	for i := range DeepStackLayers {
		key := fmt.Sprintf("layer-%d-active", i)
		mounts, err := sn.Prepare(ctx, key, parent)
		if err != nil {
			t.Fatalf("prepare layer %d: %v", i, err)
		}
		dir := env.Mount(t, mounts, "layer")
		writeFiles(t, dir, map[string]string{fmt.Sprintf("f%d", i): fmt.Sprint(i), "shared": fmt.Sprint(i)})
		env.Unmount(t, dir)
		parent = fmt.Sprintf("layer-%d", i)
		if err := sn.Commit(ctx, parent, key); err != nil {
			t.Fatalf("commit layer %d: %v", i, err)
		}
	}
	want := map[string]string{"shared": fmt.Sprint(DeepStackLayers - 1)}
	for i := range DeepStackLayers {
		want[fmt.Sprintf("f%d", i)] = fmt.Sprint(i)
	}
	for _, kind := range []string{"view", "container"} {
		var mounts []mount.Mount
		var err error
		if kind == "view" {
			mounts, err = sn.View(ctx, "top-view", parent)
		} else {
			mounts, err = sn.Prepare(ctx, "top-container", parent)
		}
		if err != nil {
			t.Fatalf("%s of the top: %v", kind, err)
		}
		dir := env.Mount(t, mounts, kind)
		expectFiles(t, dir, want)
		// A hidden backing (Path "") has no directory for a thread to be stuck in.
		if p := env.Instance.Backing().Path; p != "" {
			if cwds := threadsIn(p); len(cwds) > 0 {
				t.Errorf("after mounting the %s: threads with their working directory on the backing: %v", kind, cwds)
			}
		}
		env.Unmount(t, dir)
	}
}

// threadsIn lists this process's threads whose working directory is under dir.
func threadsIn(dir string) []string {
	tasks, _ := filepath.Glob("/proc/self/task/*/cwd")
	var out []string
	for _, c := range tasks {
		if cwd, err := os.Readlink(c); err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/")) {
			out = append(out, c+" → "+cwd)
		}
	}
	return out
}
