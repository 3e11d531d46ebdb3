package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mattn/go-runewidth"
	"github.com/seedbench/seedbench/internal/result"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func TestTablesGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			r, err := result.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Tables(&buf, r); err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := buf.String(); got != string(want) {
				t.Errorf("Tables(%s) differs from %s (run go test -update if intended):\n--- got ---\n%s\n--- want ---\n%s", in, golden, got, want)
			}
		})
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n--; f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestTablesWriteError(t *testing.T) {
	r, err := result.ReadFile("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := Tables(&failWriter{n: 3}, r); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Tables on a failing writer: %v", err)
	}
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		unit string
		v    float64
		want string
	}{
		{"ns", 0, "0 ns"},
		{"ns", 1.234, "1.23 ns"},
		{"ns", 28, "28.0 ns"},
		{"ns", 999, "999 ns"},
		{"ns", 999.6, "1.00 µs"},
		{"ns", 2004, "2.00 µs"},
		{"ns", 13450, "13.4 µs"},
		{"ns", 61000, "61.0 µs"},
		{"ns", 150000, "150 µs"},
		{"ns", 1.4e6, "1.40 ms"},
		{"ns", 188e6, "188 ms"},
		{"ns", 1.28e9, "1.28 s"},
		{"ns", 3600e9, "3600 s"},
		{"ns", -2500, "-2.50 µs"},
		{"fixed_ns", 1.4e6, "1.40 ms"},
		{"bytes", 0, "0 B"},
		{"bytes", 16, "16 B"},
		{"bytes", 1023, "1023 B"},
		{"bytes", 4096, "4.00 KiB"},
		{"bytes", 20480, "20.0 KiB"},
		{"bytes", 1.5 * (1 << 20), "1.50 MiB"},
		{"bytes", 488 << 20, "488 MiB"},
		{"bytes", 1<<30 - 1, "1.00 GiB"},
		{"bytes", -4096, "-4.00 KiB"},
		{"ratio", 0.5, "0.50"},
		{"ratio", 0.8333, "0.83"},
		{"ratio", 0, "0.00"},
		{"r2", 0.98765, "0.988"},
		{"ns_per_byte", 0.73, "0.73 ns/B"},
		{"ns_per_layer", 370, "370 ns/layer"},
		{"files", 2500, "2500 files"},
		{"", 0.5, "0.50"},
	} {
		if got := FormatValue(tc.unit, tc.v); got != tc.want {
			t.Errorf("FormatValue(%q, %v) = %q, want %q", tc.unit, tc.v, got, tc.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 512: "512 B", 1024: "1.00 KiB", 1536: "1.50 KiB", 1 << 20: "1.00 MiB",
		64 << 20: "64.0 MiB", 256 << 20: "256 MiB", 1 << 40: "1.00 TiB", 1 << 62: "4.00 EiB",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatCI(t *testing.T) {
	for _, tc := range []struct {
		unit string
		s    result.Summary
		want string
	}{
		{"ns", result.Summary{N: 10, Median: 2010, CILo: 1980, CIHi: 2100}, "[1.98, 2.10]"},
		{"ns", result.Summary{N: 6, Median: 998e3, CILo: 950e3, CIHi: 1.2e6}, "[950, 1200]"},
		{"ns", result.Summary{N: 4, Median: 29.4e3, CILo: 3e3, CIHi: 900e3}, "[3.00, 900]"},
		{"bytes", result.Summary{N: 3, Median: 256 << 20, CILo: 255 << 20, CIHi: 257 << 20}, "[255, 257]"},
		{"ratio", result.Summary{N: 3, Median: 0.5, CILo: 0.4, CIHi: 0.55}, "[0.40, 0.55]"},
		// An old file whose interval held the run's drift: the samples' own is shown.
		{"ns", result.Summary{N: 10, Median: 100, CILo: 50, CIHi: 200, SampleCILo: 98, SampleCIHi: 103}, "[98.0, 103]"},
		{"ns", result.Summary{N: 1, Median: 100, CILo: 100, CIHi: 100}, ""},
	} {
		if got := FormatCI(tc.unit, tc.s); got != tc.want {
			t.Errorf("FormatCI(%s, %+v) = %q, want %q", tc.unit, tc.s, got, tc.want)
		}
	}
}

func TestFormatParams(t *testing.T) {
	for _, tc := range []struct {
		p    map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"cache": "warm", "how": "append", "size": "4KiB"}, "size=4KiB how=append cache=warm"},
		{map[string]string{"zeta": "1", "alpha": "2", "depth": "3"}, "depth=3 alpha=2 zeta=1"},
	} {
		if got := FormatParams(tc.p); got != tc.want {
			t.Errorf("FormatParams(%v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// TestTextWidth: every line of a report, summary or whole, fits the width it is laid out for (a
// word longer than the width aside), and a table too wide is split with its key columns repeated.
func TestTextWidth(t *testing.T) {
	r, err := result.ReadFile("testdata/full.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, width := range []int{60, 100, 120} {
		for _, details := range []bool{false, true} {
			var b bytes.Buffer
			if err := Build(r).Text(&b, TextOptions{Width: width, Details: details}); err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(b.String(), "\n") {
				if w := runewidth.StringWidth(line); w > width && strings.Contains(line, " ") && (width >= 100 || !strings.HasPrefix(line, "│")) {
					t.Errorf("width %d: a line of %d: %q", width, w, line)
				}
			}
			if !details && strings.Contains(b.String(), "layer.apply") {
				t.Error("the summary shows the details")
			}
		}
	}
	tb := &Table{Header: []string{"k", "aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc"}, Key: 1, Rows: [][]string{{"row", "1", "2", "3"}}}
	var b bytes.Buffer
	if err := (&Doc{Sections: []*Section{{Table: tb}}}).Text(&b, TextOptions{Width: 34}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "│ row "); n != 2 {
		t.Errorf("a table 47 wide at width 34: %d parts, want 2 (the key repeated):\n%s", n, b.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if w := runewidth.StringWidth(line); w > 34 && line != "" {
			t.Errorf("split table line of %d: %q", w, line)
		}
	}
}

// The run-time table shows the engine's own time (outside every driver's clock) as a column, with
// rows for the engine's phases, and counts it in the total.
func TestRunTimeEngine(t *testing.T) {
	r := &result.Result{}
	r.Run.EngineSeconds = map[string]float64{"publish": 12.5, "trees": 3}
	r.Drivers = []result.DriverResult{
		{Name: "a", Seconds: 10, PhaseSeconds: map[string]float64{"build": 4, "containers": 6}},
		{Name: "b", Seconds: 20, PhaseSeconds: map[string]float64{"build": 15, "containers": 5}},
	}
	s := runTimeSection(r, []string{"a", "b"})
	if s == nil {
		t.Fatal("no run-time section")
	}
	if got, want := strings.Join(s.Table.Header, ","), "phase,all drivers,engine,a,b"; got != want {
		t.Fatalf("header %s, want %s", got, want)
	}
	rows := map[string]string{}
	for _, row := range s.Table.Rows {
		rows[row[0]] = strings.Join(row[1:], ",")
	}
	for name, want := range map[string]string{
		"build":   "19.0,0.0,4.0,15.0",
		"publish": "0.0,12.5,0.0,0.0",
		"trees":   "0.0,3.0,0.0,0.0",
		"total":   "30.0,15.5,10.0,20.0",
	} {
		if rows[name] != want {
			t.Errorf("row %s = %q, want %q", name, rows[name], want)
		}
	}
	// A result without engine time (written before it was recorded) keeps the old table.
	r.Run.EngineSeconds = nil
	if s := runTimeSection(r, []string{"a", "b"}); slices.Contains(s.Table.Header, "engine") {
		t.Errorf("engine column without engine time: %v", s.Table.Header)
	}
}
