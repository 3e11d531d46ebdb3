package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/units"
)

// modifyTarget is one (size, how) point of a modify op on one container.
type modifyTarget struct {
	size   units.Size
	how    string
	rel    string
	ptr    *byte
	params map[string]string
}

// opModify measures the first modification of a lower file — the copy-up — and, separately, the
// second modification of the same file, so the copy-up is isolated from the write itself. Copy-up
// happens once per file per container, so every round (the warm-up rounds and the samples of each
// cache mode) modifies lower files of its own, in the image's first container: each (size, how)
// point has a lower file per round, which no earlier round touched. (A fresh container per round
// would cost a full-copy driver a copy of the whole image, untimed, every round.)
//
//	append    open(O_WRONLY|O_APPEND) + write 1 byte + close
//	rdwr      open(O_RDWR) + close, no write
//	chmod     fchmodat (metadata only: with metacopy=on no data is copied)
//	truncate  open(O_WRONLY) + ftruncate to half + close
func (e *engine) opModify(ctx context.Context, op *scenario.PlanOp) error {
	perCache := e.plan.Warmup + op.MaxSamples
	for _, imgName := range op.Images {
		// targets(k) is round k's point set: each point's k-th lower file.
		targets := func(k int) ([]modifyTarget, error) {
			var ts []modifyTarget
			for _, size := range op.Sizes {
				for _, how := range op.Hows {
					rels := op.Targets[size][how]
					if k >= len(rels) {
						return nil, fmt.Errorf("modify: no lower file left for size %s how %s (round %d of %d)", size, how, k+1, len(rels))
					}
					ts = append(ts, modifyTarget{size: size, how: how, rel: rels[k], ptr: mustPtr(rels[k]),
						params: p(metric.PSize, size.String(), metric.PHow, how, metric.PImage, imgName)})
				}
			}
			return ts, nil
		}
		for ci, cache := range op.Caches {
			copied := map[*driverRun]map[string]int{} // how/size → rounds where the copy-up was seen
			rounds := map[*driverRun]int{}
			round := func(d *driverRun, k int, record bool) error {
				ct, err := d.first(imgName)
				if err != nil {
					return err
				}
				ts, err := targets(ci*perCache + k)
				if err != nil {
					return err
				}
				if err := e.modifyRound(ctx, d, ct, ts, cache, false, record); err != nil {
					return err
				}
				if record {
					if copied[d] == nil {
						copied[d] = map[string]int{}
					}
					rounds[d]++
					for _, t := range ts {
						if ok, _ := copiedUp(ct, t.rel, t.how); ok {
							copied[d][t.how+"/"+t.size.String()]++
						}
					}
				}
				return nil
			}
			// Discarded warm-up rounds: the first copy-ups after a quiet spell (or a cold phase)
			// also pay for the backing filesystem's evicted metadata; they are not the figure.
			for w := 0; w < e.plan.Warmup; w++ {
				if err := e.each(ctx, func(d *driverRun) error { return round(d, w, false) }); err != nil {
					return err
				}
			}
			ts, err := targets(0)
			if err != nil {
				return err
			}
			var points []map[string]string
			for _, t := range ts {
				points = append(points, withParam(withCache(t.params, cache), metric.PWrite, metric.WriteFirst))
			}
			err = e.sampleRounds(ctx, "modify "+cache, op, metric.CopyupLatency, points, func(d *driverRun, r int) error {
				return round(d, e.plan.Warmup+r, true)
			}, e.floorCopies(op, cache))
			if err != nil {
				return err
			}
			for _, d := range e.drvs {
				if !d.ok() || !hasOverlayUpper(d) {
					continue
				}
				for _, t := range ts {
					n := copied[d][t.how+"/"+t.size.String()]
					d.check(fmt.Sprintf("copy-up happened: %s %s (%s)", t.how, t.size, cache), n == rounds[d],
						fmt.Sprintf("%d of %d rounds had the %s %s target in the upper dir after its first modification", n, rounds[d], t.how, t.size))
				}
			}
		}
	}
	return nil
}

// floorCopies is the floor of a round of copy-ups: a copy of a plain file of each size the op
// modifies (its first write), then an append to the copy (its second).
func (e *engine) floorCopies(op *scenario.PlanOp, cache string) func(int) error {
	f := e.floor
	if f == nil {
		return nil
	}
	srcs := map[units.Size]string{}
	for _, s := range op.Sizes {
		srcs[s] = fmt.Sprintf("copy-src-%d-%s", op.Index, s)
		if _, err := os.Stat(filepath.Join(f.b.Path, srcs[s])); err == nil {
			continue // made for another cache mode
		}
		if err := f.file(srcs[s], int64(s)); err != nil {
			e.floorFail("modify", err)
			return nil
		}
	}
	if err := measure.Sync(f.b.Path); err != nil {
		e.floorFail("modify", err)
		return nil
	}
	return func(int) error {
		for _, i := range e.rng.Perm(len(op.Sizes)) {
			s := op.Sizes[i]
			if err := e.floorCopy(srcs[s], s, cache); err != nil {
				return err
			}
		}
		return nil
	}
}

