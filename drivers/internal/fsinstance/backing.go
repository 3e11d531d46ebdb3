package fsinstance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Open is how every file-system driver's Open runs: it opens the backing of spec (OpenBacking) and
// hands it, with the undo stack that closes it, to build, which makes the snapshotter and the
// instance. When either fails, everything pushed onto the stack is undone and the errors joined.
func Open(ctx context.Context, driver string, spec backing.Spec, build func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error)) (_ drivers.Instance, err error) {
	undo := &cleanup.Stack{}
	defer func() {
		if err != nil {
			err = errors.Join(err, undo.Unwind())
		}
	}()
	b, err := OpenBacking(ctx, undo, driver, spec)
	if err != nil {
		return nil, err
	}
	return build(undo, b)
}

// WorkDir makes an instance's work directory if it is missing, pushing its removal onto undo: for
// a driver with no backing of its own to make it (one at a user's socket).
func WorkDir(undo *cleanup.Stack, dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	undo.Push("remove "+dir, func() error { return os.Remove(dir) })
	return nil
}

// Spec is the backing a driver's Open asks for: filesystem fs, sized and placed as opts say.
func Spec(opts drivers.Options, fs string) backing.Spec {
	return backing.Spec{FS: fs, Size: opts.BackingSize, Dir: opts.WorkDir}
}

// OpenBacking is how every file-system driver's Open begins: it creates the dedicated backing
// described by spec (in a temporary work dir when spec.Dir is ""), pushing onto undo the closing of
// the backing and the removal of any directory it made.
func OpenBacking(ctx context.Context, undo *cleanup.Stack, driver string, spec backing.Spec) (*backing.Backing, error) {
	if spec.Dir == "" {
		dir, err := os.MkdirTemp("", "seedbench-"+driver+"-")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", driver, err)
		}
		undo.Push("remove "+dir, func() error { return os.Remove(dir) })
		spec.Dir = dir
	}
	b, err := backing.Create(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	undo.Push("close backing", b.Close)
	return b, nil
}

// BackingFS picks a driver's backing filesystem: the run's override, else the driver's own, else
// the family default.
func BackingFS(override, own, def string) string {
	switch {
	case override != "":
		return override
	case own != "":
		return own
	}
	return def
}

// VariantBacking is the backing a variant of a driver on own ("" = its family default) uses: the
// one the spec asks for, which must be a kind internal/backing makes, else own.
func VariantBacking(want, own string) (string, error) {
	if want == "" {
		return own, nil
	}
	if !slices.Contains(backing.Kinds, want) {
		return "", drivers.KeyError("backing", fmt.Errorf("unknown backing %q (known: %s)", want, strings.Join(backing.Kinds, ", ")))
	}
	return want, nil
}
