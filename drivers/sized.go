package drivers

import (
	"context"
	"maps"
	"strconv"
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
	info.Options["backing_size"] = iec(s.size)
	return info
}

func (s sized) Open(ctx context.Context, opts Options) (Instance, error) {
	opts.BackingSize = s.size
	return s.Driver.Open(ctx, opts)
}

// iec prints n in the largest IEC unit that divides it exactly (32MiB, 1536KiB, 100B).
func iec(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
