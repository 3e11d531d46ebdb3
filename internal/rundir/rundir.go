// Package rundir gives each run a private work directory under one base (default
// /var/tmp/seedbench), locked for the run's lifetime, and undoes what a killed run left behind:
// the FUSE daemons, mounts, loop devices and files under an unlocked run directory are ours and
// stale.
package rundir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
)

// DefaultBase is where run directories live unless --workdir says otherwise.
const DefaultBase = "/var/tmp/seedbench"

// Dir is a locked run directory.
type Dir struct {
	Path string
	lock *os.File
}

// Create makes a fresh run directory under base and holds its lock until Close. The lock is taken
// before the directory exists, so a concurrent Cleanup never sees it unlocked.
func Create(base, id string) (*Dir, error) {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	p := filepath.Join(base, "run-"+id)
	f, err := os.OpenFile(p+".lock", os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("work dir lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("work dir lock: %w", err)
	}
	if err := os.Mkdir(p, 0o700); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("work dir: %w", err)
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
	Killed   []string // processes the reapers killed (FUSE daemons): "PID (command line)"
	Aborted  []string // FUSE connections aborted because an unmount hung: "/sys/fs/fuse/connections/N (mount point)"
	Skipped  []string // run directories still locked by a live run
}

// Cleanup undoes what dead runs left under base, for each stale run directory: has every reaper kill
// the processes its driver left serving mounts under it (fuse-overlayfs daemons), unmounts what is mounted under it (deepest
// first, aborting the FUSE connection of a mount whose unmount hangs), detaches loop devices whose
// backing file is under it, and removes it. Run directories whose lock is held by a live process are
// left alone, and so is everything of theirs.
func Cleanup(base string, reapers []drivers.Reaper) (Report, error) {
	var rep Report
	// The kernel reports resolved absolute paths (mountinfo, loop backing files): match those.
	base, err := filepath.Abs(base)
	if err == nil {
		base, err = filepath.EvalSymlinks(base)
	}
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	entries, err := os.ReadDir(base)
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
		err = undo(dir, reapers, &rep)
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
	ms, err := mountsUnder(dir)
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.path
	}
	return out, err
}

// mountEntry is one line of /proc/self/mountinfo, as far as cleanup needs it.
type mountEntry struct {
	path   string
	fstype string // fuse.fuse-overlayfs, fuse3.fuse-overlayfs, ext4, overlay, …
	minor  uint32 // of the anonymous device of a FUSE mount: its connection is /sys/fs/fuse/connections/<minor>
}

// fuse: a FUSE mount on an anonymous device (not fuseblk, whose connection is named after its block
// device).
func (m mountEntry) fuse() bool {
	return m.fstype == "fuse" || strings.HasPrefix(m.fstype, "fuse.") || strings.HasPrefix(m.fstype, "fuse3.")
}

// mountsUnder returns the mounts at or under dir, deepest first.
func mountsUnder(dir string) ([]mountEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountEntry
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		// ID PARENT MAJOR:MINOR ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescape(fields[4])
		if mp != dir && !strings.HasPrefix(mp, dir+"/") {
			continue
		}
		m := mountEntry{path: mp}
		if _, min, ok := strings.Cut(fields[2], ":"); ok {
			if n, err := strconv.ParseUint(min, 10, 32); err == nil {
				m.minor = uint32(n)
			}
		}
		for i := 5; i+1 < len(fields); i++ {
			if fields[i] == "-" {
				m.fstype = fields[i+1]
				break
			}
		}
		out = append(out, m)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].path) > len(out[j].path) })
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

