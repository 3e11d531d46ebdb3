package replay

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/units"
)

// suffixMatch matches backing-filesystem paths that are a copy of one of rels (a snapshotter keeps
// each snapshot's tree under its own directory, so a layer file's backing copies all end in its path).
func suffixMatch(rels []string) func(string) bool {
	return func(p string) bool {
		for _, r := range rels {
			if strings.HasSuffix(p, "/"+r) || p == r {
				return true
			}
		}
		return false
	}
}

// evictFiles drops rels from the page cache as ct reads them: every backing copy (matched by path; a
// driver of images keeps the data in its images, so there every backing file), and — for drivers
// whose mounts cache on their own — the mount's copy. The eviction is verified, not assumed.
//
// The backing files are found once per op (sets) and evicted every sample: the op creates none, and
// a full-copy driver's backing holds tens of thousands of files to walk.
func (e *engine) evictFiles(d *driverRun, ct *container, rels []string, sets *fileSets, id metric.ID, params map[string]string) error {
	match, key := suffixMatch(rels), fileSetKey{d, strings.Join(rels, "\x00")}
	if d.info.Capabilities.Block {
		match, key.rels = notMetadata, "" // the data lives in images: every backing file
	}
	if d.info.Capabilities.PerMountCache || d.hidden() {
		var left int64
		for _, r := range rels {
			res, err := measure.Evict(filepath.Join(ct.mnt, r))
			if err != nil {
				return fmt.Errorf("evict: %w", err)
			}
			left += res.After
		}
		if d.hidden() {
			// No backing files to find: the advice through the merged path reaches the inode that
			// holds the data (an overlay's lower or upper file), and is verified there.
			if left > 0 {
				e.rec.warn(d.info.Name, id, params, result.Warnf(result.WarnEviction, "eviction did not take: %d bytes still cached", left))
			}
			return nil
		}
	}
	sets.mu.Lock()
	set := sets.m[key]
	sets.mu.Unlock()
	if set == nil {
		var err error
		if set, err = measure.ListFiles(d.inst.Backing().Path, match); err != nil {
			return fmt.Errorf("evict: %w", err)
		}
		sets.mu.Lock()
		sets.m[key] = set
		sets.mu.Unlock()
	}
	res, err := set.Evict()
	if err != nil {
		return fmt.Errorf("evict: %w", err)
	}
	if res.After > 0 {
		e.rec.warn(d.info.Name, id, params, result.Warnf(result.WarnEviction, "eviction did not take: %d bytes still cached", res.After))
	}
	return nil
}

// fileSets are the backing files listed for eviction so far, by driver and paths (drivers evict side
// by side).
type fileSets struct {
	mu sync.Mutex
	m  map[fileSetKey]*measure.FileSet
}

// fileSetKey names the backing files one driver evicts for a set of paths ("" for all of them).
type fileSetKey struct {
	d    *driverRun
	rels string
}

// notMetadata leaves out of page-cache accounting the snapshotter's own metadata store
// (metadata.db, a bolt database every containerd snapshotter keeps in its root): the snapshotter
// maps it, so no eviction can drop it, and it is bookkeeping, not image data.
func notMetadata(rel string) bool { return path.Base(rel) != "metadata.db" }

