package drivers

import (
	"context"
	"maps"

	"github.com/seedbench/seedbench/internal/units"
)

// WithBackingSize returns d with its backing fixed at size bytes: Info reports it (BackingSize, and
// the "backing_size" option results record), and Open uses it whatever size the caller asks for.
// Scenarios use it to measure a driver on a small disk, or running out of space.
func WithBackingSize(d Driver, size int64) Driver { return sized{d, size} }

type sized struct {
	Driver
	size int64
}

func (s sized) Info() Info {
	info := s.Driver.Info()
	info.BackingSize = s.size
	info.Options = maps.Clone(info.Options)
	if info.Options == nil {
		info.Options = map[string]string{}
	}
	info.Options["backing_size"] = units.Size(s.size).String()
	return info
}

func (s sized) Open(ctx context.Context, opts Options) (Instance, error) {
	opts.BackingSize = s.size
	return s.Driver.Open(ctx, opts)
}
