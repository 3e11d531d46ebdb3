package rundir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/fuseoverlayfs"
)

func requireFUSE(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts FUSE filesystems")
	}
	if _, err := exec.LookPath(fuseoverlayfs.Binary); err != nil {
		t.Skip("no fuse-overlayfs")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
}

// tempBase is a base directory for run dirs; whatever a test leaves mounted or running in it is
// undone, even when the test fails.
func tempBase(t *testing.T) string {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pids, _ := fuseoverlayfs.Daemons(base)
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
			unix.Kill(pid, unix.SIGCONT)
		}
		ms, _ := Mounts(base)
		for _, m := range ms {
			unix.Unmount(m, unix.MNT_DETACH)
		}
	})
	return base
}

// mountFUSE mounts a fuse-overlayfs in dir/mnt and returns the mount point and its daemon's pid.
func mountFUSE(t *testing.T, dir string) (string, int) {
	t.Helper()
	for _, d := range []string{"lower", "upper", "work", "mnt"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "lower", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "mnt")
	opts := "lowerdir=" + filepath.Join(dir, "lower") + ",upperdir=" + filepath.Join(dir, "upper") + ",workdir=" + filepath.Join(dir, "work")
	// fuse-overlayfs daemonises once the mount is up.
	if out, err := exec.Command(fuseoverlayfs.Binary, "-o", opts, mnt).CombinedOutput(); err != nil {
		t.Skipf("fuse-overlayfs cannot mount here: %v: %s", err, out)
	}
	pids, err := fuseoverlayfs.Daemons(dir)
	if err != nil || len(pids) != 1 {
		t.Fatalf("daemons serving %s: %v %v", dir, pids, err)
	}
	return mnt, pids[0]
}

func mounted(t *testing.T, mp string) bool {
	t.Helper()
	ms, err := Mounts(mp)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(ms, mp)
}

// TestCleanupFUSE: a dead run's FUSE mount, served by a stopped daemon (any request to it would
// block), is cleaned up — the daemon killed, the mount gone, the directory removed — while a live
// run's FUSE mount and daemon are left alone.
func TestCleanupFUSE(t *testing.T) {
	requireFUSE(t)
	base := tempBase(t)

	live, err := Create(base, "live-1")
	if err != nil {
		t.Fatal(err)
	}
	liveMnt, livePid := mountFUSE(t, live.Path)
	t.Cleanup(func() {
		unix.Unmount(liveMnt, 0)
		live.Close()
	})

	dead := filepath.Join(base, "run-dead-2")
	mnt, pid := mountFUSE(t, dead)
	if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	rep, err := Cleanup(base, []drivers.Reaper{fuseoverlayfs.New("fuse-overlayfs", "").(drivers.Reaper)})
	if err != nil {
		t.Fatalf("cleanup: %v (report %+v)", err, rep)
	}
	if len(rep.Killed) != 1 || !strings.HasPrefix(rep.Killed[0], "fuse-overlayfs "+strconv.Itoa(pid)+" ") {
		t.Errorf("killed %q, want the dead run's daemon %d", rep.Killed, pid)
	}
	if !slices.Contains(rep.Unmounts, mnt) || !slices.Contains(rep.Dirs, dead) {
		t.Errorf("report %+v: want %s unmounted and %s removed", rep, mnt, dead)
	}
	if !slices.Contains(rep.Skipped, live.Path) {
		t.Errorf("report %+v: the live run %s not skipped", rep, live.Path)
	}
	if mounted(t, mnt) {
		t.Errorf("%s still mounted", mnt)
	}
	if left, _ := fuseoverlayfs.Daemons(dead); len(left) > 0 {
		t.Errorf("daemons still serving the dead run: %v", left)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s not removed: %v", dead, err)
	}
	if _, err := os.Stat(dead + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.lock not removed: %v", dead, err)
	}
	// The live run is untouched.
	if !mounted(t, liveMnt) {
		t.Errorf("the live run's mount %s was undone", liveMnt)
	}
	if pids, _ := fuseoverlayfs.Daemons(live.Path); !slices.Equal(pids, []int{livePid}) {
		t.Errorf("the live run's daemons: %v, want [%d]", pids, livePid)
	}
}

// TestUnmountHangAbortsFUSE: an unmount of a FUSE mount that hangs gets the mount's connection
// aborted, after which it completes. The hang is simulated by an unmount that blocks until the kernel
// fails requests on the mount with ENOTCONN — which only an abort does while the daemon lives.
func TestUnmountHangAbortsFUSE(t *testing.T) {
	requireFUSE(t)
	base := tempBase(t)
	dir := filepath.Join(base, "run-hang-1")
	mnt, pid := mountFUSE(t, dir)

	oldFn, oldTimeout := unmountFn, unmountTimeout
	t.Cleanup(func() { unmountFn, unmountTimeout = oldFn, oldTimeout })
	unmountTimeout = 300 * time.Millisecond
	unmountFn = func(target string, flags int) error {
		for i, deadline := 0, time.Now().Add(20*time.Second); time.Now().Before(deadline); i++ {
			// A fresh name each time: a lookup the kernel must ask the daemon about.
			_, err := os.Lstat(filepath.Join(target, "probe-"+strconv.Itoa(i)))
			if errors.Is(err, unix.ENOTCONN) {
				return unix.Unmount(target, flags)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return errors.New("test: the connection was never aborted")
	}

	ms, err := mountsUnder(dir)
	if err != nil || len(ms) != 1 {
		t.Fatalf("mounts under %s: %+v %v", dir, ms, err)
	}
	if !ms[0].fuse() || ms[0].minor == 0 {
		t.Errorf("mount %+v: want a FUSE mount with its device minor", ms[0])
	}
	unmounted, aborted, err := unmountAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(unmounted, []string{mnt}) || len(aborted) != 1 {
		t.Errorf("unmounted %q, aborted %q: want %s unmounted after one abort", unmounted, aborted, mnt)
	}
	if mounted(t, mnt) {
		t.Errorf("%s still mounted", mnt)
	}
	// The daemon, its connection gone, exits by itself.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		left, _ := fuseoverlayfs.Daemons(dir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("daemon %d still running after its connection was aborted", pid)
			break
		}
	}
}

// TestCreateLocked: a run directory is locked as soon as it exists; Cleanup leaves it alone and Close
// removes it and its lock.
func TestCreateLocked(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := Create(base, "x-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(base, "x-1"); err == nil {
		t.Error("a second Create with the same id succeeded")
	}
	rep, err := Cleanup(base, []drivers.Reaper{fuseoverlayfs.New("fuse-overlayfs", "").(drivers.Reaper)})
	if err != nil || !slices.Equal(rep.Skipped, []string{d.Path}) || len(rep.Dirs) > 0 {
		t.Errorf("cleanup of a live run: %+v %v", rep, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(base); len(ents) > 0 {
		t.Errorf("left after Close: %v", ents)
	}
}
