// Package drivertest is the conformance suite every driver runs, in a few lines of its own test:
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, native.New("native", ""), drivertest.Config{})
//	}
//
// Run skips a driver whose Check says it cannot run here, then runs
//
//   - containerd's own snapshotter test suite (core/snapshots/testsuite) against the driver's
//     snapshotter, each test on a fresh backing built by Open under the suite's root, so the tests
//     exercise the real backing filesystem;
//   - Lifecycle: build a layer, a child on it, change the child, check the parent is unchanged;
//   - DeepStack: a stack deep enough that overlay's mount options overflow one page;
//   - any Config.Checks (the replay package adds merged-view checks there).
//
// Every instance is closed and checked for leaks when its test ends, failed or not: nothing may stay
// mounted under the work directory and no loop device may remain attached to its image. All work
// directories have "seedbench" in their path, so `grep seedbench /proc/mounts` finds any leak.
package drivertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/core/snapshots/testsuite"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/pull"
	"github.com/seedbench/seedbench/internal/registry"
)

// Keep the test binary's main goroutine on the main thread, so no other goroutine ever runs there.
// containerd's mount helper for overlays with very long options (core/mount.mountAt, used directly by
// containerd's test suite) chdirs a locked thread into the snapshot directory and never leaves it;
// the runtime ends such a thread when its goroutine exits, except the main thread, which it parks —
// and a parked main thread keeps the backing filesystem busy until the process exits.
func init() { runtime.LockOSThread() }

// DefaultBackingSize is the backing size tests use when Config.Options leaves it 0 (images are sparse).
const DefaultBackingSize = 512 << 20

// Config tunes Run for one driver.
type Config struct {
	// SuiteName is the name containerd's test suite knows the snapshotter by (default: the driver's
	// family). It changes what the suite expects: "overlayfs" does not rename lower directories,
	// which fails with EXDEV unless redirect_dir=on.
	SuiteName string
	// Options for every Open; WorkDir is set by the suite.
	Options drivers.Options
	// Checks run after Lifecycle, each on a freshly opened instance in its own subtest.
	Checks []Check
}

// Check is one conformance check on an opened driver.
type Check struct {
	Name string
	Run  func(t *testing.T, env *Env)
}

// Run runs the whole suite for d.
func Run(t *testing.T, d drivers.Driver, cfg Config) {
	t.Helper()
	RequireSupported(t, d)
	t.Run("containerd", func(t *testing.T) { SnapshotterSuite(t, d, cfg) })
	for _, c := range append([]Check{{"lifecycle", Lifecycle}, {"deep-stack", DeepStack}}, cfg.Checks...) {
		t.Run(c.Name, func(t *testing.T) {
			env := Open(t, d, cfg.Options)
			c.Run(t, env)
		})
	}
}

// RequireSupported skips the test when d cannot run on this host, with the driver's reason and fix.
func RequireSupported(t *testing.T, d drivers.Driver) {
	t.Helper()
	if err := d.Check(context.Background()); errors.Is(err, drivers.ErrUnsupported) {
		t.Skip(err.Error())
	} else if err != nil {
		t.Fatalf("%s: check: %v", d.Info().Name, err)
	}
}

// Env is an opened driver under test.
type Env struct {
	Driver   drivers.Driver
	Instance drivers.Instance
	// WorkDir is the Options.WorkDir the instance was opened with.
	WorkDir string
	// Targets is an empty directory for mount points, outside the instance's backing.
	Targets string
	// Registry is the registry the instance was opened with (Options.Registry): one in process,
	// unless the options named one.
	Registry string
	root     string
}

