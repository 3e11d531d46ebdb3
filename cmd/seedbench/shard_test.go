package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/result"
)

// TestShards runs the small scenario whole and as three shards: merged, the shards give the whole
// run's metrics and checks; a missing or repeated shard is refused.
func TestShards(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	args := []string{"run", "testdata/small.yaml", "--drivers", "overlayfs,native", "--quick", "--workdir", t.TempDir(), "-q"}
	whole := filepath.Join(dir, "whole.json")
	if o := run(t, append(args, "--out", whole)...); o.code != 0 {
		t.Fatalf("whole run: exit %d: %s", o.code, o.stderr)
	}
	var shards []string
	for i := 1; i <= 3; i++ {
		s := filepath.Join(dir, fmt.Sprintf("shard%d.json", i))
		if o := run(t, append(args, "--out", s, "--shard", fmt.Sprintf("%d/3", i))...); o.code != 0 {
			t.Fatalf("shard %d/3: exit %d: %s", i, o.code, o.stderr)
		}
		shards = append(shards, s)
	}
	merged := filepath.Join(dir, "merged.json")
	if o := run(t, append([]string{"merge", "-o", merged}, shards...)...); o.code != 0 {
		t.Fatalf("merge: exit %d: %s", o.code, o.stderr)
	}
	keys := func(r *result.Result) (ms, cs []string) {
		for _, m := range r.Metrics {
			ms = append(ms, m.Key())
		}
		for _, c := range r.Checks {
			cs = append(cs, c.Driver+" "+c.What)
		}
		slices.Sort(ms)
		slices.Sort(cs)
		return slices.Compact(ms), slices.Compact(cs)
	}
	wm, wc := keys(readResult(t, whole))
	mm, mc := keys(readResult(t, merged))
	if !slices.Equal(wm, mm) {
		t.Errorf("metrics: whole %d, merged %d; only whole: %v; only merged: %v", len(wm), len(mm), minus(wm, mm), minus(mm, wm))
	}
	if !slices.Equal(wc, mc) {
		t.Errorf("checks: whole %v, merged %v", wc, mc)
	}
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{shards[:2], "shard 3/3 is missing"},
		{append(slices.Clone(shards), shards[1]), "shard 2/3 is given twice"},
		{[]string{whole}, "is not a shard"},
	} {
		o := run(t, append([]string{"merge", "-o", filepath.Join(dir, "x.json")}, tc.files...)...)
		if o.code == 0 || !strings.Contains(o.stderr, tc.want) {
			t.Errorf("merge %v: exit %d, %q; want an error saying %q", tc.files, o.code, o.stderr, tc.want)
		}
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
