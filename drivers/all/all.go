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
	"github.com/seedbench/seedbench/drivers/blockfile"
	"github.com/seedbench/seedbench/drivers/btrfs"
	"github.com/seedbench/seedbench/drivers/devmapper"
	"github.com/seedbench/seedbench/drivers/erofs"
	"github.com/seedbench/seedbench/drivers/fuseoverlayfs"
	"github.com/seedbench/seedbench/drivers/native"
	"github.com/seedbench/seedbench/drivers/overlayfs"
	"github.com/seedbench/seedbench/drivers/zfs"
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
		overlayfs.New("overlayfs-xfs", nil, backing.XFS),
		overlayfs.New("overlayfs-btrfs", nil, backing.Btrfs),
		native.New("native", ""),
		native.New("native-xfs", backing.XFS),
		native.New("native-btrfs", backing.Btrfs),
		btrfs.New("btrfs"),
		blockfile.New("blockfile", blockfile.DefaultBacking, 0),
		blockfile.New("blockfile-reflink", blockfile.ReflinkBacking, 0),
		fuseoverlayfs.New("fuse-overlayfs", ""),
		erofs.New("erofs", ""),
		devmapper.New("devmapper"), // unavailable drivers last: listed with the reason and the fix
		zfs.New("zfs"),
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
	// BackingSize fixes the backing's size in bytes (0 = sized from the scenario by the engine).
	BackingSize int64
}

// overlayBases are the overlay drivers a variant can start from, with their mount options.
var overlayBases = map[string][]string{
	"overlayfs":          nil,
	"overlayfs-metacopy": overlayfs.MetacopyOptions,
	"overlayfs-volatile": overlayfs.VolatileOptions,
	"overlayfs-index":    overlayfs.IndexOptions,
}

// backingVariants are registered drivers that are a base driver on another backing; a variant of
// one keeps that backing unless it names its own.
var backingVariants = map[string]struct{ base, backing string }{
	"overlayfs-xfs":     {"overlayfs", backing.XFS},
	"overlayfs-btrfs":   {"overlayfs", backing.Btrfs},
	"native-xfs":        {"native", backing.XFS},
	"native-btrfs":      {"native", backing.Btrfs},
	"blockfile-reflink": {"blockfile", blockfile.ReflinkBacking},
}

// New makes the driver spec describes. An unknown base, an unknown backing, or mount options the base
// cannot take are errors. Whether the host can run it is the driver's Check.
func New(spec Spec) (drivers.Driver, error) {
	if spec.BackingSize != 0 {
		if spec.BackingSize < 0 {
			return nil, fmt.Errorf("driver %s: negative backing size %d", spec.Name, spec.BackingSize)
		}
		inner := spec
		inner.BackingSize = 0
		d, err := New(inner)
		if err != nil {
			return nil, err
		}
		return drivers.WithBackingSize(d, spec.BackingSize), nil
	}
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
	if v, ok := backingVariants[base]; ok {
		base = v.base
		if spec.Backing == "" {
			spec.Backing = v.backing
		}
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
	case "btrfs":
		if err := noChoices(spec, base, backing.Btrfs); err != nil {
			return nil, err
		}
		return btrfs.New(spec.Name), nil
	case "blockfile":
		if err := noChoices(spec, base, spec.Backing); err != nil { // any backing: ext4 copies, xfs and btrfs reflink
			return nil, err
		}
		return blockfile.New(spec.Name, spec.Backing, 0), nil
	case "devmapper", "zfs":
		if err := noChoices(spec, base, ""); err != nil {
			return nil, err
		}
		if base == "zfs" {
			return zfs.New(spec.Name), nil
		}
		return devmapper.New(spec.Name), nil
	}
	return nil, fmt.Errorf("driver %s: unknown base driver %q (known: %s)", spec.Name, base, strings.Join(Registry().Names(), ", "))
}

// noChoices rejects mount options, and a backing other than the one base can use ("" = none: it
// brings its own storage).
func noChoices(spec Spec, base, backingFS string) error {
	if len(spec.MountOptions) > 0 {
		return fmt.Errorf("driver %s: base driver %s takes no mount options (got %s)", spec.Name, base, strings.Join(spec.MountOptions, ","))
	}
	if spec.Backing != "" && spec.Backing != backingFS {
		if backingFS == "" {
			return fmt.Errorf("driver %s: base driver %s has no backing filesystem to choose (got %s)", spec.Name, base, spec.Backing)
		}
		return fmt.Errorf("driver %s: base driver %s needs a %s backing (got %s)", spec.Name, base, backingFS, spec.Backing)
	}
	return nil
}
