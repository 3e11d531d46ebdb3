package metric

import (
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/docs"
)

var update = flag.Bool("update", false, "rewrite README.md's metric table from the catalogue")

// TestREADMEMetricTable pins README.md's metric table to the catalogue.
func TestREADMEMetricTable(t *testing.T) {
	begin, end := docs.Markers("metrics", "internal/metric", "go test ./internal/metric -update")
	if err := docs.Sync("../../README.md", begin, end, MarkdownTable(), *update); err != nil {
		t.Error(err)
	}
}

// TestCatalogue checks the catalogue is well formed: unique IDs, a known family, unit, direction and
// kind, declared parameter keys, a doc line.
func TestCatalogue(t *testing.T) {
	seen := map[ID]bool{}
	for _, d := range Catalogue {
		if seen[d.ID] {
			t.Errorf("%s: listed twice", d.ID)
		}
		seen[d.ID] = true
		if FamilyRank(d.Family) == len(Families) {
			t.Errorf("%s: family %q is not in Families", d.ID, d.Family)
		}
		if d.Better != Lower && d.Better != Higher {
			t.Errorf("%s: better %q", d.ID, d.Better)
		}
		if !slices.Contains([]Kind{Time, Quantity, Derived}, d.Kind) {
			t.Errorf("%s: kind %q", d.ID, d.Kind)
		}
		if (d.Kind == Time) != (d.Unit == NS) {
			t.Errorf("%s: kind %s with unit %s", d.ID, d.Kind, d.Unit)
		}
		if d.Flushes && d.Kind != Time {
			t.Errorf("%s: only a time can include flushes", d.ID)
		}
		for _, k := range d.Params {
			if KeyOf(k) == nil {
				t.Errorf("%s: parameter %q is not in Keys", d.ID, k)
			}
		}
		if !slices.IsSortedFunc(d.Params, func(a, b string) int { return KeyRank(a) - KeyRank(b) }) {
			t.Errorf("%s: params %v not in display order", d.ID, d.Params)
		}
		if d.Doc == "" || strings.Contains(d.Doc, "\n") {
			t.Errorf("%s: needs a one-line doc", d.ID)
		}
	}
}

func TestCheck(t *testing.T) {
	d, ok := Lookup(CopyupLatency)
	if !ok {
		t.Fatal("Lookup of copyup.latency")
	}
	if err := d.Check(map[string]string{PSize: "4KiB", PHow: "append"}); err != nil {
		t.Error(err)
	}
	if err := d.Check(map[string]string{"depth": "1"}); err == nil || !strings.Contains(err.Error(), `"depth" is not declared`) {
		t.Errorf("undeclared key: %v", err)
	}
	if _, ok := Lookup("no.such"); ok {
		t.Error("Lookup of an unknown name")
	}
}

func TestCompareValues(t *testing.T) {
	for _, c := range []struct {
		key, a, b string
		order     []string
		want      int
	}{
		{PCache, "warm", "cold", nil, -1},
		{PSize, "64MiB", "4KiB", nil, 1},
		{PDepth, "10", "9", nil, 1},
		{PLayer, "emacs", "debian", []string{"debian", "emacs"}, 1},
		{PImage, "a", "b", nil, -1},
		{PSize, "64MiB", "1GiB", nil, -1},
		{PLayers, "2", "10", nil, -1},
		{"other", "10", "abc", nil, -1},
		{PCache, "mount", "warm", nil, 1},
	} {
		got := CompareValues(c.key, c.a, c.b, c.order)
		if (got < 0) != (c.want < 0) || (got > 0) != (c.want > 0) {
			t.Errorf("CompareValues(%s, %s, %s) = %d, want sign %d", c.key, c.a, c.b, got, c.want)
		}
	}
	keys := []string{"zz", PCache, PSize, PImage}
	SortKeys(keys)
	if !slices.Equal(keys, []string{PImage, PSize, PCache, "zz"}) {
		t.Errorf("SortKeys: %v", keys)
	}
}
