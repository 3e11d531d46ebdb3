package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/units"
)

// floor is the plain filesystem the floors are measured on: an ext4 image of its own on a loop
// device, made as every driver's backing is, with no snapshotter on it. In the same rounds as the
// drivers, at a random place among them, it runs each op's syscall pattern (a create, a stat, a
// read, a copy of the same size, an unlink): a shift of the whole machine between two runs moves a
// driver's metric and its floor alike, so their ratio cancels it (metric.FloorOf), while a change in
// a snapshotter moves the metric alone.
type floor struct {
	b    *backing.Backing
	root *root
	seq  int
	buf  []byte
}

// floorProbes is how many files the floor's stats touch, as many as a lookup point's probes.
const floorProbes = scenario.ProbesPerLayer

// openFloor makes the floor's filesystem, sized for the largest file the workload copies or reads,
// and its probe files.
func (e *engine) openFloor(ctx context.Context) error {
	var most int64
	for _, op := range e.plan.Ops {
		for _, s := range op.Sizes {
			most = max(most, int64(s))
		}
		most = max(most, int64(op.WorkingSet))
	}
	b, err := backing.Create(ctx, backing.Spec{FS: backing.Ext4, Size: max(1<<30, units.SatMul(most, 4)+1<<30), Dir: filepath.Join(e.opt.WorkDir, "floor")})
	if err != nil {
		return err
	}
	f := &floor{b: b, buf: make([]byte, 1<<20)}
	e.undo.Push("close floor", func() error { f.root.close(); return b.Close() })
	if f.root, err = openRoot(b.Path); err != nil {
		return err
	}
	for i := range floorProbes {
		if err := f.file(fmt.Sprintf("probe/p%03d", i), 16); err != nil {
			return err
		}
	}
	e.floor = f
	return measure.Sync(b.Path)
}

