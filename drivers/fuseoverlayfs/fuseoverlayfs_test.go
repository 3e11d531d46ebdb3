package fuseoverlayfs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/drivers/fuseoverlayfs"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, fuseoverlayfs.New("fuse-overlayfs", ""), drivertest.Config{
		Checks: []drivertest.Check{{Name: "daemons", Run: checkDaemons}},
	})
}

// checkDaemons: every mount of a stack has a daemon of its own; the daemon of an unmounted stack
// exits by itself, and Close leaves none running, even for a mount left in place. It also logs what
// a mount costs as the stack grows.
func checkDaemons(t *testing.T, env *drivertest.Env) {
	ctx := context.Background()
	sn := env.Instance.Snapshotter()
	parent := ""
	layers := 0
	for _, depth := range []int{1, 2, 8, 32} {
		for ; layers < depth; layers++ {
			key := fmt.Sprintf("l%d-active", layers)
			ms, err := sn.Prepare(ctx, key, parent)
			if err != nil {
				t.Fatal(err)
			}
			dir := env.Mount(t, ms, "layer")
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprint("f", layers)), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			env.Unmount(t, dir)
			parent = fmt.Sprintf("l%d", layers)
			if err := sn.Commit(ctx, parent, key); err != nil {
				t.Fatal(err)
			}
		}
		ms, err := sn.Prepare(ctx, fmt.Sprint("c", depth), parent)
		if err != nil {
			t.Fatal(err)
		}
		target := env.Target(t, fmt.Sprint("c", depth))
		start := time.Now()
		if err := env.Instance.Mount(ctx, ms, target); err != nil {
			t.Fatal(err)
		}
		mounted := time.Since(start)
		if pids, _ := fuseoverlayfs.Daemons(env.WorkDir); len(pids) != 1 {
			t.Errorf("%d layers: daemons %v, want one", depth, pids)
		}
		start = time.Now()
		env.Unmount(t, target)
		t.Logf("container on %2d layers: mount %v, unmount %v", depth, mounted, time.Since(start))
	}
	deadline := time.Now().Add(5 * time.Second)
	for pids, _ := fuseoverlayfs.Daemons(env.WorkDir); len(pids) > 0; pids, _ = fuseoverlayfs.Daemons(env.WorkDir) {
		if time.Now().After(deadline) {
			t.Fatalf("daemons %v still running 5s after their mounts were unmounted", pids)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Left mounted: Close unmounts it, and its daemon is gone when Close returns.
	env.Mount(t, must(sn.Mounts(ctx, "c32")), "left")
	if err := env.Instance.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if pids, err := fuseoverlayfs.Daemons(env.WorkDir); err != nil || len(pids) > 0 {
		t.Errorf("after Close: daemons %v %v", pids, err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