// Open opens d in a fresh seedbench temp directory and registers a cleanup that closes the
// instance, fails the test on any leak, and then removes whatever leaked anyway.
func Open(t *testing.T, d drivers.Driver, opts drivers.Options) *Env {
	t.Helper()
	root := tempDir(t, "seedbench-"+d.Info().Name+"-")
	t.Cleanup(func() { AssertNoLeaks(t, root) }) // runs last, after the instance's cleanup below
	env := &Env{Driver: d, WorkDir: filepath.Join(root, "driver"), Targets: filepath.Join(root, "targets"), root: root}
	if err := os.Mkdir(env.Targets, 0o755); err != nil {
		t.Fatal(err)
	}
	if opts.BackingSize == 0 {
		opts.BackingSize = DefaultBackingSize
	}
	opts.WorkDir = env.WorkDir
	opts.Registry = startRegistry(t, opts.Registry)
	env.Registry = opts.Registry
	inst, err := d.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open %s: %v", d.Info().Name, err)
	}
	env.Instance = inst
	t.Cleanup(func() {
		// Close first (unmounting what a failed test left mounted), then prove nothing remains.
		if err := unmountUnder(env.Targets); err != nil {
			t.Errorf("unmount leftovers: %v", err)
		}
		if err := inst.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return env
}

// startRegistry returns addr, or for "" the address of a registry it starts in process for the
// test: the run's registry, which a driver that fetches layers is opened with.
func startRegistry(t *testing.T, addr string) string {
	t.Helper()
	if addr != "" {
		return addr
	}
	reg, err := registry.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	return reg.Addr
}

// Target makes an empty mount point called name.
func (e *Env) Target(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(e.Targets, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Mount mounts the snapshot key's mounts at a new target called name, and unmounts it when the test
// ends if the test has not.
func (e *Env) Mount(t *testing.T, mounts []mount.Mount, name string) string {
	t.Helper()
	target := e.Target(t, name)
	if err := e.Instance.Mount(context.Background(), mounts, target); err != nil {
		t.Fatalf("mount %s: %v", name, err)
	}
	t.Cleanup(func() { _ = mount.UnmountAll(target, 0) })
	return target
}

// Unmount unmounts a target made by Mount.
func (e *Env) Unmount(t *testing.T, target string) {
	t.Helper()
	if err := e.Instance.Unmount(context.Background(), target); err != nil {
		t.Fatalf("unmount %s: %v", target, err)
	}
}

// SnapshotterSuite runs containerd's snapshotter test suite on d: every test opens d on its own
// backing in the suite's root and closes it afterwards.
func SnapshotterSuite(t *testing.T, d drivers.Driver, cfg Config) {
	RequireSupported(t, d)
	name := cfg.SuiteName
	if name == "" {
		name = d.Info().Family
	}
	// The suite makes its directories with os.MkdirTemp("", …) and t.TempDir: put them all under a
	// seedbench directory, so a leaked mount shows up as a seedbench mount and the final check
	// covers them.
	base := tempDir(t, "seedbench-suite-"+d.Info().Name+"-")
	t.Setenv("TMPDIR", base)
	t.Cleanup(func() { AssertNoLeaks(t, base) })
	opts := cfg.Options
	opts.Registry = startRegistry(t, opts.Registry)

	testsuite.SnapshotterSuite(t, name, func(ctx context.Context, root string) (snapshots.Snapshotter, func() error, error) {
		opts := opts
		opts.WorkDir = root
		if opts.BackingSize == 0 {
			opts.BackingSize = DefaultBackingSize
		}
		inst, err := d.Open(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		return inst.Snapshotter(), func() error {
			// A failed test may leave its mounts in the play area next to root: undo them first,
			// or the backing cannot be unmounted.
			errs := []error{unmountUnder(filepath.Join(filepath.Dir(root), "work"))}
			errs = append(errs, inst.Close(context.Background()), leaks(root))
			return errors.Join(errs...)
		}, nil
	})
}

// AssertNoLeaks fails the test if anything is mounted under dir or a loop device is attached to an
// image under it, then undoes those leaks and removes dir.
func AssertNoLeaks(t *testing.T, dir string) {
	t.Helper()
	if err := leaks(dir); err != nil {
		t.Error(err)
		for _, m := range mustMounts(dir) {
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		for _, dev := range loopsUnder(dir) {
			_ = exec.Command("losetup", "-d", dev).Run()
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("remove %s: %v", dir, err)
	}
}

// leaks reports mounts under dir and loop devices whose backing file is under dir, as listed both by
// mountinfo/sysfs and by `losetup -j` for the image a backing would have made there.
func leaks(dir string) error {
	var errs []error
	if ms := mustMounts(dir); len(ms) > 0 {
		errs = append(errs, fmt.Errorf("still mounted under %s: %s", dir, strings.Join(ms, ", ")))
	}
	if devs := loopsUnder(dir); len(devs) > 0 {
		errs = append(errs, fmt.Errorf("loop devices still attached to images under %s: %s", dir, strings.Join(devs, ", ")))
	}
	return errors.Join(errs...)
}

func mustMounts(dir string) []string {
	ms, err := backing.MountsUnder(dir)
	if err != nil {
		return []string{"(mountinfo: " + err.Error() + ")"}
	}
	return ms
}

// loopsUnder asks losetup (as an operator would) which loop devices use a file under dir.
func loopsUnder(dir string) []string {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		real = dir
	}
	out, err := exec.Command("losetup", "-a", "--noheadings", "-O", "NAME,BACK-FILE", "-l").Output()
	if err != nil {
		return nil
	}
	var devs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasPrefix(f[1], real+"/") {
			devs = append(devs, f[0])
		}
	}
	return devs
}

// unmountUnder unmounts everything mounted at or below dir, deepest first.
func unmountUnder(dir string) error {
	ms, err := backing.MountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range ms {
		errs = append(errs, mount.UnmountAll(m, 0))
	}
	return errors.Join(errs...)
}

func tempDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Used is the space in use on the filesystem holding path, after a sync: take it before and after
// an operation to see what the operation wrote.
func Used(t *testing.T, path string) int64 {
	t.Helper()
	if err := backing.Sync(path); err != nil {
		t.Fatal(err)
	}
	b, _, err := backing.Used(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Publish publishes tar, an uncompressed layer tar to be committed as name on parent (a chain
// published before; the zero value for none), in format f into the env's registry, as the engine
// publishes a layer for a LayerReceiver or a Puller, and returns the chain ending with it.
// prioritized are the files a program reads first.
func (e *Env) Publish(t *testing.T, f drivers.Format, parent drivers.Published, name string, tar []byte, prioritized ...string) (drivers.Published, error) {
	t.Helper()
	pub := pull.NewPublisher(e.Registry, t.TempDir())
	src := drivers.LayerSource{Tar: io.NewSectionReader(bytes.NewReader(tar), 0, int64(len(tar))), Prioritized: prioritized}
	d, err := pub.Layer(context.Background(), f, name, src)
	if err != nil {
		return drivers.Published{}, err
	}
	return drivers.Published{Ref: e.Registry + "/" + pull.Repository, Layers: append(slices.Clone(parent.Layers), name),
		Blobs: append(slices.Clone(parent.Blobs), d)}, nil
}
