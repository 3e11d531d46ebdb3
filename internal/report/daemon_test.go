package report

import (
	"bytes"
	"html"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// sectionsTitled returns d's sections whose title starts with prefix.
func sectionsTitled(d *Doc, prefix string) []*Section {
	var out []*Section
	for _, s := range d.Sections {
		if strings.HasPrefix(s.Title, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// tableRow returns the row of t whose key cells are key (nil if none).
func tableRow(t *Table, key ...string) []string {
	for _, r := range t.Rows {
		if slices.Equal(r[:len(key)], key) {
			return r
		}
	}
	return nil
}

func TestDaemonSections(t *testing.T) {
	// testdata/daemon.json: containerd-overlayfs costs ×4 overlayfs's on prepare and remove and ×2
	// on commit, containerd1-6-overlayfs ×2 and ×1.5; file operations cost the same on all three;
	// containerd-overlayfs lacks the lookup at depth 2; containerd-native's pair native did not run.
	r, err := result.ReadFile("testdata/daemon.json")
	if err != nil {
		t.Fatal(err)
	}
	d := Build(r)
	heads := sectionsTitled(d, "daemon versus in process")
	if len(heads) != 3 || heads[0].Detail || !heads[1].Detail {
		t.Fatalf("daemon sections %d, want a summary and a detail per pair (2)", len(heads))
	}
	// The summaries follow what each rule costs; the details follow the checks.
	i := slices.IndexFunc(d.Sections, func(s *Section) bool { return s.Title == "what each rule costs" })
	j := slices.IndexFunc(d.Sections, func(s *Section) bool { return s.Title == "checks" })
	if i < 0 || j < 0 || d.Sections[i+1] != heads[0] || d.Sections[i+2].Title != "containerd versions" || d.Sections[j+1] != heads[1] {
		t.Errorf("the daemon summaries do not follow the rules table, or their details the checks")
	}
	head := heads[0]
	if !slices.ContainsFunc(head.Lines, func(l string) bool {
		return strings.HasPrefix(l, "containerd-native: its in-process pair native is not in this run")
	}) {
		t.Errorf("no note for containerd-native's missing pair in %q", head.Lines)
	}
	if want := []string{"rule", "containerd-overlayfs", "containerd1-6-overlayfs"}; !slices.Equal(head.Table.Header, want) {
		t.Errorf("summary header %q, want %q", head.Table.Header, want)
	}
	for _, c := range []struct {
		rule string
		want []string
	}{
		{"snapshot prepare, container", []string{"×4.00 [", "×2.00 ["}},
		{"snapshot commit, build", []string{"×2.00 [2.00, 2.00] 50%", "×1.50 [1.50, 1.50] 50%"}},
		{"file operations", []string{"×1.00 [1.00, 1.00]", "×1.00 [1.00, 1.00]"}},
	} {
		row := tableRow(head.Table, c.rule)
		if row == nil {
			t.Errorf("summary: no row %q", c.rule)
			continue
		}
		for i, w := range c.want {
			if !strings.HasPrefix(row[1+i], w) {
				t.Errorf("summary %s, %s: %q, want %q…", c.rule, head.Table.Header[1+i], row[1+i], w)
			}
		}
	}

	pair := heads[1]
	if pair.Title != "daemon versus in process: containerd-overlayfs ÷ overlayfs" {
		t.Errorf("first pair's title %q", pair.Title)
	}
	for _, c := range []struct {
		key  []string
		want []string // daemon, in process, ratio (prefix)
	}{
		{[]string{"snapshot prepare, container", "over 2 containers"}, []string{"4.40 ms", "1.10 ms", "×4.00 ["}},
		{[]string{"snapshot remove, container", "container=web"}, []string{"24.0 ms", "6.00 ms", "×4.00 ["}},
		{[]string{"lookup", "depth=1"}, []string{"2.50 µs", "2.50 µs", "×1.00 ["}},
		{[]string{"copy-up", ""}, []string{"1.00 ms", "1.00 ms", "×1.00 ["}},
	} {
		row := tableRow(pair.Table, c.key...)
		if row == nil {
			t.Errorf("pair: no row %q", c.key)
			continue
		}
		if got := row[2:]; got[0] != c.want[0] || got[1] != c.want[1] || !strings.HasPrefix(got[2], c.want[2]) {
			t.Errorf("pair %q: %q, want %q", c.key, got, c.want)
		}
	}
	// Measured on one side only: no row (not a zero), and a note says so.
	if row := tableRow(pair.Table, "lookup", "depth=2"); row != nil {
		t.Errorf("pair has a row for a lookup containerd-overlayfs did not measure: %q", row)
	}
	if !slices.Contains(pair.After, "left out, for want of one side's data: lookup depth=2: no samples from containerd-overlayfs") {
		t.Errorf("no left-out note in %q", pair.After)
	}
	// The second write is no copy-up: one copy-up row.
	copyups := 0
	for _, r := range pair.Table.Rows {
		if r[0] == "copy-up" {
			copyups++
		}
	}
	if copyups != 1 {
		t.Errorf("%d copy-up rows, want 1 (first writes only)", copyups)
	}
	// 1.6's pair has the depth-2 lookup.
	if tableRow(heads[2].Table, "lookup", "depth=2") == nil {
		t.Errorf("containerd1-6-overlayfs ÷ overlayfs has no depth=2 lookup")
	}

	vers := sectionsTitled(d, "containerd versions")
	if len(vers) != 2 {
		t.Fatalf("%d version sections, want a summary and a table", len(vers))
	}
	if want := "containerd-overlayfs (containerd v2.4.2) ÷ containerd1-6-overlayfs (containerd 1.6.20~ds1), overlayfs snapshotter"; !slices.Contains(vers[0].Lines, want) {
		t.Errorf("versions lines %q lack %q", vers[0].Lines, want)
	}
	if row := tableRow(vers[0].Table, "snapshot prepare, container"); row == nil || !strings.HasPrefix(row[1], "×2.00 [") {
		t.Errorf("2.4 ÷ 1.6 prepare: %q, want ×2.00", row)
	}
	if want := []string{"rule", "at", "v2.4.2", "1.6.20~ds1", "v2.4.2 ÷ 1.6.20~ds1"}; !slices.Equal(vers[1].Table.Header, want) {
		t.Errorf("versions table header %q, want %q", vers[1].Table.Header, want)
	}

}

func TestDaemonSectionsAbsent(t *testing.T) {
	// No daemon driver: no section, and no figure.
	for _, f := range []string{"testdata/full.json", "testdata/minimal.json", "testdata/plots/quick.json"} {
		r, err := result.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := Build(r)
		for _, prefix := range []string{"daemon versus in process", "containerd versions"} {
			if s := sectionsTitled(d, prefix); len(s) > 0 {
				t.Errorf("%s: a section %q without daemon drivers", f, s[0].Title)
			}
		}
		if fig := daemonFigure(newPlotData(r)); fig != nil {
			t.Errorf("%s: a daemon figure without daemon drivers", f)
		}
	}

	// A daemon driver that did not run makes no section either.
	r, err := result.ReadFile("testdata/daemon.json")
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Drivers {
		if r.Drivers[i].Options[InProcessOption] != "" {
			r.Drivers[i].Status = result.StatusSkipped
		}
	}
	if s := sectionsTitled(Build(r), "daemon versus in process"); len(s) > 0 {
		t.Errorf("a section %q with only skipped daemon drivers", s[0].Title)
	}
}

func TestDaemonPairAbsent(t *testing.T) {
	// Only containerd-native, whose pair native is not in the run: the section says so, with no
	// table, no version comparison and no figure.
	r, err := result.ReadFile("testdata/daemon.json")
	if err != nil {
		t.Fatal(err)
	}
	r.Drivers = slices.DeleteFunc(r.Drivers, func(d result.DriverResult) bool {
		return d.Name != "overlayfs" && d.Name != "containerd-native"
	})
	d := Build(r)
	heads := sectionsTitled(d, "daemon versus in process")
	if len(heads) != 1 {
		t.Fatalf("%d daemon sections, want the head alone", len(heads))
	}
	if heads[0].Table != nil {
		t.Errorf("a table without a pair: %q", heads[0].Table.Rows)
	}
	want := "containerd-native: its in-process pair native is not in this run, so there is nothing to set it against (run both: --drivers native,containerd-native)"
	if !slices.Contains(heads[0].Lines, want) {
		t.Errorf("lines %q lack %q", heads[0].Lines, want)
	}
	if s := sectionsTitled(d, "containerd versions"); len(s) > 0 {
		t.Errorf("a version section with one daemon version")
	}
	if fig := daemonFigure(newPlotData(r)); fig != nil {
		t.Error("a daemon figure without a pair")
	}

	// A pair that was skipped says so.
	r.Drivers = append(r.Drivers, result.DriverResult{Name: "native", Status: result.StatusSkipped})
	heads = sectionsTitled(Build(r), "daemon versus in process")
	if len(heads) != 1 || !slices.Contains(heads[0].Lines, "containerd-native: its in-process pair native was skipped, so there is nothing to set it against") {
		t.Errorf("no note for the skipped pair: %q", heads[0].Lines)
	}
}

func TestRatioText(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		r    stats.Ratio
		want string
	}{
		{stats.Ratio{Ratio: 1.0234, Lo: 0.98, Hi: 1.07, Confidence: 0.95}, "×1.02 [0.98, 1.07]"},
		{stats.Ratio{Ratio: 11.6, Lo: 10.9, Hi: 12.34, Confidence: 0.5}, "×11.6 [10.9, 12.3] 50%"},
		{stats.Ratio{Ratio: 1.0, Lo: 0.75, Hi: 1.15, Confidence: 0.957}, "×1.00 [0.75, 1.15]"},
		{stats.Ratio{Ratio: 0.0118, Lo: 0.00412, Hi: 0.0301, Confidence: 0.94}, "×0.012 [0.0041, 0.030] 94%"},
		{stats.Ratio{Ratio: 2, Lo: nan, Hi: nan}, "×2.00"},
		{stats.Ratio{Ratio: nan, Lo: nan, Hi: nan}, "-"},
	} {
		if got := RatioText(c.r); got != c.want {
			t.Errorf("RatioText(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
}

func TestVersionNumbers(t *testing.T) {
	for v, want := range map[string][]int{"v2.4.2": {2, 4, 2}, "1.6.20~ds1": {1, 6, 20}, "2.0.0-rc.1": {2, 0, 0}, "1.7": {1, 7}} {
		if got, ok := versionNumbers(v); !ok || !slices.Equal(got, want) {
			t.Errorf("versionNumbers(%q) = %v, %v; want %v", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "the daemon's", "vX"} {
		if got, ok := versionNumbers(v); ok {
			t.Errorf("versionNumbers(%q) = %v, want none", v, got)
		}
	}
}

func TestDaemonFigure(t *testing.T) {
	r, err := result.ReadFile("testdata/daemon.json")
	if err != nil {
		t.Fatal(err)
	}
	dir, figs := renderPlots(t, "daemon", r)
	i := slices.IndexFunc(figs, func(f Figure) bool { return f.SVG == "daemon-daemon.svg" })
	if i < 0 {
		t.Fatalf("no daemon figure among %v", figureNames(figs))
	}
	f := figs[i]
	svg, err := os.ReadFile(filepath.Join(dir, f.SVG))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"Daemon versus in process, rule by rule", "daemon driver's median ÷ its in-process pair's (log scale", "×1", "×10",
		"snapshot prepare, container", "lookup: depth=1", "copy-up", "read",
		"containerd-overlayfs ÷ overlayfs", "containerd1-6-overlayfs ÷ overlayfs",
	} {
		e := html.EscapeString(s)
		if !bytes.Contains(svg, []byte(">"+e)) && !bytes.Contains(svg, []byte(e+"<")) {
			t.Errorf("%s: no text %q", f.SVG, s)
		}
	}
	// containerd-native has no pair in the run: it is not plotted.
	if bytes.Contains(svg, []byte("containerd-native")) {
		t.Errorf("%s plots containerd-native, whose pair did not run", f.SVG)
	}
	pf, err := os.Open(filepath.Join(dir, f.PNG))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	cfg, err := png.DecodeConfig(pf)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width <= 800 || cfg.Height < 500 {
		t.Errorf("%s is %d×%d: want it wider than the others for its labels and legend", f.PNG, cfg.Width, cfg.Height)
	}
	checkGolden(t, f.SVG, svg)
}