// undo kills, unmounts and detaches what a dead run left in dir, recording it in rep.
func undo(dir string, reapers []drivers.Reaper, rep *Report) error {
	var errs []error
	// Daemons first: a killed daemon's connection is aborted by the kernel, so nothing that touches
	// its mount can block on it afterwards.
	for _, r := range reapers {
		killed, err := r.Reap(dir)
		rep.Killed = append(rep.Killed, killed...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	unmounted, aborted, err := unmountAll(dir)
	rep.Unmounts = append(rep.Unmounts, unmounted...)
	rep.Aborted = append(rep.Aborted, aborted...)
	if err != nil {
		errs = append(errs, err)
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
		rep.Loops = append(rep.Loops, dev)
	}
	return errors.Join(errs...)
}

// unmountTimeout is how long one unmount may take before it counts as hung.
var unmountTimeout = 5 * time.Second

// unmountFn is unix.Unmount (a variable so tests can make an unmount hang).
var unmountFn = unix.Unmount

// unmountAll unmounts every mount under dir, deepest first. A mount that is busy because another
// one still pins it (an overlay whose lower dirs are on a backing mounted higher up) is retried once
// the others are gone; only what stays busy is detached lazily, so a detached filesystem does not
// keep a loop device pinned when it need not.
func unmountAll(dir string) (unmounted, aborted []string, err error) {
	pending, err := mountsUnder(dir)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	flags := 0
	for len(pending) > 0 {
		var busy []mountEntry
		for _, m := range pending {
			conn, err := unmountOne(m, flags)
			if conn != "" {
				aborted = append(aborted, conn)
			}
			switch {
			case err == nil:
				unmounted = append(unmounted, m.path)
			case errors.Is(err, unix.EBUSY) && flags == 0:
				busy = append(busy, m)
			default:
				errs = append(errs, fmt.Errorf("unmount %s: %w", m.path, err))
			}
		}
		if len(busy) == len(pending) {
			// No progress: nothing of ours pins them any more. Detach lazily, so the directory can
			// go; the kernel frees each when its last user does.
			flags = unix.MNT_DETACH
		}
		pending = busy
	}
	return unmounted, aborted, errors.Join(errs...)
}

// unmountOne unmounts m with flags. An unmount that hangs on a FUSE mount (its daemon stopped or
// stuck) has the mount's connection aborted (/sys/fs/fuse/connections/N/abort): every request waiting
// on the daemon then fails, and the unmount finishes. It returns the connection it aborted, if any.
func unmountOne(m mountEntry, flags int) (aborted string, err error) {
	done := make(chan error, 1)
	go func() { done <- unmountFn(m.path, flags) }()
	select {
	case err := <-done:
		return "", err
	case <-time.After(unmountTimeout):
	}
	if !m.fuse() {
		return "", fmt.Errorf("hung for %v (not a FUSE mount: no connection to abort)", unmountTimeout)
	}
	conn, err := abortFUSE(m)
	if err != nil {
		return "", fmt.Errorf("hung for %v; abort its FUSE connection: %w", unmountTimeout, err)
	}
	select {
	case err := <-done:
		return conn, err
	case <-time.After(unmountTimeout):
		return conn, fmt.Errorf("still hung %v after aborting FUSE connection %s", unmountTimeout, conn)
	}
}

// fuseConnections is where the kernel lists FUSE connections (the fusectl filesystem); fusectlMagic
// is that filesystem's statfs type.
const (
	fuseConnections = "/sys/fs/fuse/connections"
	fusectlMagic    = 0x65735543
)

// abortFUSE aborts the FUSE connection serving m: every pending and future request on it fails with
// ENOTCONN, as if its daemon had died. It returns a description of the connection. Where fusectl is
// not mounted (no systemd), it is mounted for the abort and unmounted again.
func abortFUSE(m mountEntry) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(fuseConnections, &st); err != nil {
		return "", err
	}
	if st.Type != fusectlMagic {
		if err := unix.Mount("fusectl", fuseConnections, "fusectl", 0, ""); err != nil {
			return "", fmt.Errorf("mount fusectl on %s: %w", fuseConnections, err)
		}
		defer unix.Unmount(fuseConnections, 0)
	}
	conn := filepath.Join(fuseConnections, strconv.FormatUint(uint64(m.minor), 10))
	if err := os.WriteFile(filepath.Join(conn, "abort"), []byte("1"), 0o200); err != nil {
		return "", err
	}
	return conn + " (" + m.path + ")", nil
}

func detachLoop(dev string) error {
	f, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
}
