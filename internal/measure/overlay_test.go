package measure

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestEvictThroughOverlay checks the claims the docs make: residency measured, and advice given,
// through an overlay path reach the lower file's page cache. Needs root (mount).
func TestEvictThroughOverlay(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount overlay")
	}
	dir := pageCacheDir(t)
	lower, upper, work, merged := filepath.Join(dir, "lower"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{lower, upper, work, merged} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	backing := filepath.Join(lower, "f")
	writeFile(t, backing, 4*mib)
	if _, err := Evict(backing); err != nil {
		t.Fatal(err)
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		t.Skipf("mount overlay: %v", err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)

	readAll(t, filepath.Join(merged, "f"))
	if n, err := Resident(backing); err != nil || n < 4*mib {
		t.Fatalf("after reading through overlay, backing file resident %d (%v), want %d", n, err, 4*mib)
	}
	// cachestat is blind through overlay (the overlay inode has no pages); Resident must not be.
	if n, err := Resident(filepath.Join(merged, "f")); err != nil || n < 4*mib {
		t.Fatalf("Resident through overlay = %d (%v), want %d (the lower file's cache)", n, err, 4*mib)
	}
	set, err := ListFiles(merged, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := set.Resident(); err != nil || n < 4*mib {
		t.Fatalf("FileSet.Resident through overlay = %d (%v), want %d", n, err, 4*mib)
	}
	r, err := Evict(filepath.Join(merged, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Before < 4*mib || r.After != 0 {
		t.Errorf("Evict through overlay = %+v, want before %d, after 0", r, 4*mib)
	}
	if n, err := Resident(backing); err != nil || n != 0 {
		t.Errorf("after Evict through overlay, backing file resident %d (%v), want 0", n, err)
	}
}
