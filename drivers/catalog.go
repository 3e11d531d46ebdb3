package drivers

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/seedbench/seedbench/internal/spell"
)

// Catalog is an explicit, ordered set of drivers (built in drivers/all; no init() magic).
type Catalog struct {
	order  []string
	byName map[string]Driver
}

// NewCatalog returns a catalogue holding ds in the given order. Names must be unique.
func NewCatalog(ds ...Driver) (*Catalog, error) {
	r := &Catalog{byName: map[string]Driver{}}
	for _, d := range ds {
		if err := r.Add(d); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add appends d; a duplicate name is an error.
func (r *Catalog) Add(d Driver) error {
	name := d.Info().Name
	if _, dup := r.byName[name]; dup {
		return fmt.Errorf("drivers: duplicate driver name %q", name)
	}
	r.order = append(r.order, name)
	r.byName[name] = d
	return nil
}

// All returns every driver in registration order.
func (r *Catalog) All() []Driver {
	out := make([]Driver, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.byName[n])
	}
	return out
}

// Names lists the registered names in order.
func (r *Catalog) Names() []string { return append([]string(nil), r.order...) }

// Get returns the driver called name.
func (r *Catalog) Get(name string) (Driver, bool) {
	d, ok := r.byName[name]
	return d, ok
}

// Select resolves a list of names; an unknown name is an error listing the known ones.
func (r *Catalog) Select(names []string) ([]Driver, error) {
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

// Variant makes the driver a scenario's spec describes: a registered driver when the spec only names
// one, else a variant its base driver's family makes (Variants), with its backing size fixed when
// the spec gives one. Errors say what is wrong and how to fix it; they do not name the spec (the
// caller adds where it stands).
func (r *Catalog) Variant(spec Spec) (Driver, error) {
	if spec.Name == "" {
		return nil, errors.New("a driver needs a name")
	}
	baseName := spec.Driver
	if baseName == "" {
		baseName = spec.Name
	}
	base, ok := r.byName[baseName]
	if !ok {
		key := "driver"
		if spec.Driver == "" {
			key = "name"
		}
		return nil, KeyError(key, fmt.Errorf("unknown driver %q%s (known: %s)", baseName, spell.Suggest(baseName, r.order), strings.Join(r.order, ", ")))
	}
	if spec.Plain() {
		return base, nil
	}
	if _, taken := r.byName[spec.Name]; taken {
		return nil, KeyError("name", fmt.Errorf("%q is already a driver: give the variant a name of its own, with driver: %s", spec.Name, baseName))
	}
	if spec.BackingSize < 0 {
		return nil, KeyError("backing_size", fmt.Errorf("negative backing size %d", spec.BackingSize))
	}
	if spec.Socket != "" {
		if _, ok := base.(SocketDriver); !ok {
			return nil, KeyError("socket", fmt.Errorf("driver %s runs its snapshotter in seedbench's own process and takes no socket: remove socket, or use driver: proxy (a snapshotter's gRPC socket) or a containerd-… driver (a containerd daemon's socket)", baseName))
		}
	}
	v, ok := base.(Variants)
	if !ok {
		return nil, KeyError("driver", fmt.Errorf("driver %s has no variants: name it alone", baseName))
	}
	inner := spec
	inner.BackingSize = 0
	d, err := v.Variant(inner)
	if err != nil {
		return nil, err
	}
	if spec.BackingSize > 0 {
		d = WithBackingSize(d, spec.BackingSize)
	}
	return d, nil
}

// Resolve adds the variants specs describe to r (specs that only name a registered driver add
// nothing) and returns the drivers specs name, in order.
func (r *Catalog) Resolve(specs []Spec) ([]Driver, error) {
	var out []Driver
	for _, s := range specs {
		d, err := r.Variant(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		if !s.Plain() {
			if err := r.Add(d); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// Reapers returns the registered drivers that reap processes a killed run left (Reaper).
func (r *Catalog) Reapers() []Reaper {
	var out []Reaper
	for _, n := range r.order {
		if rp, ok := r.byName[n].(Reaper); ok {
			out = append(out, rp)
		}
	}
	return out
}