// evictMetadata makes directory lookups cold: sync, drop dentries and inodes (global: it is what the
// scenario's `cold` asks for, and it is recorded), and flush each backing device's buffer cache,
// where the backing filesystem's directory blocks live.
//
// The first eviction of a run is verified: the global dentry count must fall. The count is shared
// with every other process, and one that drops caches just before us leaves nothing to drop, so the
// check first looks up dentryProbes missing names on a backing (negative dentries, unused and so
// freed by a drop), and is retried when another process's lookups outgrew what the drop freed.
func (e *engine) evictMetadata(ctx context.Context, ds []*driverRun) error {
	verify := !e.droppedOnce
	e.droppedOnce = true
	probeDir := ""
	for i := 0; verify && i < len(ds) && probeDir == ""; i++ {
		if b := ds[i].inst.Backing(); b.Path != "" && b.FS != "tmpfs" {
			probeDir = b.Path
		}
	}
	var before, after int64
	for try := 0; ; try++ {
		if probeDir != "" {
			probeDentries(probeDir, dentryProbes)
		}
		before, _, _ = measure.DentryState()
		if err := measure.DropCaches(2); err != nil {
			return fmt.Errorf("cold: drop caches: %w", err)
		}
		after, _, _ = measure.DentryState()
		if !verify || after < before || try == 2 {
			break
		}
	}
	devs := []string{}
	for _, d := range ds {
		devs = append(devs, d.inst.Backing().Device)
	}
	if e.floor != nil {
		devs = append(devs, e.floor.b.Device)
	}
	for _, dev := range devs {
		if dev != "" {
			if err := flushBlockDevice(dev); err != nil {
				return fmt.Errorf("cold: flush %s: %w", dev, err)
			}
		}
	}
	if verify {
		for _, d := range ds {
			d.check("cold: dentries dropped (drop_caches=2, global) and backing device buffers flushed",
				after < before, fmt.Sprintf("dentries %d → %d", before, after))
		}
	}
	return nil
}

// dentryProbes is how many negative dentries probeDentries makes: enough that a drop visibly frees
// them while other processes on the machine create dentries of their own.
const dentryProbes = 4096

// probeDentries looks up n names that do not exist in dir, leaving n negative dentries cached.
func probeDentries(dir string, n int) {
	var st unix.Stat_t
	for i := range n {
		_ = unix.Lstat(filepath.Join(dir, fmt.Sprintf(".seedbench-dentry-probe-%d", i)), &st)
	}
}

// flushBlockDevice writes back and invalidates a block device's buffer cache (BLKFLSBUF).
func flushBlockDevice(dev string) error {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.IoctlSetInt(fd, unix.BLKFLSBUF, 0)
}

// readFile opens rel inside the root, reads it to the end with buf and closes it; it returns the
// time and the bytes read.
func readFile(r *root, rel *byte, buf []byte) (time.Duration, int64, error) {
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: resolveInRoot}
	var total int64
	t0 := time.Now()
	fd, en := openat2(r.fd, rel, &how)
	if en == 0 {
		for {
			n, rerr := read(fd, buf)
			if rerr != 0 {
				en = rerr
				break
			}
			if n == 0 {
				break
			}
			total += int64(n)
		}
		if c := closefd(fd); en == 0 {
			en = c
		}
	}
	return time.Since(t0), total, errno(en)
}

