package backing

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
)

// Debian packages providing the tools a backing needs (the fix an Unsupported error names).
var toolPackage = map[string]string{
	"mkfs.ext4":  "e2fsprogs",
	"mkfs.xfs":   "xfsprogs",
	"mkfs.btrfs": "btrfs-progs",
	"losetup":    "mount", // util-linux's losetup ships in Debian's "mount" package
}

// Check reports whether a backing of kind fs can be made on this host. A missing tool, kernel
// filesystem or privilege is an error wrapping drivers.ErrUnsupported that names the fix; an unknown
// kind is a plain error.
func Check(fs string) error {
	if fs == "" {
		fs = Ext4
	}
	if !slices.Contains(Kinds, fs) {
		return fmt.Errorf("backing: unknown filesystem %q (known: %s)", fs, strings.Join(Kinds, ", "))
	}
	what := "backing " + fs
	if fs == Dir {
		return nil
	}
	if os.Geteuid() != 0 {
		return drivers.Unsupported(what, "mounting a backing filesystem needs root", "run seedbench as root")
	}
	if ok, err := KernelHasFS(fs); err != nil {
		return err
	} else if !ok {
		return drivers.Unsupported(what, fs+" is not in /proc/filesystems and no module provides it",
			"modprobe "+fs+", or use a kernel built with it")
	}
	if fs == Tmpfs {
		return nil
	}
	for _, tool := range []string{"mkfs." + fs, "losetup"} {
		if _, err := lookTool(tool); err != nil {
			return drivers.Unsupported(what, tool+" not found", "apt-get install "+toolPackage[tool])
		}
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return drivers.Unsupported(what, "no loop device support (/dev/loop-control missing)", "modprobe loop")
	}
	return nil
}

// KernelHasFS reports whether the kernel can mount fs: it is listed in /proc/filesystems, or a module
// for it is installed (mount(2) then loads it).
func KernelHasFS(fs string) (bool, error) {
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[len(f)-1] == fs {
			return true, nil
		}
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return false, nil
	}
	dep, err := os.ReadFile(filepath.Join("/lib/modules", unix.ByteSliceToString(uts.Release[:]), "modules.dep"))
	if err != nil {
		return false, nil
	}
	return bytes.Contains(dep, []byte("/fs/"+fs+"/"+fs+".ko")), nil
}

// LookTool finds an administration tool (mkfs.ext4, dmsetup, zfs…) even when PATH lacks the sbin
// directories, as drivers checking their host need to.
func LookTool(name string) (string, error) { return lookTool(name) }

// lookTool finds an administration tool even when PATH lacks the sbin directories.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// transientTries bounds retryTransient.
const transientTries = 6

// retryTransient runs fn again, after a growing pause, while it fails because another process on the
// host attached or detached a loop device while the tool walked them: mkfs.btrfs checks that its
// image is not mounted by looking at every loop device, and one detached meanwhile fails it with
// ENXIO ("cannot check mount status"); losetup can find the free device it picked taken.
func retryTransient(ctx context.Context, fn func() error) error {
	var err error
	for try := range transientTries {
		if err = fn(); err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(25<<try) * time.Millisecond):
		}
	}
	return fmt.Errorf("%w (tried %d times: other processes kept attaching and detaching loop devices)", err, transientTries)
}

func transient(err error) bool {
	s := err.Error()
	return strings.Contains(s, "cannot check mount status") || strings.Contains(s, "No such device or address") ||
		strings.Contains(s, "Device or resource busy")
}

// run runs a tool and returns its trimmed stdout; a failure carries the tool's stderr.
func run(ctx context.Context, args ...string) error {
	_, err := output(ctx, args...)
	return err
}