// file writes a file of size bytes at rel (with its directory), untimed.
func (f *floor) file(rel string, size int64) error {
	p := filepath.Join(f.b.Path, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	w, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	for left := size; left > 0; {
		n := min(left, int64(len(f.buf)))
		layer.Content(uint64(size)^0xf100, size-left, f.buf[:n])
		if _, err := w.Write(f.buf[:n]); err != nil {
			w.Close()
			return err
		}
		left -= n
	}
	return w.Close()
}

// name returns a fresh name for a file the floor makes.
func (f *floor) name(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%d", prefix, f.seq)
}

// record records a floor sample.
func (e *engine) recordFloor(id metric.ID, params map[string]string, d time.Duration) {
	e.rec.ns(metric.FloorDriver, id, params, d)
}

// floorFail stops measuring floors for the rest of the run: they are a reference, not a driver, and
// a run goes on without them.
func (e *engine) floorFail(what string, err error) {
	e.res.Warnings = append(e.res.Warnings, result.Warnf(result.WarnFloorsStopped, "floors stopped at %s: %v", what, err))
	e.floor = nil
}

// floorFlushFn is floorFlush as a round's floor (nil without a floor).
func (e *engine) floorFlushFn(step string) func() error {
	if e.floor == nil {
		return nil
	}
	return e.floorFlush(step)
}

// floorFlush times creating a 4 KiB file, writing it and fsyncing it: the flush a snapshotter's
// metadata commit and a layer's sync cost, on the plain filesystem.
func (e *engine) floorFlush(step string) func() error {
	return func() error {
		f := e.floor
		rel := mustPtr(f.name("flush-"))
		buf := f.buf[:4096]
		t0 := time.Now()
		fd, en := openat(f.root.fd, rel, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
		if en == 0 {
			_, en = write(fd, buf)
			if en == 0 {
				if err := unix.Fsync(fd); err != nil {
					en = err.(unix.Errno)
				}
			}
			if c := closefd(fd); en == 0 {
				en = c
			}
		}
		el := time.Since(t0)
		if en != 0 {
			return en
		}
		e.recordFloor(metric.FloorFlush, p(metric.PStep, step), el)
		_ = unlinkat(f.root.fd, rel, 0)
		return nil
	}
}

// floorStats times a stat of each of n probe files (kind=hit) or missing names (miss), reps times
// over, per stat.
func (e *engine) floorStats(kind, cache string, n, reps int) error {
	f := e.floor
	paths := make([]cpath, n)
	for i := range paths {
		rel := fmt.Sprintf("probe/p%03d", i%floorProbes)
		if kind == metric.LookupMiss {
			rel = fmt.Sprintf("probe/missing-%d", i)
		}
		paths[i] = cpath{rel: rel, ptr: mustPtr(rel)}
	}
	if cache == metric.CacheWarm {
		if _, err := statBatch(f.root.fd, paths, 1, kind == metric.LookupHit); err != nil {
			return err
		}
	}
	per, err := statBatch(f.root.fd, paths, reps, kind == metric.LookupHit)
	if err != nil {
		return err
	}
	e.recordFloor(metric.FloorStat, p(metric.PKind, kind, metric.PCache, cache), per)
	return nil
}

// floorCopy times what a copy-up does to a lower file of size bytes, on the plain filesystem: a new
// file filled from it by copy_file_range and fsynced (the first write); then an append of one byte
// to the copy (the second).
func (e *engine) floorCopy(src string, size units.Size, cache string) error {
	f := e.floor
	if cache != metric.CacheWarm {
		if _, err := measure.Evict(filepath.Join(f.b.Path, src)); err != nil {
			return err
		}
	} else if err := readAll(filepath.Join(f.b.Path, src)); err != nil {
		return err
	}
	dstName := f.name("copy-")
	srcPtr, dst := mustPtr(src), mustPtr(dstName)
	params := p(metric.PSize, size.String(), metric.PCache, cache)
	t0 := time.Now()
	in, en := openat(f.root.fd, srcPtr, unix.O_RDONLY, 0)
	if en == 0 {
		var out int
		out, en = openat(f.root.fd, dst, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
		if en == 0 {
			for left := int(size); left > 0 && en == 0; {
				n, err := unix.CopyFileRange(in, nil, out, nil, left, 0)
				switch {
				case err != nil:
					en = err.(unix.Errno)
				case n == 0:
					en = unix.EIO
				}
				left -= n
			}
			if en == 0 {
				if err := unix.Fsync(out); err != nil {
					en = err.(unix.Errno)
				}
			}
			if c := closefd(out); en == 0 {
				en = c
			}
		}
		if c := closefd(in); en == 0 {
			en = c
		}
	}
	first := time.Since(t0)
	if en != 0 {
		return fmt.Errorf("copy %s: %w", src, en)
	}
	t0 = time.Now()
	fd, en := openat(f.root.fd, dst, unix.O_WRONLY|unix.O_APPEND, 0)
	if en == 0 {
		_, en = write(fd, appendBuf)
		if c := closefd(fd); en == 0 {
			en = c
		}
	}
	second := time.Since(t0)
	if en != 0 {
		return fmt.Errorf("append to %s: %w", dstName, en)
	}
	e.recordFloor(metric.FloorCopy, params, first)
	e.recordFloor(metric.FloorWrite, params, second)
	return errno(unlinkat(f.root.fd, dst, 0))
}

// floorRead times reading a file of size bytes, warm (read once just before) or evicted first.
func (e *engine) floorRead(rel string, size units.Size, cache string) error {
	f := e.floor
	full := filepath.Join(f.b.Path, rel)
	if cache == metric.CacheWarm {
		if err := readAll(full); err != nil {
			return err
		}
	} else if _, err := measure.Evict(full); err != nil {
		return err
	}
	el, _, err := readFile(f.root, mustPtr(rel), f.buf)
	if err != nil {
		return err
	}
	e.recordFloor(metric.FloorRead, p(metric.PSize, size.String(), metric.PCache, cache), el)
	return nil
}

// floorEntries makes n entries (files, or directories each holding a file) to delete or rename,
// untimed, and returns their names.
func (e *engine) floorEntries(prefix string, n int, dirs bool) ([]string, error) {
	f := e.floor
	out := make([]string, n)
	for i := range out {
		out[i] = f.name(prefix)
		var err error
		if dirs {
			err = os.Mkdir(filepath.Join(f.b.Path, out[i]), 0o755)
		} else {
			err = f.file(out[i], int64(scenario.DeleteFileSize))
		}
		if err != nil {
			return nil, err
		}
	}
	return out, measure.Sync(f.b.Path)
}

// floorRemove times an unlink (or rmdir) of entry.
func (e *engine) floorRemove(entry string, dir bool) error {
	flags, id := 0, metric.FloorUnlink
	if dir {
		flags, id = unix.AT_REMOVEDIR, metric.FloorRmdir
	}
	name := mustPtr(entry)
	t0 := time.Now()
	en := unlinkat(e.floor.root.fd, name, flags)
	el := time.Since(t0)
	if en != 0 {
		return en
	}
	e.recordFloor(id, map[string]string{}, el)
	return nil
}

// floorRename times renaming directory entry.
func (e *engine) floorRename(entry string) error {
	from, to := mustPtr(entry), mustPtr(entry+".renamed")
	t0 := time.Now()
	en := renameat(e.floor.root.fd, from, to)
	el := time.Since(t0)
	if en != 0 {
		return en
	}
	e.recordFloor(metric.FloorRename, map[string]string{}, el)
	return nil
}
