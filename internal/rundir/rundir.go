// Package rundir gives each run a private work directory under one base (default
// /var/tmp/seedbench), locked for the run's lifetime, and undoes what a killed run left behind:
// the mounts, loop devices and files under an unlocked run directory are ours and stale.
package rundir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultBase is where run directories live unless --workdir says otherwise.
const DefaultBase = "/var/tmp/seedbench"

// Dir is a locked run directory.
type Dir struct {
	Path string
	lock *os.File
}

// Create makes a fresh run directory under base and holds its lock until Close.
func Create(base, id string) (*Dir, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	p := filepath.Join(base, "run-"+id)
	if err := os.Mkdir(p, 0o700); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(base, "run-"+id+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		os.Remove(p)
		return nil, fmt.Errorf("work dir lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(p)
		return nil, fmt.Errorf("work dir lock: %w", err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return &Dir{Path: p, lock: f}, nil
}

// Close removes the (already emptied) run directory and releases its lock.
func (d *Dir) Close() error {
	err := os.RemoveAll(d.Path)
	os.Remove(d.lock.Name())
	d.lock.Close()
	return err
}

// NewID returns a run id: UTC time and pid, sortable and unique on a host.
func NewID(now time.Time) string {
	return fmt.Sprintf("%s-%d", now.UTC().Format("20060102T150405Z"), os.Getpid())
}

// Report is what Cleanup undid.
type Report struct {
	Dirs     []string
	Unmounts []string
	Loops    []string
	Skipped  []string // run directories still locked by a live run
}

// Cleanup undoes what dead runs left under base: unmounts (deepest first), detaches loop devices
// whose backing file is under a stale run directory, and removes the directories. Run directories
// whose lock is held by a live process are left alone.
func Cleanup(base string) (Report, error) {
	var rep Report
	entries, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "run-") {
			continue
		}
		dir := filepath.Join(base, e.Name())
		lockPath := dir + ".lock"
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			rep.Skipped = append(rep.Skipped, dir)
			continue
		}
		u, l, err := undo(dir)
		rep.Unmounts = append(rep.Unmounts, u...)
		rep.Loops = append(rep.Loops, l...)
		if err == nil {
			err = os.RemoveAll(dir)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", dir, err))
		} else {
			rep.Dirs = append(rep.Dirs, dir)
			os.Remove(lockPath)
		}
		f.Close()
	}
	return rep, errors.Join(errs...)
}

// Mounts returns the mount points under dir, deepest first.
func Mounts(dir string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescape(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out, s.Err()
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Loops returns the loop devices whose backing file is under dir.
func Loops(dir string) ([]string, error) {
	paths, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		bf := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		if bf == dir || strings.HasPrefix(bf, dir+"/") {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(p))))
		}
	}
	return out, nil
}

func undo(dir string) (unmounted, detached []string, err error) {
	var errs []error
	mps, err := Mounts(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, mp := range mps {
		if err := unix.Unmount(mp, 0); err != nil {
			// Busy: detach lazily, so the directory can go; the kernel frees it when the last user does.
			if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
				continue
			}
		}
		unmounted = append(unmounted, mp)
	}
	loops, err := Loops(dir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, dev := range loops {
		if err := detachLoop(dev); err != nil {
			errs = append(errs, fmt.Errorf("detach %s: %w", dev, err))
			continue
		}
		detached = append(detached, dev)
	}
	return unmounted, detached, errors.Join(errs...)
}

func detachLoop(dev string) error {
	f, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
}
