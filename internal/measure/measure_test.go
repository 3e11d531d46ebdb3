package measure

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const mib = 1 << 20

// writeFile writes size bytes of non-zero data (so no filesystem can store it sparse).
func writeFile(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xa5}, size), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		t.Fatal(err)
	}
}

// pageCacheDir returns a temporary directory whose page cache can be evicted (not tmpfs, where the
// pages are the file's only copy).
func pageCacheDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
		t.Skipf("%s is on tmpfs/ramfs: page cache cannot be evicted there; set TMPDIR to a disk filesystem", dir)
	}
	return dir
}

// residentCachestat is the resident bytes cachestat(2) counts, whatever the filesystem.
func residentCachestat(f *os.File) (int64, error) {
	cs, err := cachestat(f)
	return int64(cs.Cache) * pageSize, err
}

// residency measures f with each method.
var methods = []struct {
	name string
	fn   func(f *os.File) (int64, error)
}{
	{"cachestat", residentCachestat},
	{"mincore", residentMincore},
}

func residentBy(t *testing.T, path string, fn func(f *os.File) (int64, error)) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := fn(f)
	if err != nil {
		if errors.Is(err, unix.ENOSYS) {
			t.Skip("kernel has no cachestat(2)")
		}
		t.Fatal(err)
	}
	return n
}