func output(ctx context.Context, args ...string) (string, error) {
	path, err := lookTool(args[0])
	if err != nil {
		return "", fmt.Errorf("%s: %w", args[0], err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// evict writes the file back and drops its pages from the page cache.
func evict(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return fmt.Errorf("fdatasync %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("fadvise %s: %w", path, err)
	}
	return nil
}

// attachLoop attaches image to a free loop device, with direct I/O if the kernel grants it (the
// backing file's filesystem must support O_DIRECT at the loop's sector size), buffered otherwise.
// It reports what the kernel actually set, read back from sysfs.
func attachLoop(ctx context.Context, image string) (dev string, directIO bool, err error) {
	err = retryTransient(ctx, func() (err error) {
		dev, err = output(ctx, "losetup", "--direct-io=on", "-f", "--show", image)
		return err
	})
	if err != nil {
		var err2 error
		if dev, err2 = output(ctx, "losetup", "-f", "--show", image); err2 != nil {
			return "", false, fmt.Errorf("attach loop device: %w (with direct I/O: %v)", err2, err)
		}
	}
	data, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", "dio"))
	return dev, err == nil && strings.TrimSpace(string(data)) == "1", nil
}

// sysBlock is where loop devices' sysfs directories live; a variable for tests.
var sysBlock = "/sys/block"

// loopWriteBack makes loop device dev forward its filesystem's flushes to the image file and
// returns the mode read back. A queue set to "write through" through sysfs drops every flush, so
// an fsync inside never reaches the image and costs a driver nothing; the kernel keeps that
// setting on the device across detach and re-attach, so whoever set it last on this device number
// would otherwise decide how much this run's flushes cost.
func loopWriteBack(dev string) (string, error) {
	_, after, err := setWriteBack(filepath.Join(sysBlock, filepath.Base(dev)))
	if err != nil {
		return "", fmt.Errorf("%s: %w", dev, err)
	}
	return after, nil
}

// setWriteBack sets the queue of the block device whose sysfs directory is sys to "write back"
// (unless it already reads so) and returns its mode before and after.
func setWriteBack(sys string) (before, after string, err error) {
	path := filepath.Join(sys, "queue", "write_cache")
	read := func() (string, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read write cache mode: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	}
	if before, err = read(); err != nil || before == drivers.WriteBack {
		return before, before, err
	}
	if err := os.WriteFile(path, []byte(drivers.WriteBack), 0); err != nil {
		return before, "", fmt.Errorf("set write cache mode to %q: %w", drivers.WriteBack, err)
	}
	after, err = read()
	return before, after, err
}

// ResetLoopWriteCache clears a "write through" setting left on every loop device that is not
// attached, so the ones containerd attaches during a run (blockfile's and erofs's images) forward
// their flushes as a freshly attached device does. An attached device is someone's, and is left
// alone. It returns the devices it reset (a device never attached reads "write through" before and
// after: it has no cache to forward flushes from yet).
func ResetLoopWriteCache() ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(sysBlock, "loop[0-9]*"))
	if err != nil {
		return nil, err
	}
	var reset []string
	var errs []error
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(p, "loop", "backing_file")); err == nil {
			continue // attached
		}
		before, after, err := setWriteBack(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed since the glob
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", filepath.Base(p), err))
		} else if before == drivers.WriteThrough && after == drivers.WriteBack {
			reset = append(reset, "/dev/"+filepath.Base(p))
		}
	}
	return reset, errors.Join(errs...)
}

// detachLoop detaches dev from image and waits until it is gone. While anything else holds the
// device open (udev's blkid probe, another process's losetup), the kernel only marks it for
// auto-clear and detaches it at the last close, so the wait is needed before claiming it is free.
func detachLoop(ctx context.Context, dev, image string) error {
	var err error
	for range 20 {
		if err = run(ctx, "losetup", "-d", dev); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !attachedTo(dev, image) {
			return nil
		}
	}
	return fmt.Errorf("%s: detach deferred: the device is still open elsewhere (it detaches at its last close)", dev)
}

// attachedTo reports whether loop device dev is still bound to image.
func attachedTo(dev, image string) bool {
	data, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(dev), "loop", "backing_file"))
	if err != nil {
		return false
	}
	return strings.TrimSuffix(strings.TrimSpace(string(data)), " (deleted)") == image
}

func lookupMount(path string) (mount.Info, error) {
	return mount.Lookup(path)
}

// joinOptions merges per-mount and superblock options as /proc/mounts shows them.
func joinOptions(mnt, super string) string {
	opts := strings.Split(mnt, ",")
	for _, o := range strings.Split(super, ",") {
		if o == "" || o == "rw" || o == "ro" || slices.Contains(opts, o) {
			continue
		}
		opts = append(opts, o)
	}
	return strings.Join(opts, ",")
}

// MountsUnder lists the mount points at or below dir, deepest first (the order to unmount them in).
func MountsUnder(dir string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(abs))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Mountpoint)
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return out, nil
}

// LoopDevices lists the loop devices attached to image (also after the image was deleted).
func LoopDevices(image string) ([]string, error) {
	abs, err := filepath.Abs(image)
	if err != nil {
		return nil, err
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		abs = filepath.Join(dir, filepath.Base(abs))
	}
	files, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // detached meanwhile
		}
		bf := strings.TrimSuffix(strings.TrimSpace(string(data)), " (deleted)")
		if bf == abs {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(f))))
		}
	}
	return out, nil
}
