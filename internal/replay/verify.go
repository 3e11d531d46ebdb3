package replay

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/metric"
)

// verify compares the tree mounted at dir with the expected view and records a check. A driver whose
// view is wrong fails: it is reported as failed, not fast.
func (e *engine) verify(ctx context.Context, d *driverRun, what, dir string, v *layer.View) error {
	return e.verifyWith(ctx, d, what, dir, v, layer.VerifyOptions{})
}

// verifyWith is verify with options (a sample of the headers).
func (e *engine) verifyWith(ctx context.Context, d *driverRun, what, dir string, v *layer.View, opt layer.VerifyOptions) error {
	probs, err := layer.Verify(ctx, dir, v, opt)
	if err != nil {
		d.check(what, false, err.Error())
		return fmt.Errorf("verify %s: %w", what, err)
	}
	if len(probs) > 0 {
		var b strings.Builder
		for i, pr := range probs {
			if i == 5 {
				fmt.Fprintf(&b, "; … %d more", len(probs)-5)
				break
			}
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(pr.String())
		}
		d.check(what, false, b.String())
		return fmt.Errorf("verify %s: %d problems: %s", what, len(probs), b.String())
	}
	d.check(what, true, "")
	return nil
}

// containerHeaderShare is the share of unchanged files whose identity is read in an image's second
// and later containers.
const containerHeaderShare = 1.0 / 8

// verifyContainers checks every container's merged view after the workload: the topmost version of
// each shadowed file, whiteouts and opaque dirs hiding lower entries, created, deleted, renamed and
// modified files as the workload left them.
func (e *engine) verifyContainers(ctx context.Context) error {
	return e.eachAtOnce(ctx, e.active(), func(d *driverRun) error {
		e.progress(d.info.Name, "verify", "merged views", 0, 1)
		for _, img := range e.plan.Images {
			for i, ct := range d.ctrs[img.Name] {
				// The first container of an image: every file's identity read; the others, whose
				// lower content is the same snapshots', every name, kind, size, mode and link, every
				// file the workload changed, and a stable eighth of the other files' identities.
				opt := layer.VerifyOptions{}
				if i > 0 {
					opt.HeaderShare = containerHeaderShare
				}
				if err := e.verifyWith(ctx, d, "merged view of "+ct.key, ct.mnt, ct.view, opt); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// teardown removes every container and layer, timing the removals.
func (e *engine) teardown(ctx context.Context) error {
	return e.each(ctx, func(d *driverRun) error {
		e.progress(d.info.Name, "teardown", "", 0, 1)
		for _, img := range e.plan.Images {
			for _, ct := range d.ctrs[img.Name] {
				if err := e.removeContainer(ctx, d, ct, p(metric.PContainer, img.Name)); err != nil {
					return err
				}
			}
			d.ctrs[img.Name] = nil
		}
		for i := len(d.snapKeys) - 1; i >= 0; i-- {
			k := d.snapKeys[i]
			t0 := time.Now()
			err := d.sn.Remove(ctx, k)
			el := time.Since(t0)
			if err != nil {
				return fmt.Errorf("remove %s: %w", k, err)
			}
			e.rec.ns(d.info.Name, metric.SnapshotRemove, p(metric.PLayer, strings.TrimPrefix(k, "layer/")), el)
		}
		d.snapKeys = nil
		return nil
	})
}