// TestEvictDirty: a file whose pages are still dirty is written back and evicted (Evict skips the
// fdatasync only when cachestat says nothing is dirty), and a file with nothing cached is a no-op.
func TestEvictDirty(t *testing.T) {
	dir := pageCacheDir(t)
	path := filepath.Join(dir, "dirty")
	const size = 4 * mib
	writeFile(t, path, size) // no sync: its pages are dirty until writeback
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := filePages(f)
	f.Close()
	t.Logf("after write: %+v, %v", pg, err)
	r, err := Evict(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Before < size/2 || r.After > size/100 {
		t.Errorf("Evict of a just-written file = %+v, want Before ≈ %d and After ≈ 0", r, size)
	}
	r, err = Evict(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Before != 0 || r.After != 0 {
		t.Errorf("second Evict = %+v, want nothing cached", r)
	}
}

func TestResidentAndEvict(t *testing.T) {
	dir := pageCacheDir(t)
	path := filepath.Join(dir, "f")
	const size = 8 * mib
	writeFile(t, path, size)
	slack := int64(size / 100)

	for _, m := range methods {
		t.Run(m.name, func(t *testing.T) {
			readAll(t, path)
			if got := residentBy(t, path, m.fn); got < size-slack || got > size+slack {
				t.Fatalf("after reading %d bytes: resident %d, want ≈ %d", size, got, size)
			}
			r, err := Evict(path)
			if err != nil {
				t.Fatal(err)
			}
			if r.Files != 1 || r.Before < size-slack {
				t.Errorf("Evict = %+v, want Files 1 and Before ≈ %d", r, size)
			}
			if r.After > slack {
				t.Errorf("Evict left %d bytes resident", r.After)
			}
			if got := residentBy(t, path, m.fn); got > slack {
				t.Fatalf("after Evict: resident %d, want ≈ 0", got)
			}
			// Read half: residency follows (readahead may add a little).
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(io.Discard, f, size/2); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := residentBy(t, path, m.fn); got < size/2 || got > size {
				t.Fatalf("after reading half: resident %d, want in [%d, %d]", got, size/2, size)
			}
		})
	}
}

// TestResidentFallback runs the exported Resident through the mincore path, as on a kernel < 6.5.
func TestResidentFallback(t *testing.T) {
	dir := pageCacheDir(t)
	path := filepath.Join(dir, "f")
	writeFile(t, path, 2*mib)
	readAll(t, path)
	viaCachestat, err := Resident(path)
	if err != nil {
		t.Fatal(err)
	}
	noCachestat.Store(true)
	defer noCachestat.Store(false)
	viaMincore, err := Resident(path)
	if err != nil {
		t.Fatal(err)
	}
	if viaMincore != viaCachestat || viaMincore < 2*mib {
		t.Fatalf("mincore %d, cachestat %d, want both ≥ %d and equal", viaMincore, viaCachestat, 2*mib)
	}
}

func TestResidentEdgeCases(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range methods {
		if got := residentBy(t, empty, m.fn); got != 0 {
			t.Errorf("%s: empty file resident %d, want 0", m.name, got)
		}
	}
	if got, err := Resident(empty); err != nil || got != 0 {
		t.Errorf("Resident(empty) = %d, %v; want 0, nil", got, err)
	}
	if _, err := Resident(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Resident(dir) error = %v, want not a regular file", err)
	}
	if _, err := Resident(filepath.Join(dir, "missing")); err == nil {
		t.Error("Resident(missing) succeeded")
	}
	// A one-byte file that was read holds one page.
	one := filepath.Join(dir, "one")
	writeFile(t, one, 1)
	readAll(t, one)
	if got, err := Resident(one); err != nil || got != pageSize {
		t.Errorf("Resident(1-byte file) = %d, %v; want %d", got, err, pageSize)
	}
}

func TestTree(t *testing.T) {
	root := pageCacheDir(t)
	mk := func(rel string, size int) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, size)
		readAll(t, p)
	}
	mk("usr/lib/a.so", mib)
	mk("usr/lib/b.so", 2*mib)
	mk("etc/conf", 64*1024)
	// A hard link shares the page cache: counted once. A symlink is not followed.
	if err := os.Link(filepath.Join(root, "usr/lib/a.so"), filepath.Join(root, "usr/lib/a-link.so")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "usr/lib/b.so"), filepath.Join(root, "etc/b-sym")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(root, "etc/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	tree := func(match func(string) bool) (*FileSet, int64) {
		t.Helper()
		set, err := ListFiles(root, match)
		if err != nil {
			t.Fatal(err)
		}
		n, err := set.Resident()
		if err != nil {
			t.Fatal(err)
		}
		return set, n
	}
	set, all := tree(nil)
	want := int64(3*mib + 64*1024)
	if set.Len() != 3 || all != want {
		t.Errorf("ListFiles(all): %d bytes in %d files, want %d in 3", all, set.Len(), want)
	}
	lib := func(rel string) bool { return strings.HasPrefix(rel, "usr/lib/") }
	libs, got := tree(lib)
	if libs.Len() != 2 || got != 3*mib {
		t.Errorf("ListFiles(usr/lib): %d bytes in %d files, want %d in 2", got, libs.Len(), 3*mib)
	}

	r, err := libs.Evict()
	if err != nil {
		t.Fatal(err)
	}
	if r.Files != 2 || r.Before != 3*mib || r.After > 3*mib/100 {
		t.Errorf("Evict(usr/lib) = %+v, want 2 files, before %d, after ≈ 0", r, 3*mib)
	}
	if _, rest := tree(nil); rest != 64*1024 {
		t.Errorf("after evicting usr/lib: %d bytes resident, want %d (etc/conf untouched)", rest, 64*1024)
	}
	if _, err := ListFiles(filepath.Join(root, "missing"), nil); err == nil {
		t.Error("ListFiles(missing root) succeeded")
	}

	// A FileSet lists the same distinct files once and measures them as often as asked; a file
	// removed since the listing is skipped.
	readAll(t, filepath.Join(root, "usr/lib/b.so"))
	if got, err := set.Resident(); err != nil || got != 2*mib+64*1024 {
		t.Errorf("FileSet.Resident = %d, %v; want %d", got, err, 2*mib+64*1024)
	}
	if err := os.Remove(filepath.Join(root, "etc/conf")); err != nil {
		t.Fatal(err)
	}
	if r, err := set.Evict(); err != nil || r.Files != 2 || r.Before != 2*mib || r.After > 2*mib/100 {
		t.Errorf("FileSet.Evict = %+v, %v; want 2 files, before %d, after ≈ 0", r, err, 2*mib)
	}
	if got, err := set.Resident(); err != nil || got != 0 {
		t.Errorf("FileSet.Resident after Evict = %d, %v; want 0", got, err)
	}
}

func TestDiskUsed(t *testing.T) {
	// A filesystem of the test's own: on a shared one (the root fs, /tmp) any other process's
	// writes and deletions move the statfs delta, and parallel test packages do both.
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a private tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	const size = 8 * mib
	before, err := DiskUsed(dir)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "f"), size)
	if err := Sync(dir); err != nil {
		t.Fatal(err)
	}
	after, err := DiskUsed(dir)
	if err != nil {
		t.Fatal(err)
	}
	if grew := after.Sub(before); grew.Bytes < size || grew.Bytes > size+mib || grew.Inodes != 1 {
		t.Fatalf("writing %d bytes grew disk use by %+v, want %d bytes (to a block) and 1 inode", size, grew, size)
	}
}

func TestDiskErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := DiskUsed(missing); err == nil {
		t.Error("DiskUsed(missing) succeeded")
	}
	if err := Sync(missing); err == nil {
		t.Error("Sync(missing) succeeded")
	}
}

