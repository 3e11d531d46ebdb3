package units

import (
	"encoding/json"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0B", 0},
		{"16B", 16},
		{"4KiB", 4096},
		{"1MiB", 1 << 20},
		{"64MiB", 64 << 20},
		{"2GiB", 2 << 30},
		{"1TiB", 1 << 40},
		{"1.5MiB", 3 << 19},
		{"1.25MiB", 1310720},
		{"0.5KiB", 512},
		{"1536KiB", 1536 << 10},
		{"007KiB", 7 << 10},
		{"8388607TiB", 8388607 << 40},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSizeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"4k", `size "4k" uses the ambiguous unit "k": write 4KiB (IEC units: B, KiB, MiB, GiB, TiB)`},
		{"4K", `ambiguous unit "K": write 4KiB (IEC units`},
		{"4KB", `decimal unit "KB": write 4KiB (IEC units`},
		{"4kb", `decimal unit "kb": write 4KiB`},
		{"4kB", `decimal unit "kB": write 4KiB`},
		{"4M", `write 4MiB (IEC units`},
		{"4MB", `decimal unit "MB": write 4MiB`},
		{"2G", `write 2GiB`},
		{"1TB", `write 1TiB`},
		{"4kib", `write 4KiB`},
		{"4Ki", `write 4KiB`},
		{"16b", `write 16B`},
		{"1.5m", `write 1.5MiB`},
		{"4096", `size "4096" has no unit: write 4096B or 4KiB (IEC units`},
		{"17", `has no unit: write 17B (IEC units`},
		{"1.5", `has no unit: add one, e.g. 1.5MiB`},
		{"4 KiB", `contains spaces: write 4KiB`},
		{"-4KiB", `is negative`},
		{"+4KiB", `write 4KiB`},
		{"", `empty size`},
		{"KiB", `invalid size "KiB"`},
		{"4PiB", `unknown unit "PiB"`},
		{"4bytes", `unknown unit "bytes"`},
		{"1.3B", `not a whole number of bytes`},
		{"0.1KiB", `not a whole number of bytes`},
		{"8388608TiB", `too large`},
		{"99999999999999999999999B", `too large`},
		{"4.KiB", `invalid size "4.KiB"`},
		{".5KiB", `invalid size ".5KiB"`},
	} {
		_, err := ParseSize(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSize(%q) error = %v; want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	for _, tc := range []struct {
		in   Size
		want string
	}{
		{0, "0B"}, {16, "16B"}, {4096, "4KiB"}, {64 << 20, "64MiB"}, {1536 << 10, "1536KiB"},
		{3 << 30, "3GiB"}, {1 << 40, "1TiB"}, {4097, "4097B"}, {-4096, "-4KiB"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
	}
	// Every value round-trips through its string.
	for _, s := range []Size{1, 1023, 1024, 1025, 3 << 19, 5<<40 + 1, 1<<62 + 1<<20} {
		got, err := ParseSize(s.String())
		if err != nil || got != s {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s.String(), got, err, s)
		}
	}
}

func TestSizeMarshal(t *testing.T) {
	type doc struct {
		Size  Size            `yaml:"size" json:"size"`
		Sizes map[Size]string `yaml:"-" json:"sizes"`
	}
	b, err := yaml.Marshal(doc{Size: 4 * KiB})
	if err != nil || strings.TrimSpace(string(b)) != "size: 4KiB" {
		t.Fatalf("yaml.Marshal = %q, %v", b, err)
	}
	var d doc
	if err := yaml.Unmarshal([]byte("size: 1.5MiB"), &d); err != nil || d.Size != 3<<19 {
		t.Fatalf("yaml.Unmarshal = %d, %v", d.Size, err)
	}
	if err := yaml.Unmarshal([]byte("size: 4k"), &d); err == nil || !strings.Contains(err.Error(), "write 4KiB") {
		t.Fatalf("yaml.Unmarshal(4k) error = %v", err)
	}
	if err := yaml.Unmarshal([]byte("size: [1]"), &d); err == nil {
		t.Fatal("yaml.Unmarshal of a list into a Size succeeded")
	}
	// JSON: a Size is a string, also as a map key (Plan.Targets).
	j, err := json.Marshal(doc{Size: 16 * MiB, Sizes: map[Size]string{4 * KiB: "a"}})
	if err != nil || string(j) != `{"size":"16MiB","sizes":{"4KiB":"a"}}` {
		t.Fatalf("json.Marshal = %s, %v", j, err)
	}
	var back doc
	if err := json.Unmarshal(j, &back); err != nil || back.Size != 16*MiB || back.Sizes[4*KiB] != "a" {
		t.Fatalf("json.Unmarshal = %+v, %v", back, err)
	}
}
