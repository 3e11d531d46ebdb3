package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResultsRegenerate: RESULTS.md (and its plots) at the repository root is a pure function of the
// committed result files listed in results/published; regenerating it must give the same bytes.
func TestResultsRegenerate(t *testing.T) {
	root := filepath.Join("..", "..")
	list, err := os.ReadFile(filepath.Join(root, "results", "published"))
	if os.IsNotExist(err) {
		t.Skip("no results/published")
	}
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"report", "-o", filepath.Join(t.TempDir(), "RESULTS.md")}
	out := args[2]
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			args = append(args, l)
		}
	}
	o := runIn(t, root, args...)
	if o.code != 0 {
		t.Fatalf("report: exit %d\n%s", o.code, o.stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("RESULTS.md is stale: run `make report` (regenerated %d bytes, committed %d)", len(got), len(want))
	}
	// Every plot RESULTS.md links to was regenerated identically next to it.
	for _, line := range strings.Split(string(want), "\n") {
		i := strings.Index(line, "](")
		if !strings.HasPrefix(line, "![") || i < 0 {
			continue
		}
		rel := strings.TrimSuffix(line[i+2:], ")")
		if !strings.HasSuffix(rel, ".svg") {
			continue
		}
		a, err1 := os.ReadFile(filepath.Join(filepath.Dir(out), rel))
		b, err2 := os.ReadFile(filepath.Join(root, rel))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("plot %s differs from its regeneration (%v, %v): run `make report`", rel, err1, err2)
		}
	}
}