func TestDropCachesLevel(t *testing.T) {
	for _, l := range []int{0, 4, -1} {
		if err := DropCaches(l); err == nil {
			t.Errorf("DropCaches(%d) succeeded", l)
		}
	}
	// The real file is global: write to a stand-in.
	old := procDropCaches
	procDropCaches = filepath.Join(t.TempDir(), "drop_caches")
	defer func() { procDropCaches = old }()
	if err := os.WriteFile(procDropCaches, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := DropCaches(2); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(procDropCaches); string(b) != "2\n" {
		t.Errorf("drop_caches got %q, want \"2\\n\"", b)
	}
}

func TestDentryState(t *testing.T) {
	n, unused, err := DentryState()
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 || unused < 0 || unused > n {
		t.Errorf("DentryState = %d, %d", n, unused)
	}
	old := procDentryState
	defer func() { procDentryState = old }()
	procDentryState = filepath.Join(t.TempDir(), "dentry-state")
	os.WriteFile(procDentryState, []byte("12345\t678\t45\t0\t9\t0\n"), 0o644)
	if n, unused, err := DentryState(); err != nil || n != 12345 || unused != 678 {
		t.Errorf("DentryState = %d, %d, %v; want 12345, 678", n, unused, err)
	}
	os.WriteFile(procDentryState, []byte("x\n"), 0o644)
	if _, _, err := DentryState(); err == nil {
		t.Error("DentryState on garbage succeeded")
	}
}

func TestEnv(t *testing.T) {
	e := Env(context.Background())
	if e.Kernel == "" || e.Arch == "" || e.CPUs < 1 || e.MemoryBytes <= 0 || e.Go == "" || e.Containerd == "" {
		t.Errorf("Env missing fields: %+v", e)
	}
	if len(e.Fingerprint) != 12 || e.Fingerprint != Fingerprint(e) {
		t.Errorf("Fingerprint %q", e.Fingerprint)
	}
	// The fingerprint ignores the volatile parts.
	e2 := e
	e2.LoadAvg, e2.Hostname = "9 9 9", "elsewhere"
	if Fingerprint(e2) != e.Fingerprint {
		t.Error("fingerprint depends on load or hostname")
	}
	e2.CPUs++
	if Fingerprint(e2) == e.Fingerprint {
		t.Error("fingerprint ignores the CPU count")
	}
}

func TestEnvParsing(t *testing.T) {
	dir := t.TempDir()
	set := func(v *string, name, content string) {
		old := *v
		*v = filepath.Join(dir, name)
		os.WriteFile(*v, []byte(content), 0o644)
		t.Cleanup(func() { *v = old })
	}
	set(&procCPUInfo, "cpuinfo", "processor\t: 0\nvendor_id\t: X\nmodel name\t: Test CPU @ 2GHz\n\nprocessor\t: 1\nmodel name\t: Test CPU @ 2GHz\n")
	set(&procMemInfo, "meminfo", "MemTotal:        4028440 kB\nMemFree:  1 kB\n")
	set(&etcOSRelease, "os-release", "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n")
	set(&procLoadAvg, "loadavg", "0.50 0.25 0.10 1/90 8182\n")
	set(&procPressure, "pressure", "some avg10=8.08 avg60=8.97 avg300=9.70 total=60527161\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
	e := Env(context.Background())
	if e.CPUModel != "Test CPU @ 2GHz" || e.MemoryBytes != 4028440*1024 || e.OS != "Debian GNU/Linux 12 (bookworm)" || e.LoadAvg != "0.50 0.25 0.10" {
		t.Errorf("Env = %+v", e)
	}
	if p := Noise(); p.Load1 != 0.5 || p.CPUSomeAvg10 != 8.08 {
		t.Errorf("Noise = %+v", p)
	}
	procPressure = filepath.Join(dir, "absent")
	if p := Noise(); p.CPUSomeAvg10 != -1 {
		t.Errorf("Noise without PSI = %+v, want CPUSomeAvg10 -1", p)
	}
}

// TestCalibrator: a reading times both tasks, and Close removes the calibration file.
func TestCalibrator(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "calibration")
	c, err := NewCalibrator(path)
	if err != nil {
		t.Fatal(err)
	}
	cal := c.Read()
	if cal.StatNs <= 0 || cal.SyncNs <= 0 {
		t.Errorf("Read() = %+v, want both tasks timed", cal)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Close left %d files in %s", len(ents), dir)
	}
}