// modifyRound modifies every target once and again on ct, recording the times when record is set.
func (e *engine) modifyRound(ctx context.Context, d *driverRun, ct *container, targets []modifyTarget, cache string, verify, record bool) error {
	// Set the lower files' cache state right before timing them.
	for _, t := range targets {
		full := filepath.Join(ct.mnt, t.rel)
		switch cache {
		case metric.CacheWarm:
			if err := readAll(full); err != nil {
				return err
			}
		case metric.CacheCold, metric.CacheMount:
			res, err := measure.Evict(full)
			if err != nil {
				return err
			}
			if res.After > 0 {
				e.rec.warn(d.info.Name, metric.CopyupLatency, withCache(t.params, cache),
					result.Warnf(result.WarnEviction, "eviction did not take: %d bytes still cached", res.After))
			}
		}
	}
	order := e.rng.Perm(len(targets))
	for _, i := range order {
		t := targets[i]
		first, err := modifyOnce(ct.root, t, 1)
		if err != nil {
			return fmt.Errorf("modify %s (%s): %w", t.rel, t.how, err)
		}
		second, err := modifyOnce(ct.root, t, 2)
		if err != nil {
			return fmt.Errorf("modify %s (%s) again: %w", t.rel, t.how, err)
		}
		if record {
			params := withCache(t.params, cache)
			e.rec.ns(d.info.Name, metric.CopyupLatency, withParam(params, metric.PWrite, metric.WriteFirst), first)
			e.rec.ns(d.info.Name, metric.CopyupLatency, withParam(params, metric.PWrite, metric.WriteSecond), second)
		}
		if err := applyModify(ct, t); err != nil {
			return err
		}
	}
	if verify {
		return e.verify(ctx, d, "modify: merged view of "+ct.key, ct.mnt, ct.view)
	}
	return nil
}

func withParam(params map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(params)+1)
	for a, b := range params {
		out[a] = b
	}
	out[k] = v
	return out
}

// The byte an append writes, and the modes chmod sets, so the merged view can be verified.
const (
	appendByte = 'x'
	chmodFirst = 0o600
	chmodAgain = 0o640
)

var appendBuf = []byte{appendByte}

// modifyOnce runs one modification (nth = 1 first, 2 second) and returns its time.
func modifyOnce(r *root, t modifyTarget, nth int) (time.Duration, error) {
	var en unix.Errno
	var fd int
	switch t.how {
	case metric.HowAppend:
		how := unix.OpenHow{Flags: unix.O_WRONLY | unix.O_APPEND | unix.O_CLOEXEC, Resolve: resolveInRoot}
		t0 := time.Now()
		fd, en = openat2(r.fd, t.ptr, &how)
		if en == 0 {
			_, en = write(fd, appendBuf)
			if c := closefd(fd); en == 0 {
				en = c
			}
		}
		return time.Since(t0), errno(en)
	case metric.HowRdwr:
		how := unix.OpenHow{Flags: unix.O_RDWR | unix.O_CLOEXEC, Resolve: resolveInRoot}
		t0 := time.Now()
		fd, en = openat2(r.fd, t.ptr, &how)
		if en == 0 {
			en = closefd(fd)
		}
		return time.Since(t0), errno(en)
	case metric.HowChmod:
		mode := uint32(chmodFirst)
		if nth > 1 {
			mode = chmodAgain
		}
		t0 := time.Now()
		en = fchmodat(r.fd, t.ptr, mode)
		return time.Since(t0), errno(en)
	case metric.HowTruncate:
		size := int64(t.size) / 2
		if nth > 1 {
			size = int64(t.size) / 4
		}
		how := unix.OpenHow{Flags: unix.O_WRONLY | unix.O_CLOEXEC, Resolve: resolveInRoot}
		t0 := time.Now()
		fd, en = openat2(r.fd, t.ptr, &how)
		if en == 0 {
			en = ftruncate(fd, size)
			if c := closefd(fd); en == 0 {
				en = c
			}
		}
		return time.Since(t0), errno(en)
	}
	return 0, fmt.Errorf("unknown how %q", t.how)
}

// applyModify records in the container's expected view what two modifications of t did.
func applyModify(ct *container, t modifyTarget) error {
	switch t.how {
	case metric.HowAppend:
		return ct.view.Appended(t.rel, []byte{appendByte, appendByte})
	case metric.HowChmod:
		return ct.view.Chmod(t.rel, chmodAgain)
	case metric.HowTruncate:
		return ct.view.Truncated(t.rel, int64(t.size)/4)
	}
	return nil
}

// hasOverlayUpper: the driver's container mounts are overlay mounts with an upperdir we can inspect.
func hasOverlayUpper(d *driverRun) bool {
	for _, cs := range d.ctrs {
		for _, ct := range cs {
			_, ok := upperDir(ct)
			return ok
		}
	}
	return false
}

// upperDir finds the container's upper directory in its mount options (overlay, fuse-overlayfs).
func upperDir(ct *container) (string, bool) {
	for _, m := range ct.mounts {
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// copiedUp reports whether rel is now in the container's overlay upper dir (a copy-up happened).
// For chmod under metacopy it reports whether the upper copy is metadata-only.
func copiedUp(ct *container, rel, how string) (bool, string) {
	up, ok := upperDir(ct)
	if !ok {
		return false, "no overlay upper dir"
	}
	full := filepath.Join(up, rel)
	if _, err := os.Lstat(full); err != nil {
		return false, err.Error()
	}
	if how == metric.HowChmod {
		if _, err := unix.Lgetxattr(full, "trusted.overlay.metacopy", nil); err == nil {
			return true, "metacopy"
		}
	}
	return true, "data"
}

// readAll reads a file to the end (to warm its page cache).
func readAll(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.Read(buf)
		if n == 0 || err != nil {
			return nil
		}
	}
}
