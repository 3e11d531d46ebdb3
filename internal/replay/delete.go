package replay

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/scenario"
)

// dirTargets are lower entries of one directory, opened for timed *at syscalls.
type dirTargets struct {
	dirfd int
	names []*byte
	rels  []string
}

func (e *engine) openTargets(ct *container, rels []string) (*dirTargets, error) {
	if len(rels) == 0 {
		return nil, nil
	}
	dir := path.Dir(rels[0])
	fd, err := ct.root.open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	t := &dirTargets{dirfd: fd, rels: rels}
	for _, r := range rels {
		if path.Dir(r) != dir {
			unix.Close(fd)
			return nil, fmt.Errorf("targets %s and %s are in different directories", rels[0], r)
		}
		t.names = append(t.names, mustPtr(path.Base(r)))
	}
	return t, nil
}

// targetRounds opens rels (lower entries of one directory) in the first container of img on every
// active driver, runs one round per entry (round i handles rels[i]) and closes them again.
func (e *engine) targetRounds(ctx context.Context, img, phase string, rels []string, fn func(d *driverRun, t *dirTargets, i int) error, floorFn func(int) error) error {
	tg := map[*driverRun]*dirTargets{}
	defer func() {
		for _, t := range tg {
			if t != nil {
				unix.Close(t.dirfd)
			}
		}
	}()
	err := e.each(ctx, func(d *driverRun) error {
		ct, err := d.first(img)
		if err != nil {
			return err
		}
		t, err := e.openTargets(ct, rels)
		tg[d] = t
		return err
	})
	if err != nil {
		return err
	}
	return e.rounds(ctx, phase, len(rels), func(d *driverRun, i int) error { return fn(d, tg[d], i) }, floorFn)
}

// opDelete times unlink (kind=file) or rmdir (kind=dir) of lower entries in the first container of
// each image: the snapshotter hides them with a whiteout (overlay) or removes its copy (native).
func (e *engine) opDelete(ctx context.Context, op *scenario.PlanOp) error {
	for _, img := range op.Images {
		for _, kind := range op.Kinds {
			rels, flags := op.DeleteFiles, 0
			if kind == metric.DeleteDir {
				rels, flags = op.DeleteDirs, unix.AT_REMOVEDIR
			}
			if len(rels) == 0 {
				continue
			}
			params := p(metric.PKind, kind, metric.PImage, img)
			var floorFn func(int) error
			if e.floor != nil {
				entries, err := e.floorEntries("del-", len(rels), kind == metric.DeleteDir)
				if err != nil {
					e.floorFail("delete", err)
				}
				floorFn = func(i int) error { return e.floorRemove(entries[i], kind == metric.DeleteDir) }
			}
			err := e.targetRounds(ctx, img, "delete "+kind, rels, func(d *driverRun, t *dirTargets, i int) error {
				t0 := time.Now()
				en := unlinkat(t.dirfd, t.names[i], flags)
				el := time.Since(t0)
				if en != 0 {
					return fmt.Errorf("delete %s: %w", t.rels[i], en)
				}
				e.rec.ns(d.info.Name, metric.OpDelete, params, el)
				ct, _ := d.first(img)
				return ct.view.Removed(t.rels[i])
			}, floorFn)
			if err != nil {
				return err
			}
			for _, d := range e.active() {
				e.checkWhiteout(d, img, rels[0], kind)
			}
		}
	}
	return nil
}

// checkWhiteout records that a deleted lower entry is gone from the container, still present in the
// image (seen through another container), and — on overlay — hidden by a whiteout.
func (e *engine) checkWhiteout(d *driverRun, img, rel, kind string) {
	cs := d.ctrs[img]
	what := fmt.Sprintf("delete %s: %s hidden in container, kept in image", kind, rel)
	if _, err := os.Lstat(filepath.Join(cs[0].mnt, rel)); err == nil {
		d.check(what, false, "still visible in the container that deleted it")
		return
	}
	if len(cs) > 1 {
		if _, err := os.Lstat(filepath.Join(cs[1].mnt, rel)); err != nil {
			d.check(what, false, "gone from a sibling container too: the image layer was changed")
			return
		}
	}
	detail := "no overlay upper dir to inspect"
	if up, ok := upperDir(cs[0]); ok {
		var st unix.Stat_t
		err := unix.Lstat(filepath.Join(up, rel), &st)
		isWhiteout := err == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
		if !isWhiteout {
			d.check(what, false, "no 0:0 character-device whiteout in the upper dir")
			return
		}
		detail = "whiteout (char 0:0) in upper dir"
	}
	d.check(what, true, detail)
}

// opRename times rename of lower directories. Overlay without redirect_dir refuses with EXDEV (the
// caller is expected to copy); that outcome is recorded, not treated as a failure.
func (e *engine) opRename(ctx context.Context, op *scenario.PlanOp) error {
	for _, img := range op.Images {
		rels := op.RenameDirs
		if len(rels) == 0 {
			continue
		}
		to := make([]*byte, len(rels))
		for i, r := range rels {
			to[i] = mustPtr(path.Base(r) + ".renamed")
		}
		var floorFn func(int) error
		if e.floor != nil {
			entries, err := e.floorEntries("ren-", len(rels), true)
			if err != nil {
				e.floorFail("rename", err)
			}
			floorFn = func(i int) error { return e.floorRename(entries[i]) }
		}
		err := e.targetRounds(ctx, img, "rename", rels, func(d *driverRun, t *dirTargets, i int) error {
			t0 := time.Now()
			en := renameat(t.dirfd, t.names[i], to[i])
			el := time.Since(t0)
			outcome := metric.RenameOK
			switch en {
			case 0:
				ct, _ := d.first(img)
				if err := ct.view.Renamed(t.rels[i], t.rels[i]+".renamed"); err != nil {
					return err
				}
			case unix.EXDEV:
				outcome = metric.RenameEXDEV
			default:
				return fmt.Errorf("rename %s: %w", t.rels[i], en)
			}
			e.rec.ns(d.info.Name, metric.OpRename, p(metric.PImage, img, metric.PResult, outcome), el)
			return nil
		}, floorFn)
		if err != nil {
			return err
		}
	}
	return nil
}