// opRead measures reading a working set through the containers of an image:
//
//   - pagecache.resident after 1..N containers have read it (cold start: every backing copy evicted
//     first), from the exact per-inode residency of the backing files, and
//     pagecache.shared_savings = 1 − resident / (N × working set);
//   - op.read latency per file, warm (after a warm-up read) or cold (backing copies evicted before
//     each sample).
func (e *engine) opRead(ctx context.Context, op *scenario.PlanOp) error {
	buf := make([]byte, 1<<20)
	ptrs := make([]*byte, len(op.WorkingSetFiles))
	for i, r := range op.WorkingSetFiles {
		ptrs[i] = mustPtr(r)
	}
	ws := float64(op.WorkingSet)
	for _, img := range op.Images {
		// Page-cache sharing across containers. The backing files that can hold the working set are
		// evicted first and measured after, so the figure holds whatever the reads brought in
		// wherever the driver keeps the data: a driver of plain files keeps it in the files named
		// like the working set (each snapshot's copy, an upper copy), a driver of images (blockfile,
		// erofs) anywhere in them, so every backing file counts there. Drivers whose mounts cache on
		// their own (FUSE, erofs) add each container's copy, read through its merged path.
		err := e.each(ctx, func(d *driverRun) error {
			if d.hidden() {
				return nil // recorded as unmeasured when it opened
			}
			back := d.inst.Backing().Path
			if d.info.Capabilities.PerMountCache {
				for _, c := range d.ctrs[img] {
					for _, rel := range op.WorkingSetFiles {
						if _, err := measure.Evict(filepath.Join(c.mnt, rel)); err != nil {
							return fmt.Errorf("evict: %w", err)
						}
					}
				}
			}
			match := suffixMatch(op.WorkingSetFiles)
			if d.info.Capabilities.Block {
				match = notMetadata
			}
			files, err := measure.ListFiles(back, match)
			if err != nil {
				return err
			}
			evicted, err := files.Evict()
			if err != nil {
				return fmt.Errorf("evict: %w", err)
			}
			for n, ct := range d.ctrs[img] {
				for i := range ptrs {
					if _, _, err := readFile(ct.root, ptrs[i], buf); err != nil {
						return fmt.Errorf("read %s: %w", op.WorkingSetFiles[i], err)
					}
				}
				res, err := files.Resident()
				if err != nil {
					return err
				}
				if d.info.Capabilities.PerMountCache {
					for _, c := range d.ctrs[img][:n+1] {
						for _, rel := range op.WorkingSetFiles {
							r, err := measure.Resident(filepath.Join(c.mnt, rel))
							if err != nil {
								return err
							}
							res += r
						}
					}
				}
				params := p(metric.PContainers, strconv.Itoa(n+1), metric.PImage, img, metric.PWorkingSet, op.WorkingSet.String())
				e.rec.add(d.info.Name, metric.PagecacheResident, params, float64(res))
				if evicted.After > 0 {
					e.rec.warn(d.info.Name, metric.PagecacheResident, params,
						result.Warnf(result.WarnEviction, "eviction did not take: %d bytes still cached before the reads", evicted.After))
				}
				e.rec.add(d.info.Name, metric.PagecacheSharedSavings, params, 1-float64(res)/(float64(n+1)*ws))
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Read latency.
		sets := &fileSets{m: map[fileSetKey]*measure.FileSet{}}
		floorFile := ""
		if f := e.floor; f != nil {
			floorFile = fmt.Sprintf("read-%d", op.Index)
			if err := f.file(floorFile, int64(op.WorkingSet/units.Size(len(ptrs)))); err != nil {
				e.floorFail("read", err)
			}
		}
		for _, cache := range op.Caches {
			for i := range ptrs {
				size := op.WorkingSet / units.Size(len(ptrs))
				params := p(metric.PSize, size.String(), metric.PCache, cache, metric.PImage, img)
				err := e.sampleRounds(ctx, "read "+cache, op, metric.OpRead, []map[string]string{params}, func(d *driverRun, r int) error {
					ct, err := d.first(img)
					if err != nil {
						return err
					}
					switch cache {
					case metric.CacheWarm:
						if _, _, err := readFile(ct.root, ptrs[i], buf); err != nil {
							return err
						}
					default: // cold, mount: the backing copies evicted
						if cache == metric.CacheMount {
							if err := e.remount(ctx, d, ct); err != nil {
								return err
							}
						}
						if err := e.evictFiles(d, ct, op.WorkingSetFiles[i:i+1], sets, metric.OpRead, params); err != nil {
							return err
						}
					}
					el, n, err := readFile(ct.root, ptrs[i], buf)
					if err != nil {
						return fmt.Errorf("read %s: %w", op.WorkingSetFiles[i], err)
					}
					if n != int64(size) && len(ptrs) == 1 {
						return fmt.Errorf("read %s: %d bytes, want %d", op.WorkingSetFiles[i], n, size)
					}
					e.rec.ns(d.info.Name, metric.OpRead, params, el)
					return nil
				}, func(int) error { return e.floorRead(floorFile, size, cache) })
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}
