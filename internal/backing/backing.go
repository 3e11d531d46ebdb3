// Package backing makes the filesystems drivers store their snapshots on.
//
// A dedicated backing is a loop-mounted image of its own (ext4, xfs, btrfs) or a tmpfs, so that a
// statfs delta on it, taken after a sync, is one driver's disk use alone:
//
//	b, err := backing.Create(ctx, backing.Spec{FS: "ext4", Size: 2 << 30, Dir: workDir})
//	defer b.Close()
//	backing.Sync(b.Path)
//	bytes, inodes, err := backing.Used(b.Path)
//
// The loop device is attached with direct I/O where the kernel allows it: the image's pages are then
// not cached a second time in the host page cache, so page-cache measurements see the backing
// filesystem's cache only. Whether it was granted is recorded in Backing.DirectIO.
//
// "dir" is the non-dedicated fallback: a plain directory on whatever filesystem holds Dir.
package backing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/cleanup"
)

// Filesystem kinds Create accepts.
const (
	Ext4  = "ext4"
	XFS   = "xfs"
	Btrfs = "btrfs"
	Tmpfs = "tmpfs"
	Dir   = "dir"
)

// Kinds lists every filesystem kind Create accepts.
var Kinds = []string{Ext4, XFS, Btrfs, Tmpfs, Dir}

// DefaultSize is the backing size when Spec.Size is 0. Images are sparse: an unused byte costs nothing.
const DefaultSize int64 = 2 << 30

// ext4BytesPerInode gives ~128k inodes per GiB: room for the ~100k small files per GiB a generated
// image layer holds, plus the directories, whiteouts and work dirs a snapshotter adds.
const ext4BytesPerInode = 8192

// ImageName is the file name of a backing image inside Spec.Dir (recognisable by `seedbench cleanup`).
const ImageName = "seedbench-backing.img"

// Spec says which backing to make.
type Spec struct {
	// FS is one of Kinds ("" = ext4).
	FS string
	// Size in bytes of the image or tmpfs (0 = DefaultSize). Ignored for "dir".
	Size int64
	// Dir holds the image and the mount point (Dir/mnt). It is created if missing, and then removed
	// again by Close; an existing Dir is left in place.
	Dir string
}

// Backing is a created backing filesystem. Close undoes everything Create did.
type Backing struct {
	FS           string // ext4, xfs, btrfs, tmpfs, or the host filesystem's type for "dir"
	Kind         string // the Spec.FS it was made from
	Path         string // the mount point (or directory): snapshots live under it, statfs measures it
	Device       string // /dev/loopN, "" for tmpfs and dir
	Image        string // the image file, "" for tmpfs and dir
	MountOptions string // as the kernel reports them in /proc/self/mountinfo
	Size         int64
	// Dedicated: nothing else writes to this filesystem, so a statfs delta is one driver's use alone.
	Dedicated bool
	// DirectIO: the loop device does direct I/O on the image (no double caching in the host).
	DirectIO bool
	// WriteCache is the loop device's queue mode as sysfs reads it once attached: "write back"
	// (its filesystem's flushes reach the image file, as on a disk with a volatile cache) or
	// "write through" (flushes are dropped). Create asks for "write back".
	WriteCache string

	undo   cleanup.Stack
	closed bool
}

// Info is the backing as drivers and results describe it.
func (b *Backing) Info() drivers.Backing {
	return drivers.Backing{FS: b.FS, MountOptions: b.MountOptions, Device: b.Device, Path: b.Path, Dedicated: b.Dedicated,
		DirectIO: b.DirectIO, WriteCache: b.WriteCache}
}

// Create makes the backing described by spec. On error everything it made is undone.
func Create(ctx context.Context, spec Spec) (_ *Backing, err error) {
	if spec.FS == "" {
		spec.FS = Ext4
	}
	if spec.Size == 0 {
		spec.Size = DefaultSize
	}
	if spec.Dir == "" {
		return nil, errors.New("backing: no directory given")
	}
	if err := Check(spec.FS); err != nil {
		return nil, err
	}
	if spec.Size < 0 {
		return nil, fmt.Errorf("backing %s: negative size %d", spec.FS, spec.Size)
	}
	b := &Backing{FS: spec.FS, Kind: spec.FS, Size: spec.Size, Dedicated: spec.FS != Dir}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("backing %s in %s: %w", spec.FS, spec.Dir, err), b.undo.Unwind())
		}
	}()

	dir, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, err
	}
	if err := mkdirOwned(&b.undo, dir); err != nil {
		return nil, err
	}
	// The kernel reports resolved paths (mountinfo, loop backing_file): use the same.
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, err
	}
	b.Path = filepath.Join(dir, "mnt")
	if err := mkdirOwned(&b.undo, b.Path); err != nil {
		return nil, err
	}
	switch spec.FS {
	case Dir:
		// Not a mount: push a step that empties it, since snapshots may be left inside.
		b.undo.Push("remove contents of "+b.Path, func() error { return removeContents(b.Path) })
	case Tmpfs:
		if err := b.mount(ctx, "tmpfs", "tmpfs", "size="+strconv.FormatInt(spec.Size, 10)+",mode=0755"); err != nil {
			return nil, err
		}
	default:
		if err := b.makeImage(ctx, dir, spec); err != nil {
			return nil, err
		}
		if err := b.mount(ctx, b.Device, spec.FS, ""); err != nil {
			return nil, err
		}
	}
	if err := b.describe(); err != nil {
		return nil, err
	}
	return b, nil
}

