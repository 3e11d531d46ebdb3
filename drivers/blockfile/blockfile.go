// Package blockfile is containerd's blockfile snapshotter (plugins/snapshots/blockfile) on a backing
// filesystem of its own. Every snapshot is a file holding a whole filesystem image (ext4 here),
// mounted through a loop device:
//
//	blockfile          on ext4: Prepare copies the parent's whole image, every byte of it
//	blockfile-reflink  on xfs (reflink=1): Prepare's copy_file_range becomes a reflink clone
//
// The first snapshot starts as a copy of a scratch image: an empty ext4 the driver makes at Open,
// sized from the options (ScratchSize, or min(backing/8, 512MiB)), which bounds how much any image
// and its containers can hold. The snapshotter's Usage reports image sizes, not blocks used: the
// engine measures disk by statfs of the backing, which sees the truth either way.
package blockfile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/plugins/snapshots/blockfile"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/internal/fsinstance"
	"github.com/seedbench/seedbench/internal/backing"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Family is the driver family name; SnapshotterPackage the Go package it wraps.
const (
	Family             = "blockfile"
	SnapshotterPackage = "github.com/containerd/containerd/v2/plugins/snapshots/blockfile"
)

// DefaultBacking is ext4, where every Prepare is a full copy of the parent's image. ReflinkBacking is
// where blockfile-reflink stores its images: xfs with reflink=1, where copy_file_range clones.
const (
	DefaultBacking = backing.Ext4
	ReflinkBacking = backing.XFS
)

// ImageFS is the filesystem inside every snapshot image.
const ImageFS = "ext4"

// Scratch image sizing when the driver is not given one: an eighth of the backing, at most
// MaxAutoScratch, at least MinScratch.
const (
	MaxAutoScratch int64 = 512 << 20
	MinScratch     int64 = 16 << 20
)

// backingImages is how many full-size snapshot images a backing without reflinks has room for at
// once (containerd's suite stacks 128 layers; a build has dozens plus its containers and views): Open
// grows such a backing to that when the options ask for less, within the free space of the host
// filesystem under it. The backing image is sparse, so the room costs nothing until a snapshot fills
// it. A reflinking backing is opened at the size asked: its images share the scratch's blocks.
const backingImages = 160

// mountOptions are containerd's defaults for the snapshot mounts (the snapshotter adds rw or ro):
// a buffered loop device per mounted snapshot, released when it is unmounted (autoclear).
var mountOptions = []string{"loop"}

// Variants returns the registered blockfile drivers, in order.
func Variants() []drivers.Driver {
	return []drivers.Driver{
		New("blockfile", DefaultBacking, 0),
		New("blockfile-reflink", ReflinkBacking, 0),
	}
}

// Driver is the blockfile snapshotter on one kind of backing.
type Driver struct {
	fsinstance.Base
	scratchSize int64
}

// New returns a blockfile driver called name storing its images on a backing of kind backingFS
// ("" = DefaultBacking). scratchSize is the size of every snapshot image (0 = sized from the
// backing: min(backing/8, MaxAutoScratch)).
func New(name, backingFS string, scratchSize int64) drivers.Driver {
	return &Driver{scratchSize: scratchSize, Base: fsinstance.Base{
		Name: name, Family: Family, Backing: backingFS, Default: DefaultBacking,
		// Variants on xfs and btrfs reflink each image, on ext4 copy it.
		Remake: func(name, backingFS string) drivers.Driver { return New(name, backingFS, scratchSize) },
		// Root for loop devices and mounts; mkfs.ext4 and debugfs make the scratch image.
		Needs: fsinstance.Needs{
			MountOptions: fsinstance.NoMountOptions("the blockfile snapshotter mounts loop devices and takes none"),
			Root:         "loop devices and mounts need root",
			FS:           []fsinstance.KernelFS{{Name: ImageFS, Fix: "modprobe " + ImageFS + ", or use a kernel with CONFIG_EXT4_FS"}},
			Tools:        []fsinstance.Tool{{Name: "mkfs.ext4", Package: "e2fsprogs"}, {Name: "debugfs", Package: "e2fsprogs"}},
		},
	}}
}

// reflinks reports whether copy_file_range shares extents on fs instead of copying them.
func reflinks(fs string) bool { return fs == backing.Btrfs || fs == backing.XFS }

// ScratchSize is the size of every snapshot image for a backing of backingSize bytes.
//
// Without a fixed size, the image must hold the scenario's largest container (imageSize: its image
// and what the workload adds in place), with a quarter more for ext4's per-file blocks and
// directories, plus what mkfs.ext4 reserves at that size (scratchOverhead). Every Prepare copies the
// whole image on a backing without reflinks, so it is no larger than that. Unknown (0), it is an
// eighth of the backing, at most MaxAutoScratch.
func (d *Driver) ScratchSize(backingSize, imageSize int64) int64 {
	if d.scratchSize > 0 {
		return d.scratchSize
	}
	if backingSize <= 0 {
		backingSize = backing.DefaultSize
	}
	s := min(backingSize/8, MaxAutoScratch)
	if imageSize > 0 {
		data := imageSize + imageSize/4
		s = data + scratchOverhead(data) + 1<<20 // the extra MiB survives rounding down
	}
	return max(s, MinScratch) &^ (1<<20 - 1) // whole MiB
}

