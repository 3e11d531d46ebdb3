package fsinstance

import (
	"context"
	"fmt"
	"os"

	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

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