// makeImage writes a sparse image, formats it, evicts it from the host page cache and attaches a loop
// device to it.
func (b *Backing) makeImage(ctx context.Context, dir string, spec Spec) error {
	b.Image = filepath.Join(dir, ImageName)
	f, err := os.OpenFile(b.Image, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	b.undo.Push("remove "+b.Image, func() error { return ignoreNotExist(os.Remove(b.Image)) })
	err = f.Truncate(spec.Size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := retryTransient(ctx, func() error { return run(ctx, mkfsCommand(spec.FS, b.Image)...) }); err != nil {
		return err
	}
	// mkfs wrote through the host page cache; drop those pages so the loop device (direct I/O)
	// starts from a host cache that holds nothing of the image.
	if err := evict(b.Image); err != nil {
		return err
	}
	dev, dio, err := attachLoop(ctx, b.Image)
	if err != nil {
		return err
	}
	b.Device, b.DirectIO = dev, dio
	b.undo.Push("detach "+dev, func() error { return detachLoop(context.Background(), dev, b.Image) })
	if b.WriteCache, err = loopWriteBack(dev); err != nil {
		return err
	}
	return nil
}

func mkfsCommand(fs, image string) []string {
	switch fs {
	case Ext4:
		// Inode tables and journal are written now, not by a kernel thread during measurements;
		// no blocks reserved for root, so statfs free space is all usable.
		return []string{"mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", "-m", "0",
			"-i", strconv.Itoa(ext4BytesPerInode), image}
	case XFS:
		return []string{"mkfs.xfs", "-q", "-f", "-m", "reflink=1", image}
	case Btrfs:
		return []string{"mkfs.btrfs", "-q", "-f", image}
	}
	return nil
}

func (b *Backing) mount(ctx context.Context, source, fstype, data string) error {
	if err := unix.Mount(source, b.Path, fstype, 0, data); err != nil {
		return fmt.Errorf("mount %s %s on %s: %w", fstype, source, b.Path, err)
	}
	b.undo.Push("unmount "+b.Path, func() error { return unmountTree(b.Path) })
	return nil
}

// unmountTree unmounts whatever is still mounted inside path (a container a caller forgot), deepest
// first, then path itself: a forgotten nested mount must not turn into a lazily detached backing.
func unmountTree(path string) error {
	ms, err := MountsUnder(path)
	if err != nil || len(ms) == 0 {
		ms = []string{path}
	}
	var errs []error
	for _, m := range ms {
		if err := unmount(m); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// describe fills FS and MountOptions from what the kernel reports.
func (b *Backing) describe() error {
	m, err := lookupMount(b.Path)
	if err != nil {
		return err
	}
	if b.Kind != Dir && m.Mountpoint != b.Path {
		return fmt.Errorf("%s is not a mount point after mounting (found %s)", b.Path, m.Mountpoint)
	}
	b.FS = m.FSType
	b.MountOptions = joinOptions(m.Options, m.VFSOptions)
	if b.Kind == Dir {
		b.Device = ""
	}
	return nil
}

// Close unmounts the filesystem, detaches the loop device and removes the image and the directories
// Create made. A mount still busy after a few seconds is lazily detached, and that is reported as an
// error. Close is idempotent.
func (b *Backing) Close() error {
	if b == nil || b.closed {
		return nil
	}
	b.closed = true
	if err := b.undo.Unwind(); err != nil {
		return fmt.Errorf("backing %s at %s: close: %w", b.Kind, b.Path, err)
	}
	return nil
}

// unmount retries while the mount is busy (a just-closed file, a dying FUSE daemon), then detaches
// lazily so the loop device can still be released, and says so.
func unmount(path string) error {
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := unix.Unmount(path, 0)
		switch {
		case err == nil:
			return nil
		case err == unix.EINVAL || err == unix.ENOENT:
			return nil // not mounted (any more)
		case err != unix.EBUSY:
			return err
		}
		if time.Now().After(deadline) {
			if lerr := unix.Unmount(path, unix.MNT_DETACH); lerr != nil {
				return fmt.Errorf("busy; lazy detach failed: %w", lerr)
			}
			return fmt.Errorf("busy after 3s: lazily detached (the filesystem stays alive until its last user exits)")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Sync writes back everything cached for the filesystem holding path (syncfs), so a statfs that
// follows sees delayed allocations.
func Sync(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	return nil
}

// Used reports the bytes and inodes in use on the filesystem holding path, from statfs:
// (blocks − free blocks) × block size, and files − free files. Call Sync first.
func Used(path string) (bytes, inodes int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	bsize := st.Frsize // f_blocks is in f_frsize units
	if bsize == 0 {
		bsize = st.Bsize
	}
	return int64(st.Blocks-st.Bfree) * bsize, int64(st.Files - st.Ffree), nil
}

func mkdirOwned(s *cleanup.Stack, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s.Push("remove "+dir, func() error { return ignoreNotExist(os.Remove(dir)) })
	return nil
}

func removeContents(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return ignoreNotExist(err)
	}
	var errs []error
	for _, e := range ents {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