// scratchOverhead is what makeScratch's ext4 takes from an image for data bytes: inode tables (256
// bytes per 4 KiB, written out, with the bitmaps and group descriptors: 1/12 of the data), and
// mke2fs's default journal for 4 KiB blocks, which it picks from the whole image's size (4 MiB below
// 128 MiB, 16 MiB below 1 GiB, 32 MiB below 2 GiB, 64 MiB beyond), plus 4 MiB of slack.
func scratchOverhead(data int64) int64 {
	fixed := data/12 + 4<<20
	for _, j := range []struct{ below, journal int64 }{{128 << 20, 4 << 20}, {1 << 30, 16 << 20}, {2 << 30, 32 << 20}} {
		if data+fixed+j.journal+1<<20 < j.below {
			return fixed + j.journal
		}
	}
	return fixed + 64<<20
}

// Info describes the driver.
func (d *Driver) Info() drivers.Info {
	fs := d.BackingFS(drivers.Options{})
	copyMode, copyKind := "Prepare copies the parent's whole image", "full"
	if reflinks(fs) {
		copyMode, copyKind = "Prepare reflinks the parent's image (copy_file_range on "+fs+")", "reflink"
	}
	scratch := "auto: the largest container (image and files the workload creates) + 25% + ext4 metadata and journal"
	if d.scratchSize > 0 {
		scratch = mib(d.scratchSize)
	}
	return drivers.Info{
		Name:        d.Name,
		Family:      Family,
		Description: "containerd blockfile snapshotter: an " + ImageFS + " image file per snapshot, loop-mounted; " + copyMode,
		Snapshotter: SnapshotterPackage,
		Version:     drivers.ContainerdVersion(),
		Backing:     fs,
		Options: map[string]string{
			"scratch_size":  scratch,
			"image_fs":      ImageFS,
			"copy":          copyKind,
			"mount_options": strings.Join(mountOptions, ","),
		},
		// Each container mounts its own ext4 image: its files' pages are cached in that mount, and
		// the image file's in the backing (the loop device reads it through the page cache).
		Capabilities: drivers.Capabilities{Block: true, FullCopy: !reflinks(fs), PerMountCache: true},
	}
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + "MiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Open makes the backing, an empty ext4 scratch image on it, and the snapshotter.
func (d *Driver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	if err := d.CheckOpen(opts); err != nil {
		return nil, err
	}
	fs := d.BackingFS(opts)
	scratchSize := d.ScratchSize(opts.BackingSize, opts.ImageSize)
	spec := fsinstance.Spec(opts, fs)
	if spec.Size <= 0 {
		spec.Size = backing.DefaultSize
	}
	if !reflinks(fs) {
		// Every snapshot is a whole scratch-sized image: without reflinks a backing sized for the
		// scenario's data holds only a handful of them.
		room := backingImages * scratchSize
		hostDir := opts.WorkDir
		if hostDir == "" {
			hostDir = os.TempDir() // where OpenBacking makes the work dir
		}
		if free, err := freeBytes(hostDir); err == nil && room > free/10*9 {
			// A sparse image larger than the host can hold turns ENOSPC into I/O errors.
			room = free / 10 * 9
		}
		spec.Size = max(spec.Size, room)
	}
	return fsinstance.Open(ctx, d.Name, spec, func(undo *cleanup.Stack, b *backing.Backing) (drivers.Instance, error) {
		// The scratch is made on the backing, so the snapshotter's copy of it (root/scratch) is a
		// reflink where the backing can. It is kept: removing it makes xfs free blocks in the
		// background, after the engine's baseline statfs, and disk.used would come out negative.
		src := filepath.Join(b.Path, "scratch-"+ImageFS+".img")
		if err := makeScratch(ctx, src, scratchSize); err != nil {
			return nil, fmt.Errorf("%s: scratch image: %w", d.Name, err)
		}
		sn, err := blockfile.NewSnapshotter(d.Root(b),
			blockfile.WithScratchFile(src),
			blockfile.WithFSType(ImageFS),
			blockfile.WithMountOptions(mountOptions),
		)
		if err != nil {
			return nil, fmt.Errorf("%s: new snapshotter: %w", d.Name, err)
		}
		return fsinstance.New(fsinstance.Config{Driver: d.Name, Snapshotter: sn, Backing: b, Undo: undo}), nil
	})
}

// makeScratch writes an empty, sparse ext4 image of size bytes at path. Inode tables and journal are
// initialised now, not by a kernel thread in every snapshot's mount; 4 KiB blocks even when small
// (mke2fs picks 1 KiB below 512 MiB) and one inode per 4 KiB: every file and directory takes at
// least a block of the image's size as ScratchSize counts it, so an image sized for a tree of tiny
// files does not run out of inodes first. lost+found is removed: a snapshot starts empty, as every
// other snapshotter's does.
func makeScratch(ctx context.Context, path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := run(ctx, "mkfs.ext4", "-q", "-F", "-b", "4096", "-i", "4096", "-m", "0",
		"-E", "lazy_itable_init=0,lazy_journal_init=0", path); err != nil {
		return err
	}
	return run(ctx, "debugfs", "-w", "-R", "rmdir lost+found", path)
}

// freeBytes is the space available to root on the filesystem holding dir.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bfree) * st.Bsize, nil
}

func run(ctx context.Context, args ...string) error {
	path, err := backing.LookTool(args[0])
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
