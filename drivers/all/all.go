// Package all builds the registry of every driver seedbench ships, explicitly (no init() magic),
// and makes the variants a scenario declares on top of them:
//
//	drivers: [overlayfs, native, {name: overlay-nometa, driver: overlayfs, mount_options: [metacopy=off]}]
//
// A new driver family adds one line to Registry and one case to New.
package all

import (
	"fmt"
	"slices"
	"strings"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/native"
	"github.com/seedbench/seedbench/drivers/overlayfs"
	"github.com/seedbench/seedbench/internal/backing"
)

// Registry returns every built-in driver, in the order reports list them.
func Registry() *drivers.Registry {
	r, _ := drivers.NewRegistry()
	for _, d := range []drivers.Driver{
		overlayfs.New("overlayfs", nil, ""),
		overlayfs.New("overlayfs-metacopy", overlayfs.MetacopyOptions, ""),
		overlayfs.New("overlayfs-volatile", overlayfs.VolatileOptions, ""),
		overlayfs.New("overlayfs-index", overlayfs.IndexOptions, ""),
		native.New("native", ""),
	} {
		// The names above are distinct constants (TestRegistry checks), so Add cannot fail.
		_ = r.Add(d)
	}
	return r
}

// Spec is a driver variant as a scenario declares it.
type Spec struct {
	// Name of the variant, as results and reports show it.
	Name string
	// Driver is the built-in driver it is based on ("" = Name).
	Driver string
	// MountOptions are added to the base driver's (overlay drivers only).
	MountOptions []string
	// Backing overrides the base driver's backing filesystem (ext4, xfs, btrfs, tmpfs, dir).
	Backing string
}

// overlayBases are the overlay drivers a variant can start from, with their mount options.
var overlayBases = map[string][]string{
	"overlayfs":          nil,
	"overlayfs-metacopy": overlayfs.MetacopyOptions,
	"overlayfs-volatile": overlayfs.VolatileOptions,
	"overlayfs-index":    overlayfs.IndexOptions,
}

// New makes the driver spec describes. An unknown base, an unknown backing, or mount options the base
// cannot take are errors. Whether the host can run it is the driver's Check.
func New(spec Spec) (drivers.Driver, error) {
	if spec.Name == "" {
		return nil, fmt.Errorf("driver variant: no name")
	}
	base := spec.Driver
	if base == "" {
		base = spec.Name
	}
	if spec.Backing != "" && !slices.Contains(backing.Kinds, spec.Backing) {
		return nil, fmt.Errorf("driver %s: unknown backing %q (known: %s)", spec.Name, spec.Backing, strings.Join(backing.Kinds, ", "))
	}
	if opts, ok := overlayBases[base]; ok {
		all := append(slices.Clone(opts), spec.MountOptions...)
		if err := overlayfs.ValidateOptions(all); err != nil {
			return nil, fmt.Errorf("driver %s: %w", spec.Name, err)
		}
		return overlayfs.New(spec.Name, all, spec.Backing), nil
	}
	switch base {
	case "native":
		if len(spec.MountOptions) > 0 {
			return nil, fmt.Errorf("driver %s: base driver native takes no mount options (got %s)", spec.Name, strings.Join(spec.MountOptions, ","))
		}
		return native.New(spec.Name, spec.Backing), nil
	}
	return nil, fmt.Errorf("driver %s: unknown base driver %q (known: %s)", spec.Name, base, strings.Join(Registry().Names(), ", "))
}
