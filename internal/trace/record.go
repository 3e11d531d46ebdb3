package trace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/cleanup"
	"github.com/seedbench/seedbench/internal/layer"
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
// snapshot is built), runs the command chrooted in it under strace — with /proc and /dev mounted —
// and returns what it touched as a trace. The program's own writes
// land in the tree and go with it; every mount and process is gone when Record returns.
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
	root := filepath.Join(opt.Dir, "root")
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
	cmd := exec.CommandContext(ctx, "strace", args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"}
	cmd.Stdin = nil
	if opt.Log != nil {
		cmd.Stdout, cmd.Stderr = opt.Log, opt.Log
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { killIn(root); return cmd.Process.Kill() }
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var ee *exec.ExitError
	if runErr != nil && !errors.As(runErr, &ee) {
		return nil, fmt.Errorf("trace: strace: %w", runErr)
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
	t := &scenario.Trace{Entries: entries, Comment: []string{
		"command: " + shellJoin(opt.Command) + " (started by coreutils' timeout, whose own start is in the trace too)",
		fmt.Sprintf("image: %s of %s (scenario sha256 %s)", img.Name, filepath.Base(plan.File), plan.SHA256[:12]),
		fmt.Sprintf("recorded: %s, strace -f, timeout %s, %s", time.Now().UTC().Format("2006-01-02"), timeout, status),
	}}
	return t, nil
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
