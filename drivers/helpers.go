package drivers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
)

// ContainerdModule is the module every in-process snapshotter comes from.
const ContainerdModule = "github.com/containerd/containerd/v2"

// containerdFallback is the version go.mod pins, for binaries built without module information
// (test binaries, `go run` of a file).
const containerdFallback = "v2.4.2"

// ContainerdVersion is the version of ContainerdModule linked into this binary, from its build
// information (a replace directive's version wins).
func ContainerdVersion() string { return ModuleVersion(ContainerdModule, containerdFallback) }

// ModuleVersion is the version of module linked into this binary, or fallback when the binary
// carries no build information for it.
func ModuleVersion(module, fallback string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fallback
	}
	for _, d := range bi.Deps {
		if d.Path != module {
			continue
		}
		if d.Replace != nil && d.Replace.Version != "" {
			return d.Replace.Version
		}
		if d.Version != "" && d.Version != "(devel)" {
			return d.Version
		}
	}
	return fallback
}

// RemoveAll removes every snapshot sn holds, children before parents (containerd refuses to remove
// a parent first). It is what Instance.Close implementations call before dropping the backing.
func RemoveAll(ctx context.Context, sn snapshots.Snapshotter) error {
	parent := map[string]string{}
	if err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		parent[info.Name] = info.Parent
		return nil
	}); err != nil && !errdefs.IsNotFound(err) { // a snapshotter that never held a snapshot has no bucket to walk
		return fmt.Errorf("list snapshots: %w", err)
	}
	var errs []error
	for len(parent) > 0 {
		children := map[string]int{}
		for _, p := range parent {
			if p != "" {
				children[p]++
			}
		}
		var leaves []string
		for name := range parent {
			if children[name] == 0 {
				leaves = append(leaves, name)
			}
		}
		if len(leaves) == 0 { // a cycle cannot happen; stop rather than spin
			return errors.Join(append(errs, fmt.Errorf("snapshots left with unremovable parents: %d", len(parent)))...)
		}
		for _, name := range leaves {
			if err := sn.Remove(ctx, name); err != nil {
				errs = append(errs, fmt.Errorf("remove snapshot %q: %w", name, err))
			}
			delete(parent, name)
		}
	}
	// A snapshotter that removes asynchronously (stargz: a removed remote layer stays mounted until
	// then) frees what it removed on Cleanup.
	if c, ok := sn.(snapshots.Cleaner); ok {
		if err := c.Cleanup(ctx); err != nil && !errdefs.IsNotFound(err) { // never held a snapshot
			errs = append(errs, fmt.Errorf("clean up removed snapshots: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Processes lists the running processes of program (the base name of their first argument) for
// which match says yes to the rest of their arguments: the daemons a killed run left, for a
// Reaper. Zombies, which have no arguments left, are not running.
func Processes(program string, match func(args []string) bool) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue // gone meanwhile, or a zombie
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if filepath.Base(args[0]) == program && match(args[1:]) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// SocketLinks is where the short links that private servers (containerd daemons, proxy snapshotters)
// bind their sockets through live.
const SocketLinks = "/run/seedbench"

// LinkSockets makes a short link in SocketLinks to dir and returns its path. A socket's path must
// fit in sun_path (108 bytes with its NUL; containerd allows 104), which a run directory's need not:
// a server binds its sockets through the link, and they live in dir.
func LinkSockets(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(SocketLinks, 0o700); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	link := filepath.Join(SocketLinks, hex.EncodeToString(sum[:6]))
	_ = os.Remove(link) // a killed run's, for this very directory
	if err := os.Symlink(abs, link); err != nil {
		return "", fmt.Errorf("link sockets: %w", err)
	}
	return link, nil
}

// StaleLinks removes the links in SocketLinks to directories under dir (a killed run's), and those
// to directories that no longer exist, and returns them.
func StaleLinks(dir string) []string {
	ents, _ := os.ReadDir(SocketLinks)
	var removed []string
	for _, e := range ents {
		p := filepath.Join(SocketLinks, e.Name())
		to, err := os.Readlink(p)
		if err != nil {
			continue
		}
		_, gone := os.Stat(to)
		if (strings.HasPrefix(to, filepath.Clean(dir)+"/") || errors.Is(gone, os.ErrNotExist)) && os.Remove(p) == nil {
			removed = append(removed, p)
		}
	}
	return removed
}

// Kill sends SIGKILL to every process list names (a killed run's daemons, for a Reaper), waits up
// to timeout until list names none, and returns desc of each process it killed.
func Kill(list func() ([]int, error), desc func(pid int) string, timeout time.Duration) ([]string, error) {
	pids, err := list()
	if err != nil || len(pids) == 0 {
		return nil, err
	}
	var killed []string
	var errs []error
	for _, pid := range pids {
		d := desc(pid)
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %s: %w", d, err))
			continue
		}
		killed = append(killed, d)
	}
	for deadline := time.Now().Add(timeout); ; time.Sleep(10 * time.Millisecond) {
		left, err := list()
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			errs = append(errs, fmt.Errorf("processes %v still running %v after SIGKILL", left, timeout))
			break
		}
	}
	return killed, errors.Join(errs...)
}

// Records lists the files called name in dir and up to three directories below it: the records
// driver instances leave in their work directories (a run's, a driver's, a suite test's), for a
// Reaper to find what a killed run left elsewhere.
func Records(dir, name string) []string {
	var out []string
	for _, pattern := range []string{name, "*/" + name, "*/*/" + name, "*/*/*/" + name} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		out = append(out, files...)
	}
	return out
}

// SocketOf describes what serves a unix socket, for CheckSocket's errors.
type SocketOf struct {
	Name    string // "containerd socket"
	Daemon  string // what must be running: "the daemon"
	Example string // what to give instead: "the daemon's gRPC socket, e.g. /run/containerd/containerd.sock"
}

// CheckSocket says, naming socket and the fix, why socket cannot be what of describes: it does
// not exist, or it is not a socket.
func CheckSocket(socket string, of SocketOf, fix string) error {
	fi, err := os.Stat(socket)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s %s does not exist: is %s running? (fix: %s)", of.Name, socket, of.Daemon, fix)
	case err != nil:
		return fmt.Errorf("%s %s: %w", of.Name, socket, err)
	case fi.Mode()&os.ModeSocket == 0:
		return fmt.Errorf("%s %s is not a socket but %s: give %s", of.Name, socket, FileKind(fi), of.Example)
	}
	return nil
}

// FileKind names what a file that is not a socket is, for errors.
func FileKind(fi os.FileInfo) string {
	switch {
	case fi.IsDir():
		return "a directory"
	case fi.Mode().IsRegular():
		return "a regular file"
	}
	return "of type " + fi.Mode().Type().String()
}
