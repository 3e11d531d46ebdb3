package fsinstance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Base is the skeleton of a driver whose snapshotter lives on a backing of its own. A family's
// Driver embeds it and adds Info and Open (usually a call to Build); Base gives it Check (what it
// Needs, then its backing's tools) and Variant (the driver on another backing, by Remake). A family
// that probes more in Check, or whose variants take more than a backing, defines its own.
type Base struct {
	// Name is the driver's name; Family its family's, and the name of the snapshotter's directory
	// on the backing (Root).
	Name, Family string
	// Backing is the backing filesystem the driver was made with ("" = Default, the family's).
	Backing, Default string
	// Needs is what Check and Open require of the host and of an Open's options.
	Needs Needs
	// Remake makes the family's driver called name on backing: Variant's result (nil = the family
	// has a Variant of its own).
	Remake func(name, backing string) drivers.Driver
}

// BackingFS is the backing filesystem an Open with opts makes: opts.Backing, else b's, else the
// family's default.
func (b Base) BackingFS(opts drivers.Options) string {
	return BackingFS(opts.Backing, b.Backing, b.Default)
}

// Root is the snapshotter's directory on bk.
func (b Base) Root(bk *backing.Backing) string { return filepath.Join(bk.Path, b.Family) }

// Check reports whether the driver can run here: what it Needs, and its backing's tools.
func (b Base) Check(context.Context) error { return b.CheckOpen(drivers.Options{}) }

// CheckOpen is Check for an Open with opts: their mount options, what the driver Needs of the host,
// and the tools of the backing they ask for.
func (b Base) CheckOpen(opts drivers.Options) error {
	if err := b.Needs.check(b.Name, opts.MountOptions); err != nil {
		return err
	}
	if err := backing.Check(b.BackingFS(opts)); err != nil {
		return fmt.Errorf("%s: %w", b.Name, err)
	}
	return nil
}

// Build is a driver's Open: it checks opts and the host (CheckOpen), opens the backing opts ask for
// and has build make the snapshotter and the instance on it, as Open (the function) does.
func (b Base) Build(ctx context.Context, opts drivers.Options, build func(undo *cleanup.Stack, bk *backing.Backing) (drivers.Instance, error)) (drivers.Instance, error) {
	if err := b.CheckOpen(opts); err != nil {
		return nil, err
	}
	return Open(ctx, b.Name, Spec(opts, b.BackingFS(opts)), build)
}

// Variant makes the family's driver on spec's backing (or b's): it takes no mount options.
func (b Base) Variant(spec drivers.Spec) (drivers.Driver, error) {
	if err := drivers.NoChoices(drivers.Spec{MountOptions: spec.MountOptions}, b.Family, ""); err != nil {
		return nil, err
	}
	bk, err := VariantBacking(spec.Backing, b.Backing)
	if err != nil {
		return nil, err
	}
	return b.Remake(spec.Name, bk), nil
}

// Needs is what a driver requires, checked in the order of the fields; the first thing missing is
// the error. Mount options are the user's to change, so a bad one is a plain error; anything the
// host lacks is an error wrapping drivers.ErrUnsupported that names the fix.
type Needs struct {
	// MountOptions checks the mount options an Open is given (NoMountOptions for a family that
	// takes none; nil = any).
	MountOptions func(opts []string) error
	// Root says what the driver needs root for ("" = nothing).
	Root string
	// Files must exist (device nodes: /dev/fuse).
	Files []File
	// FS are the filesystems the kernel must mount.
	FS []KernelFS
	// Tools are the programs the driver, or the snapshotter, runs.
	Tools []Tool
}

// File is a file that must exist, with what to tell the user when it does not.
type File struct{ Path, Missing, Fix string }

// KernelFS is a filesystem the kernel must mount, with the fix when it cannot.
type KernelFS struct{ Name, Fix string }

// Tool is a program that must be installed.
type Tool struct {
	Name string
	// Package is the Debian package(s) installing it: the fix is "apt-get install " + Package.
	Package string
	// InPATH: it is run through PATH (by the snapshotter, or a helper it runs), so it is looked up
	// there alone; otherwise in the sbin directories too (backing.LookTool).
	InPATH bool
}

// NoMountOptions is Needs.MountOptions for a family that takes no mount options; why says so.
func NoMountOptions(why string) func(opts []string) error {
	return func(opts []string) error {
		if len(opts) > 0 {
			return fmt.Errorf("mount options %s: %s", strings.Join(opts, ","), why)
		}
		return nil
	}
}

func (n Needs) check(driver string, mountOptions []string) error {
	if n.MountOptions != nil {
		if err := n.MountOptions(mountOptions); err != nil {
			return fmt.Errorf("%s: %w", driver, err)
		}
	}
	if n.Root != "" && os.Geteuid() != 0 {
		return drivers.Unsupported(driver, n.Root, "run seedbench as root")
	}
	for _, f := range n.Files {
		if _, err := os.Stat(f.Path); err != nil {
			return drivers.Unsupported(driver, f.Missing, f.Fix)
		}
	}
	for _, fs := range n.FS {
		if ok, err := backing.KernelHasFS(fs.Name); err != nil {
			return fmt.Errorf("%s: %w", driver, err)
		} else if !ok {
			return drivers.Unsupported(driver, fs.Name+" is not in /proc/filesystems", fs.Fix)
		}
	}
	for _, t := range n.Tools {
		if t.InPATH {
			if _, err := exec.LookPath(t.Name); err != nil {
				return drivers.Unsupported(driver, t.Name+" not found in PATH", "apt-get install "+t.Package)
			}
		} else if _, err := backing.LookTool(t.Name); err != nil {
			return drivers.Unsupported(driver, t.Name+" not found", "apt-get install "+t.Package)
		}
	}
	return nil
}
