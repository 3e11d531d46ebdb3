package trace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/rundir"
	"github.com/seedbench/seedbench/internal/scenario"
)

// Options say what to record.
type Options struct {
	Image   string        // the plan's image to run the program in
	Command []string      // the program and its arguments, as run inside the image
	Timeout time.Duration // the program is sent SIGTERM after it (a server never exits on its own), SIGKILL 5 s later
	Dir     string        // a private, empty directory for the image's tree (removed after)
	Log     io.Writer     // the program's output (nil: discarded)
}

// Record builds the image's tree (its layers applied in order into one directory, as a native
// snapshot is built) on an ext4 filesystem of its own (a loop device), runs the command chrooted in
// it under strace — with /proc and /dev mounted — and returns what it touched as a trace. The
// program's own writes land in the tree and go with it; every mount, loop device and process is
// gone when Record returns.
//
// It also measures what the start touched at page granularity: before the strace'd start every
// file of the image is evicted from the page cache (fdatasync + posix_fadvise DONTNEED each,
// checked with mincore) and after it every file's residency is read with mincore (the trace's
// pages-ra ranges: the filesystem's default readahead included). Then the program starts again,
// without strace, evicted again, with the loop device's readahead set to 0 — a read brings in only
// the pages it asks for, a page fault only its page — and the residency after it is the pages
// ranges: the bytes the start actually read or faulted in. The evictions and the readahead are
// recorded in the trace's comments.
func Record(ctx context.Context, plan *scenario.Plan, opt Options) (_ *scenario.Trace, err error) {
	if len(opt.Command) == 0 {
		return nil, errors.New("trace: no command to run")
	}
	var img *scenario.PlanImage
	for i := range plan.Images {
		if plan.Images[i].Name == opt.Image {
			img = &plan.Images[i]
		}
	}
	if img == nil {
		var names []string
		for _, im := range plan.Images {
			names = append(names, im.Name)
		}
		return nil, fmt.Errorf("trace: no image %q in %s (it has %s)", opt.Image, plan.File, strings.Join(names, ", "))
	}
	if _, err := exec.LookPath("strace"); err != nil {
		return nil, errors.New("trace: strace is not installed: apt-get install strace (scripts/setup-host.sh does)")
	}
	undo := &cleanup.Stack{}
	defer func() {
		if cerr := undo.Unwind(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	bk, err := backing.Create(ctx, backing.Spec{FS: backing.Ext4, Size: treeBacking, Dir: filepath.Join(opt.Dir, "backing")})
	if err != nil {
		return nil, fmt.Errorf("trace: a filesystem for the image's tree: %w", err)
	}
	undo.Push("remove the tree's filesystem", bk.Close)
	root := filepath.Join(bk.Path, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	undo.Push("remove "+root, func() error {
		// Never through a mount that is still there (the host's /dev is bound inside).
		if mps, err := rundir.Mounts(root); err != nil || len(mps) > 0 {
			return fmt.Errorf("still mounted: %v %v", mps, err)
		}
		return os.RemoveAll(root)
	})
	if err := buildTree(ctx, plan, img, root); err != nil {
		return nil, err
	}
	files, err := listFiles(root) // before /proc and /dev are mounted inside
	if err != nil {
		return nil, fmt.Errorf("trace: list the image's files: %w", err)
	}
	for _, m := range []struct{ dir, fs, src string }{{"proc", "proc", "proc"}, {"dev", "", "/dev"}} {
		dir, err := mkdirIn(root, m.dir)
		if err != nil {
			return nil, fmt.Errorf("trace: %s: %w", m.dir, err)
		}
		if m.fs == "" {
			err = unix.Mount(m.src, dir, "", unix.MS_BIND|unix.MS_REC, "")
		} else {
			err = unix.Mount(m.src, dir, m.fs, unix.MS_NOSUID|unix.MS_NODEV, "")
		}
		if err != nil {
			return nil, fmt.Errorf("trace: mount %s: %w", dir, err)
		}
		undo.Push("unmount "+dir, func() error { return unix.Unmount(dir, unix.MNT_DETACH) })
	}
	undo.Push("kill what still runs in "+root, func() error { killIn(root); return nil })

	logPath := filepath.Join(opt.Dir, "strace.log")
	undo.Push("remove "+logPath, func() error { return os.Remove(logPath) })
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	// The timeout runs inside the image (coreutils' timeout): it signals the program's whole process
	// group, which strace keeps tracing to the end.
	args := []string{"-f", "-qq", "-y", "-s", "0", "-o", logPath, "-e", "trace=" + strings.Join(Syscalls, ","),
		"chroot", root, "/usr/bin/timeout", "-k", "5", strconv.Itoa(int((timeout + time.Second - 1) / time.Second))}
	args = append(args, opt.Command...)
	var runErr error
	var ee *exec.ExitError
	withRA, err := startCold(ctx, root, files, scenario.TracePagesRA, func(ctx context.Context) error {
		runErr = runIn(ctx, root, opt.Log, "strace", args...)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if runErr != nil && !errors.As(runErr, &ee) {
			return fmt.Errorf("trace: strace: %w", runErr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ra, err := setReadahead(bk.Device, "0")
	if err != nil {
		return nil, err
	}
	noRA, err := startCold(ctx, root, files, scenario.TracePages, func(ctx context.Context) error {
		err := runIn(ctx, root, opt.Log, "chroot", args[slices.Index(args, "chroot")+1:]...)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.As(err, new(*exec.ExitError)) {
			return fmt.Errorf("trace: the start without readahead: %w", err)
		}
		return nil
	})
	if _, rerr := setReadahead(bk.Device, ra); err == nil {
		err = rerr
	}
	if err != nil {
		return nil, err
	}
	f, err := os.Open(logPath)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	defer f.Close()
	entries, err := Parse(f, root, func(p string) int64 {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil || !st.Mode().IsRegular() {
			return -1
		}
		return st.Size()
	})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("trace: %s touched no file of the image (did it run? its exit: %v)", opt.Command[0], runErr)
	}
	status := "exit 0"
	if ee != nil {
		status = ee.String()
	}
	var imageBytes int64
	for _, f := range files {
		imageBytes += f.size
	}
	t := &scenario.Trace{Entries: entries, Pages: noRA.resident, PagesRA: withRA.resident, Comment: []string{
		"command: " + shellJoin(opt.Command) + " (started by coreutils' timeout, whose own start is in the trace too)",
		fmt.Sprintf("image: %s of %s (scenario sha256 %s)", img.Name, filepath.Base(plan.File), plan.SHA256[:12]),
		fmt.Sprintf("recorded: %s, strace -f, timeout %s, %s", time.Now().UTC().Format("2006-01-02"), timeout, status),
		fmt.Sprintf("image files: %d, %d bytes, on ext4 on %s (direct I/O %v)", len(files), imageBytes, bk.Device, bk.DirectIO),
		fmt.Sprintf("pages-ra: after the strace'd start, readahead %s KiB; before it %s", ra, evictNote(withRA.evicted)),
		fmt.Sprintf("pages: after a second start without strace, readahead 0 KiB; before it %s", evictNote(noRA.evicted)),
		fmt.Sprintf("resident after the start: %d bytes with readahead off (pages), %d with readahead %s KiB (pages-ra)",
			scenario.PageBytes(noRA.resident), scenario.PageBytes(withRA.resident), ra),
	}}
	return t, nil
}

// treeBacking is the size of the sparse ext4 image the tree is built on (the real stack's tree is
// under 1 GiB).
const treeBacking = 4 << 30

// evictNote says what an eviction did, for the trace's comments.
func evictNote(r measure.EvictResult) string {
	return fmt.Sprintf("evicted %d files (fdatasync + posix_fadvise DONTNEED each, no drop_caches): %d bytes resident before, %d after",
		r.Files, r.Before, r.After)
}

// runIn runs name with args (a chroot into root), its output to log, in a process group of its
// own; a cancelled ctx kills everything running in root.
func runIn(ctx context.Context, root string, log io.Writer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"}
	cmd.Stdin = nil
	if log != nil {
		cmd.Stdout, cmd.Stderr = log, log
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { killIn(root); return cmd.Process.Kill() }
	return cmd.Run()
}

// mkdirIn makes dir under root without following a symlink the image put there.
func mkdirIn(root, dir string) (string, error) {
	p := filepath.Join(root, dir)
	st, err := os.Lstat(p)
	switch {
	case err == nil && st.IsDir():
		return p, nil
	case err == nil:
		// The image has something else there (a symlink: /run → /var/run): a directory instead,
		// in this throwaway tree.
		if err := os.Remove(p); err != nil {
			return "", err
		}
	}
	return p, os.Mkdir(p, 0o755)
}

// buildTree applies the image's chain into root, bottom first: a layer from an image with
// containerd's archive applier, a scenario layer entry by entry.
func buildTree(ctx context.Context, plan *scenario.Plan, img *scenario.PlanImage, root string) error {
	byName := map[string]scenario.PlanLayer{}
	for _, pl := range plan.Layers {
		byName[pl.Name] = pl
	}
	for _, name := range img.Chain {
		pl := byName[name]
		if pl.Image != nil {
			rc, err := pl.Image.Tar(ctx)
			if err != nil {
				return err
			}
			err = layer.ApplyTar(ctx, root, rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("layer %s: %w", name, err)
			}
			continue
		}
		t, err := layer.Build(pl, plan.Seed)
		if err != nil {
			return fmt.Errorf("layer %s: %w", name, err)
		}
		if err := t.Apply(ctx, root, layer.ApplyOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// killIn kills every process whose root is root (what a program left running).
func killIn(root string) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if r, err := os.Readlink(filepath.Join("/proc", e.Name(), "root")); err == nil && (r == root || strings.HasPrefix(r, root+"/")) {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// shellJoin quotes the arguments that need it, so the command can be run again as written.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"\\$`()*?[]{}|&;<>!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
