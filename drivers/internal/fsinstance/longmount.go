package fsinstance

import (
	"fmt"
	"path"
	"runtime"
	"strings"

	"github.com/containerd/containerd/v2/core/mount"
	"golang.org/x/sys/unix"
)

// mountOne mounts m at target. An overlay whose options would overflow mount(2)'s one-page argument
// (over ~50 layers at typical paths) is mounted as containerd does it — lower dirs relative to their
// common parent, from a thread whose working directory is that parent — except that the thread
// returns to "/" afterwards. containerd's helper (core/mount.mountAt) leaves its locked thread in the
// snapshot directory; when the Go runtime parks that thread instead of ending it (it never ends the
// main thread), the backing filesystem stays busy for the life of the process and cannot be
// unmounted.
func mountOne(m mount.Mount, target string) error {
	if m.Type != "overlay" || optionsSize(m.Options) < unix.Getpagesize()-512 {
		return m.Mount(target)
	}
	dir, opts := compactLowerdirs(m.Options)
	if dir == "" {
		return m.Mount(target)
	}
	flags, data := splitFlags(opts)
	if err := mountIn(dir, m.Source, target, m.Type, flags, data); err != nil {
		return fmt.Errorf("mount overlay on %s (%d bytes of options, from %s): %w", target, len(data), dir, err)
	}
	return nil
}

func optionsSize(opts []string) int {
	n := 0
	for _, o := range opts {
		n += len(o) + 1
	}
	return n
}

// compactLowerdirs rewrites lowerdir= relative to the lower dirs' common parent directory.
func compactLowerdirs(opts []string) (string, []string) {
	idx := -1
	for i, o := range opts {
		if strings.HasPrefix(o, "lowerdir=") {
			idx = i
			break
		}
	}
	if idx < 0 {
		return "", opts
	}
	dirs := strings.Split(strings.TrimPrefix(opts[idx], "lowerdir="), ":")
	if len(dirs) < 2 {
		return "", opts
	}
	prefix := dirs[0]
	for _, d := range dirs[1:] {
		for !strings.HasPrefix(d, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	// snapshots/12/fs and snapshots/13/fs share "snapshots/1": back off to a whole directory.
	common := path.Dir(prefix + "x")
	if common == "/" || common == "." || !strings.HasPrefix(common, "/") {
		return "", opts
	}
	rel := make([]string, len(dirs))
	for i, d := range dirs {
		if len(d) <= len(common)+1 {
			return "", opts
		}
		rel[i] = d[len(common)+1:]
	}
	out := append(append([]string{}, opts[:idx]...), opts[idx+1:]...)
	return common, append(out, "lowerdir="+strings.Join(rel, ":"))
}

var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"nosuid":      {false, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"dirsync":     {false, unix.MS_DIRSYNC},
	"noatime":     {false, unix.MS_NOATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"relatime":    {false, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
}

// splitFlags separates VFS flags from the filesystem's own options.
func splitFlags(opts []string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range opts {
		if f, ok := flagOptions[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		data = append(data, o)
	}
	return flags, strings.Join(data, ",")
}

// mountIn calls mount(2) from a thread whose working directory is dir, and takes the thread out of
// dir again before it is given back.
func mountIn(dir, source, target, fstype string, flags uintptr, data string) error {
	errc := make(chan error, 1)
	go func() {
		// The thread's working directory is about to diverge from the process's: never unlock it,
		// so the runtime ends the thread with this goroutine (or parks it — with its cwd at "/").
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare CLONE_FS: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- err
			return
		}
		err := unix.Mount(source, target, fstype, flags, data)
		if cerr := unix.Chdir("/"); cerr != nil && err == nil {
			err = fmt.Errorf("leave %s: %w", dir, cerr)
		}
		errc <- err
	}()
	return <-errc
}
