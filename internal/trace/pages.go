package trace

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/scenario"
)

// imageFile is a regular file of the image's tree, before the program ran (a hardlinked inode once).
type imageFile struct {
	path string // absolute in the image
	size int64
}

// listFiles lists root's regular files, an inode once (its first path in walk order).
func listFiles(root string) ([]imageFile, error) {
	var out []imageFile
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		k := [2]uint64{st.Dev, st.Ino}
		if seen[k] {
			return nil
		}
		seen[k] = true
		out = append(out, imageFile{path: "/" + strings.TrimPrefix(p, root+"/"), size: st.Size})
		return nil
	})
	return out, err
}

// eviction evicts every file of the tree from the page cache (fdatasync + posix_fadvise DONTNEED
// each) and says what it achieved: the bytes still resident after it are a warning, not assumed away.
func eviction(root string, files []imageFile) (measure.EvictResult, error) {
	var sum measure.EvictResult
	for _, f := range files {
		r, err := measure.Evict(filepath.Join(root, f.path))
		if err != nil {
			return sum, fmt.Errorf("trace: evict the image's page cache: %w", err)
		}
		sum.Files += r.Files
		sum.Before += r.Before
		sum.After += r.After
	}
	return sum, nil
}

// residency is the image's files' pages in the page cache as ranges (op: TracePages or TracePagesRA).
func residency(root string, files []imageFile, op scenario.TraceOp) ([]scenario.TraceEntry, error) {
	var out []scenario.TraceEntry
	for _, f := range files {
		if f.size == 0 {
			continue
		}
		rs, err := measure.ResidentRanges(filepath.Join(root, f.path))
		if os.IsNotExist(err) {
			continue // the program removed it
		}
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		for _, r := range rs {
			out = append(out, scenario.TraceEntry{Op: op, Path: f.path, Off: r[0], Len: r[1] - r[0]})
		}
	}
	return out, nil
}

// setReadahead writes kb to the loop device dev's read_ahead_kb (the readahead of every file of the
// filesystem on it: ra_pages is taken from the device when a file is opened) and returns the value
// it had.
func setReadahead(dev, kb string) (string, error) {
	p := filepath.Join("/sys/block", filepath.Base(dev), "queue", "read_ahead_kb")
	old, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("trace: readahead of %s: %w", dev, err)
	}
	if err := os.WriteFile(p, []byte(kb), 0o644); err != nil {
		return "", fmt.Errorf("trace: set readahead of %s to %s KiB: %w", dev, kb, err)
	}
	return strings.TrimSpace(string(old)), nil
}

// pagesRun is one start of the program with the image's page cache evicted before it, and what it
// left resident after.
type pagesRun struct {
	evicted  measure.EvictResult
	resident []scenario.TraceEntry
}

// startCold evicts the tree's files, runs start (the program, to its exit or timeout), and
// records the files' residency as op ranges.
func startCold(ctx context.Context, root string, files []imageFile, op scenario.TraceOp, start func(context.Context) error) (pagesRun, error) {
	var pr pagesRun
	var err error
	// The tree was just written: its dirty pages go to the device first (of this filesystem only).
	if err := measure.Sync(root); err != nil {
		return pr, err
	}
	if pr.evicted, err = eviction(root, files); err != nil {
		return pr, err
	}
	if err := start(ctx); err != nil {
		return pr, err
	}
	pr.resident, err = residency(root, files, op)
	return pr, err
}
