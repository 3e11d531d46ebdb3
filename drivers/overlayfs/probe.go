package overlayfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay/overlayutils"
	"golang.org/x/sys/unix"
)

// probe mounts two throwaway overlays under dir with opts, the way the snapshotter mounts them: a
// read-write one with an upper dir (an active snapshot) and a read-only one over two lower dirs (a
// view). It returns why the kernel refused, or which requested feature it silently left off (overlay
// falls back to index=off when the upper filesystem cannot encode file handles, for example).
func probe(dir string, opts []string) (err error) {
	tmp, err := os.MkdirTemp(dir, "seedbench-probe-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(tmp)) }()
	for _, d := range []string{"l1", "l2", "upper", "work", "rw", "ro"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "l1", "f"), []byte("probe\n"), 0o644); err != nil {
		return err
	}
	opts = kernelOptions(tmp, opts)
	// fsconfig takes strings of at most 256 bytes: name the probe's dirs through a short
	// /proc/self/fd path rather than their possibly long real one.
	dirfd, err := unix.Open(tmp, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	p := func(d string) string { return fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, d) }

	rw := append([]string{"workdir=" + p("work"), "upperdir=" + p("upper"), "lowerdir=" + p("l1")}, opts...)
	super, err := mountProbe(filepath.Join(tmp, "rw"), rw)
	if err != nil {
		return fmt.Errorf("read-write overlay with %s: %w", strings.Join(opts, ","), err)
	}
	if missing := dropped(opts, super); len(missing) > 0 {
		return fmt.Errorf("the kernel accepted but did not enable %s (mounted with %s; see dmesg)",
			strings.Join(missing, ","), super)
	}
	ro := append([]string{"lowerdir=" + p("l2") + ":" + p("l1")}, opts...)
	if _, err := mountProbe(filepath.Join(tmp, "ro"), ro); err != nil {
		return fmt.Errorf("read-only overlay (a view) with %s: %w", strings.Join(opts, ","), err)
	}
	return nil
}

// kernelOptions are the options the snapshotter will pass: containerd adds userxattr inside a user
// namespace and index=off when the kernel has an index feature and no index option was given.
func kernelOptions(dir string, opts []string) []string {
	out := slices.Clone(opts)
	if !hasOption(out, "userxattr") {
		if need, _ := overlayutils.NeedsUserXAttr(dir); need {
			out = append(out, "userxattr")
		}
	}
	if !hasOption(out, "index") {
		if _, err := os.Stat("/sys/module/overlay/parameters/index"); err == nil {
			out = append(out, "index=off")
		}
	}
	return out
}

func hasOption(opts []string, key string) bool {
	for _, o := range opts {
		if k, _, _ := strings.Cut(o, "="); k == key {
			return true
		}
	}
	return false
}

// dropped lists the requested "feature=on" and volatile options missing from the superblock options.
func dropped(opts []string, super string) []string {
	have := strings.Split(super, ",")
	var missing []string
	for _, o := range opts {
		switch {
		case o == "volatile":
			if !slices.Contains(have, "volatile") && !slices.Contains(have, "fsync=volatile") {
				missing = append(missing, o)
			}
		case strings.HasSuffix(o, "=on"):
			if !slices.Contains(have, o) {
				missing = append(missing, o)
			}
		}
	}
	return missing
}

// mountProbe mounts an overlay at target, reads back its superblock options and unmounts it. It uses
// the fsopen API so a refusal comes with the kernel's own message ("overlay: Unknown parameter …"),
// and falls back to mount(2) on kernels without it.
func mountProbe(target string, opts []string) (super string, err error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if errors.Is(err, unix.ENOSYS) {
		if err := unix.Mount("overlay", target, "overlay", 0, strings.Join(opts, ",")); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", fmt.Errorf("fsopen overlay: %w", err)
	} else {
		defer unix.Close(fd)
		for _, o := range opts {
			k, v, hasValue := strings.Cut(o, "=")
			if hasValue {
				err = unix.FsconfigSetString(fd, k, v)
			} else {
				err = unix.FsconfigSetFlag(fd, k)
			}
			if err != nil {
				return "", fmt.Errorf("option %s: %w%s", short(o), err, kernelLog(fd))
			}
		}
		if err := unix.FsconfigCreate(fd); err != nil {
			return "", fmt.Errorf("create: %w%s", err, kernelLog(fd))
		}
		mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
		if err != nil {
			return "", fmt.Errorf("fsmount: %w%s", err, kernelLog(fd))
		}
		err = unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
		unix.Close(mfd)
		if err != nil {
			return "", fmt.Errorf("move_mount: %w", err)
		}
	}
	defer func() {
		if uerr := mount.UnmountAll(target, 0); uerr != nil {
			err = errors.Join(err, fmt.Errorf("unmount probe: %w", uerr))
		}
	}()
	info, err := mount.Lookup(target)
	if err != nil {
		return "", err
	}
	return info.VFSOptions, nil
}

// kernelLog drains the messages the kernel attached to an fs context ("e overlay: …").
func kernelLog(fd int) string {
	var msgs []string
	buf := make([]byte, 4096)
	for range 16 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		m := strings.TrimSpace(string(buf[:n]))
		if len(m) > 2 && m[1] == ' ' {
			m = m[2:]
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return ""
	}
	return " (" + strings.Join(msgs, "; ") + ")"
}

// short hides the probe's own paths in error messages.
func short(o string) string {
	if k, _, ok := strings.Cut(o, "="); ok && strings.HasSuffix(k, "dir") {
		return k + "=…"
	}
	return o
}
