package erofs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/mount"

	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/drivers/erofs"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, erofs.New("erofs", ""), drivertest.Config{
		Checks: []drivertest.Check{
			{Name: "templated-mounts", Run: checkTemplatedMounts},
			{Name: "commit-cost", Run: checkCommitCost},
		},
	})
}

// checkTemplatedMounts pins down what needs the mount manager: a snapshot without parent is a bind
// mount; a view of one layer is one EROFS mount; a stack is EROFS mounts under a templated overlay,
// which plain mount.All cannot mount. Instance.Mount mounts all of them, views included, and Unmount
// leaves no EROFS mount behind.
func checkTemplatedMounts(t *testing.T, env *drivertest.Env) {
	ctx := context.Background()
	sn := env.Instance.Snapshotter()
	build := func(name, parent, file string) {
		t.Helper()
		ms, err := sn.Prepare(ctx, name+"-active", parent)
		if err != nil {
			t.Fatal(err)
		}
		dir := env.Mount(t, ms, name)
		if err := os.WriteFile(filepath.Join(dir, file), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		env.Unmount(t, dir)
		if err := sn.Commit(ctx, name, name+"-active"); err != nil {
			t.Fatal(err)
		}
	}
	build("a", "", "fa")
	build("b", "a", "fb")

	ms, err := sn.View(ctx, "a-view", "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Type != "erofs" {
		t.Fatalf("view of one layer: %+v, want one erofs mount", ms)
	}
	dir := env.Mount(t, ms, "a-view")
	if got, err := os.ReadFile(filepath.Join(dir, "fa")); err != nil || string(got) != "a" {
		t.Errorf("a-view/fa = %q, %v", got, err)
	}
	env.Unmount(t, dir)

	ms, err = sn.View(ctx, "b-view", "b")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 || ms[0].Type != "erofs" || ms[1].Type != "erofs" || !strings.HasSuffix(ms[2].Type, "overlay") ||
		!strings.Contains(strings.Join(ms[2].Options, ","), "{{") {
		t.Fatalf("view of two layers: %+v, want two erofs mounts and a templated overlay", ms)
	}
	if err := mount.All(ms, env.Target(t, "plain")); err == nil {
		mount.UnmountAll(env.Target(t, "plain"), 0)
		t.Error("plain mount.All mounted a templated view: the engine could use it directly")
	}
	// The same mounts twice in a row, as a remount does: Mount must not change them.
	for range 2 {
		dir = env.Mount(t, ms, "b-view")
		for f, want := range map[string]string{"fa": "a", "fb": "b"} {
			if got, err := os.ReadFile(filepath.Join(dir, f)); err != nil || string(got) != want {
				t.Errorf("b-view/%s = %q, %v", f, got, err)
			}
		}
		env.Unmount(t, dir)
	}
	if n := erofsMounts(t, env.WorkDir); n != 0 {
		t.Errorf("%d erofs mounts left under the work dir after Unmount", n)
	}

	// A container on the stack, left mounted: Close must undo it.
	ms, err = sn.Prepare(ctx, "c", "b")
	if err != nil {
		t.Fatal(err)
	}
	env.Mount(t, ms, "c")
	env.Mount(t, must(sn.Prepare(ctx, "d", "b")), "d")
	if n := erofsMounts(t, env.WorkDir); n != 4 {
		t.Errorf("%d erofs mounts for two containers on two layers, want 4", n)
	}
}

func erofsMounts(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") && strings.Contains(line, " - erofs ") {
			n++
			// The handler mounts the image file directly where the kernel can (6.12+), a loop
			// device otherwise.
			_, super, _ := strings.Cut(line, " - erofs ")
			t.Logf("erofs mount: %s", strings.Fields(super)[0])
		}
	}
	return n
}

// checkCommitCost logs what Commit (the mkfs.erofs conversion) costs per MiB of layer.
func checkCommitCost(t *testing.T, env *drivertest.Env) {
	ctx := context.Background()
	sn := env.Instance.Snapshotter()
	const files, size = 64, 1 << 20
	ms, err := sn.Prepare(ctx, "big-active", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := env.Mount(t, ms, "big")
	buf := make([]byte, size)
	for i := range files {
		for j := range buf {
			buf[j] = byte(i + j*7)
		}
		if err := os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i%26))+string(rune('a'+i/26))), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env.Unmount(t, dir)
	start := time.Now()
	if err := sn.Commit(ctx, "big", "big-active"); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("commit of %d MiB: %v (%v per MiB)", files*size>>20, el, el/time.Duration(files*size>>20))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
