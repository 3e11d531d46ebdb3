package drivers

import (
	"fmt"
	"sort"
	"strings"
)

// Registry is an explicit, ordered set of drivers (built in drivers/all; no init() magic).
type Registry struct {
	order  []string
	byName map[string]Driver
}

// NewRegistry returns a registry holding ds in the given order. Names must be unique.
func NewRegistry(ds ...Driver) (*Registry, error) {
	r := &Registry{byName: map[string]Driver{}}
	for _, d := range ds {
		if err := r.Add(d); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add appends d; a duplicate name is an error.
func (r *Registry) Add(d Driver) error {
	name := d.Info().Name
	if _, dup := r.byName[name]; dup {
		return fmt.Errorf("drivers: duplicate driver name %q", name)
	}
	r.order = append(r.order, name)
	r.byName[name] = d
	return nil
}

// All returns every driver in registration order.
func (r *Registry) All() []Driver {
	out := make([]Driver, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.byName[n])
	}
	return out
}

// Names lists the registered names in order.
func (r *Registry) Names() []string { return append([]string(nil), r.order...) }

// Get returns the driver called name.
func (r *Registry) Get(name string) (Driver, bool) {
	d, ok := r.byName[name]
	return d, ok
}

// Select resolves a list of names; an unknown name is an error listing the known ones.
func (r *Registry) Select(names []string) ([]Driver, error) {
	var out []Driver
	var unknown []string
	for _, n := range names {
		d, ok := r.byName[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		out = append(out, d)
	}
	if len(unknown) > 0 {
		known := append([]string(nil), r.order...)
		sort.Strings(known)
		return nil, fmt.Errorf("unknown driver %s (known: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return out, nil
}
