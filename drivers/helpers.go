package drivers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

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
