package replay

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
)

// opTrace replays a real program's file accesses (a trace recorded by `seedbench trace`) in the
// containers of each image, in order, with the syscalls the program made: stat and lookups that
// miss, opens, reads at their offsets (an mmap as a read of what it mapped), readlinks. The replay
// runs on a thread chrooted into the container's mount, so absolute paths and symlinks resolve as
// they did for the program, and nothing outside the container is touched.
//
//   - cold: a fresh mount, dentries and inodes dropped, the backing's buffer cache flushed and the
//     trace's files evicted from the page cache: the program's first start on a node.
//   - mount: a fresh mount, the backing filesystem's caches warm.
//   - warm: a replay right after another one: a restart.
//
// Before anything is timed, one pass on the first driver keeps the accesses whose outcome is the
// recorded one (a stack rebuilt from manifests, or shrunk by --quick, may lack a few paths; how
// many are left out is a warning), and counts the files and distinct bytes the trace touches
// against the image's: trace.files, trace.bytes, trace.share_files, trace.share_bytes.
func (e *engine) opTrace(ctx context.Context, op *scenario.PlanOp) error {
	t := op.Trace
	for _, img := range op.Images {
		ds := e.active()
		if len(ds) == 0 {
			return nil
		}
		probe, err := probeIn(ds[0], img, t)
		if err != nil {
			return err
		}
		files, bytes := imageFiles(e.views[img])
		qp := p(metric.PImage, img, metric.PTrace, t.Name)
		for _, d := range ds {
			e.rec.add(d.info.Name, metric.TraceFiles, qp, float64(len(probe.files)))
			e.rec.add(d.info.Name, metric.TraceBytes, qp, float64(probe.bytes))
			if files > 0 && bytes > 0 {
				e.rec.add(d.info.Name, metric.TraceShareFiles, qp, float64(len(probe.files))/float64(files))
				e.rec.add(d.info.Name, metric.TraceShareBytes, qp, float64(probe.bytes)/float64(bytes))
			}
			e.recordPages(d, t, qp, bytes)
			if dropped := len(t.Entries) - len(probe.kept); dropped > 0 {
				for _, cache := range op.Caches {
					e.rec.warn(d.info.Name, metric.TraceReplay, p(metric.PImage, img, metric.PTrace, t.Name, metric.PCache, cache),
						result.Warnf(result.WarnTraceDropped, "%d of the trace's %d accesses left out: their outcome in this image differs from the recording", dropped, len(t.Entries)))
				}
			}
		}
		rels := make([]string, 0, len(probe.files))
		for f := range probe.files {
			rels = append(rels, strings.TrimPrefix(f, "/"))
		}
		slices.Sort(rels)
		sets := &fileSets{m: map[fileSetKey]*measure.FileSet{}}
		buf := make([]byte, 1<<20)
		replayed := t.Faulted(probe.kept)
		// Each round runs in the next container of the image: what each one's start costs.
		ctrOf := func(d *driverRun, r int) (*container, error) {
			cs := d.ctrs[img]
			if len(cs) == 0 {
				return nil, fmt.Errorf("no container of image %s", img)
			}
			return cs[r%len(cs)], nil
		}
		replay := func(d *driverRun, r int, record bool, params map[string]string) error {
			ct, err := ctrOf(d, r)
			if err != nil {
				return err
			}
			el, err := chrootDo(ct.mnt, func() (time.Duration, error) { return replayTrace(replayed, buf, nil) })
			if err != nil {
				return fmt.Errorf("trace %s: %w", t.Name, err)
			}
			if record {
				e.rec.ns(d.info.Name, metric.TraceReplay, params, el)
			}
			return nil
		}
		for _, cache := range op.Caches {
			params := p(metric.PImage, img, metric.PTrace, t.Name, metric.PCache, cache)
			for r := 0; r < op.MaxSamples; r++ {
				if r >= op.Samples && e.converged(metric.TraceReplay, []map[string]string{params}) {
					break
				}
				e.progress("", "workload", "trace "+t.Name+" "+cache, r, op.Samples)
				ds := e.active()
				// Set every driver's cache state first (side by side: nothing is timed), then time
				// them one after another: one global eviction a round, not one per driver.
				if err := e.eachAtOnce(ctx, ds, func(d *driverRun) error {
					if cache == metric.CacheWarm {
						if r < len(d.ctrs[img]) {
							// The start before, in this container: its files cached. Later rounds
							// come back to a container that already started here.
							return replay(d, r, false, params)
						}
						return nil
					}
					ct, err := ctrOf(d, r)
					if err != nil {
						return err
					}
					return e.remount(ctx, d, ct)
				}); err != nil {
					return err
				}
				if cache == metric.CacheCold {
					if err := e.evictMetadata(ctx, ds); err != nil {
						return err
					}
					if err := e.eachAtOnce(ctx, ds, func(d *driverRun) error {
						ct, err := ctrOf(d, r)
						if err != nil {
							return err
						}
						return e.evictFiles(d, ct, rels, sets, metric.TraceReplay, params)
					}); err != nil {
						return err
					}
				}
				if err := e.eachOf(ctx, ds, func(d *driverRun) error { return replay(d, r, true, params) }); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// recordPages records trace t's page-level bytes (when it has them) for d at params qp, once:
// trace.page_bytes, trace.page_share (of imageBytes), trace.page_bytes_readahead.
func (e *engine) recordPages(d *driverRun, t *scenario.Trace, qp map[string]string, imageBytes int64) {
	if len(t.Pages) == 0 || e.rec.find(d.info.Name, metric.TracePageBytes, qp) != nil {
		return
	}
	pb := scenario.PageBytes(t.Pages)
	e.rec.add(d.info.Name, metric.TracePageBytes, qp, float64(pb))
	if imageBytes > 0 {
		e.rec.add(d.info.Name, metric.TracePageShare, qp, float64(pb)/float64(imageBytes))
	}
	if len(t.PagesRA) > 0 {
		e.rec.add(d.info.Name, metric.TracePageRA, qp, float64(scenario.PageBytes(t.PagesRA)))
	}
}

// imageFiles counts an image view's regular files (a hardlinked inode once) and their bytes.
func imageFiles(v *layer.View) (files int, bytes int64) {
	for _, p := range v.Paths() {
		if e, ok := v.Lookup(p); ok && e.Kind == layer.File {
			files++
			bytes += e.Size
		}
	}
	return files, bytes
}

// chrootDo runs fn on a fresh OS thread chrooted into dir: the thread unshares its filesystem
// context first, so the rest of the process keeps its root, and the thread is not reused after
// (it exits with the goroutine, still locked).
func chrootDo[T any](dir string, fn func() (T, error)) (T, error) {
	type out struct {
		v   T
		err error
	}
	ch := make(chan out, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the chrooted thread dies with this goroutine
		var o out
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			o.err = fmt.Errorf("unshare: %w", err)
		} else if err := unix.Chroot(dir); err != nil {
			o.err = fmt.Errorf("chroot %s: %w", dir, err)
		} else if err := unix.Chdir("/"); err != nil {
			o.err = err
		} else {
			o.v, o.err = fn()
		}
		ch <- o
	}()
	o := <-ch
	return o.v, o.err
}

// traceProbe is what an untimed pass over a trace found: the accesses with their recorded outcome,
// the regular files opened or read, and the distinct bytes read of them.
type traceProbe struct {
	kept  []scenario.TraceEntry
	files map[string]bool
	bytes int64
}

// probeIn probes trace t in d's first container of img (untimed): the accesses kept for replay
// (an error when none has its recorded outcome) and what they touch.
func probeIn(d *driverRun, img string, t *scenario.Trace) (traceProbe, error) {
	ct, err := d.first(img)
	if err != nil {
		return traceProbe{}, err
	}
	probe, err := chrootDo(ct.mnt, func() (traceProbe, error) { return probeTrace(t.Entries) })
	if err != nil {
		return probe, fmt.Errorf("trace %s: %w", t.Name, err)
	}
	if len(probe.kept) == 0 {
		return probe, fmt.Errorf("trace %s: none of its %d accesses has the recorded outcome in image %s: it was recorded on another image", t.Name, len(t.Entries), img)
	}
	return probe, nil
}

// probeTrace replays entries once (in a chrooted thread), keeping those whose outcome matches.
func probeTrace(entries []scenario.TraceEntry) (traceProbe, error) {
	pr := traceProbe{files: map[string]bool{}}
	ranges := map[string][][2]int64{}
	sizes := map[string]int64{}
	var st unix.Stat_t
	buf := make([]byte, 4096)
	for _, en := range entries {
		ok := false
		switch en.Op {
		case scenario.TraceStat:
			ok = unix.Stat(en.Path, &st) == nil
		case scenario.TraceMiss:
			err := unix.Stat(en.Path, &st)
			ok = errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
		case scenario.TraceReadlink:
			_, err := unix.Readlink(en.Path, buf)
			ok = err == nil
		case scenario.TraceOpen, scenario.TraceRead:
			if err := unix.Stat(en.Path, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
				ok = true
				// Counted by the file's own path (a name through symlinks is the same file).
				real, err := filepath.EvalSymlinks(en.Path)
				if err != nil {
					real = en.Path
				}
				pr.files[real] = true
				sizes[real] = st.Size
				if en.Op == scenario.TraceRead {
					ranges[real] = append(ranges[real], [2]int64{en.Off, en.Off + en.Len})
				}
			} else if err == nil && en.Op == scenario.TraceOpen {
				ok = true // a directory or a device opened for reading
			}
		}
		if ok {
			pr.kept = append(pr.kept, en)
		}
	}
	for f, rs := range ranges {
		pr.bytes += unionLen(rs, sizes[f])
	}
	return pr, nil
}

// unionLen is the length of the union of half-open ranges, clipped to [0, size).
func unionLen(rs [][2]int64, size int64) int64 {
	slices.SortFunc(rs, func(a, b [2]int64) int { return int(min(max(a[0]-b[0], -1), 1)) })
	var n, end int64
	for _, r := range rs {
		lo, hi := max(r[0], end), min(r[1], size)
		if hi > lo {
			n += hi - lo
		}
		end = max(end, min(r[1], size))
	}
	return n
}

// replayTrace performs the accesses (in a chrooted thread) and returns the time they took. An open
// file stays open for the reads that follow, as in the program; every descriptor is closed at the
// end, inside the timing. perEntry, when not nil (as long as entries), gets each open and read timed
// at its entry's index (two clock readings per such access, ~0.1 µs each, inside the total).
func replayTrace(entries []scenario.TraceEntry, buf []byte, perEntry []time.Duration) (time.Duration, error) {
	fds := map[string]int{}
	var st unix.Stat_t
	var first error
	t0 := time.Now()
	for i, en := range entries {
		var err error
		var te time.Time
		if perEntry != nil && (en.Op == scenario.TraceOpen || en.Op == scenario.TraceRead) {
			te = time.Now()
		}
		switch en.Op {
		case scenario.TraceStat:
			err = unix.Stat(en.Path, &st)
		case scenario.TraceMiss:
			if e := unix.Stat(en.Path, &st); e == nil {
				err = errors.New("exists")
			}
		case scenario.TraceReadlink:
			_, err = unix.Readlink(en.Path, buf[:4096])
		case scenario.TraceOpen:
			var fd int
			if fd, err = unix.Open(en.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
				if old, ok := fds[en.Path]; ok {
					unix.Close(old)
				}
				fds[en.Path] = fd
			}
		case scenario.TraceRead:
			fd, ok := fds[en.Path]
			if !ok {
				if fd, err = unix.Open(en.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
					break
				}
				fds[en.Path] = fd
			}
			for off, left := en.Off, en.Len; left > 0; {
				n, e := unix.Pread(fd, buf[:min(left, int64(len(buf)))], off)
				if e != nil {
					err = e
					break
				}
				if n == 0 {
					break // past the end: the file is shorter here than where it was traced
				}
				off, left = off+int64(n), left-int64(n)
			}
		}
		if !te.IsZero() {
			perEntry[i] = time.Since(te)
		}
		if err != nil && first == nil {
			first = fmt.Errorf("line %d: %s %s: %w", en.Line, en.Op, en.Path, err)
		}
	}
	for _, fd := range fds {
		unix.Close(fd)
	}
	el := time.Since(t0)
	return el, first
}
