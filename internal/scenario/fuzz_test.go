package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// Per-input budgets of the whole load path (bytes → parse → validate → resolve): checking a file
// costs time and memory in proportion to its size, so any input costs at most this much. An input
// that exceeds either is a finding: a cost out of proportion to it.
const (
	fuzzTimeBudget = 3 * time.Second
	fuzzByteAlloc  = 512 // bytes allocated per input byte
	fuzzBaseAlloc  = 64 << 20
)

// FuzzParse: the whole load path, bytes to a validated, resolved plan, within a time and memory
// budget per input. Parse never panics; a failure is a *Errors whose every problem has a line in
// the file; a success resolves (normal and quick) and renders. The seeds include the shapes that
// once cost out of proportion to their size: a value of a megabyte, a layer deleting every entry of
// the one below, a long chain of layers with many files each.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", "../../scenarios/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	for _, seed := range hostileSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		defer func() {
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			if took > fuzzTimeBudget {
				t.Fatalf("%d bytes took %v to load, over the %v budget", len(data), took, fuzzTimeBudget)
			}
			if limit := uint64(fuzzBaseAlloc + fuzzByteAlloc*len(data)); alloc > limit {
				t.Fatalf("%d bytes allocated %d MiB to load, over the %d MiB budget", len(data), alloc>>20, limit>>20)
			}
		}()
		sc, err := Parse("fuzz.yaml", data)
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) || len(*errs) == 0 {
				t.Fatalf("error %T %v is not a non-empty *Errors", err, err)
			}
			// Lines as YAML counts them: \r\n, a lone \r and \n each end one.
			lines := 1 + bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) - bytes.Count(data, []byte("\r\n"))
			for _, e := range *errs {
				if e.Line < 1 || e.Line > lines || e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("problem %+v outside the file's %d lines", e, lines)
				}
			}
			return
		}
		for _, quick := range []bool{false, true} {
			p, err := Resolve(sc, ResolveOptions{Quick: quick})
			if err != nil {
				t.Fatalf("Parse accepted what Resolve rejects: %v", err)
			}
			if err := p.Describe(io.Discard); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// hostileSeeds are inputs of about a megabyte in the shapes that once made validation cost out of
// proportion: a number of a million digits, a layer deleting 20000 entries of the one below, a chain
// of 100 layers of 500 files each.
func hostileSeeds() [][]byte {
	var seeds [][]byte
	var b bytes.Buffer
	b.WriteString("name: digits\nseed: ")
	b.Write(bytes.Repeat([]byte("1"), 1<<20))
	b.WriteString("\nlayers: [{name: a, files: [{path: f, size: 1B}]}]\nimages: {app: a}\n")
	seeds = append(seeds, bytes.Clone(b.Bytes()))

	b.Reset()
	b.WriteString("name: deletes\nseed: 1\nlayers:\n  - name: base\n    files:\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "      - {path: d%d/f%d, size: 1B}\n", i%100, i)
	}
	b.WriteString("  - name: top\n    delete:\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "      - d%d/f%d\n", i%100, i)
	}
	b.WriteString("images: {app: top}\n")
	seeds = append(seeds, bytes.Clone(b.Bytes()))

	b.Reset()
	b.WriteString("name: chain\nseed: 1\nlayers:\n")
	for l := range 100 {
		fmt.Fprintf(&b, "  - name: l%d\n    files:\n", l)
		for i := range 500 {
			fmt.Fprintf(&b, "      - {path: d%d/f%d, size: 1B}\n", i%20, i)
		}
	}
	b.WriteString("images: {app: l99}\n")
	return append(seeds, bytes.Clone(b.Bytes()))
}
