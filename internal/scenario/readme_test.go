package scenario

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/units"
)

const readmeFile = "../../scenarios/README.md"

// readmeSection returns the text under the heading "## title" or "### title" up to the next heading
// of any level.
func readmeSection(t *testing.T, readme, title string) string {
	t.Helper()
	for _, prefix := range []string{"\n## ", "\n### "} {
		i := strings.Index(readme, prefix+title+"\n")
		if i < 0 {
			continue
		}
		body := readme[i+len(prefix)+len(title)+1:]
		if j := strings.Index(body, "\n#"); j >= 0 {
			body = body[:j]
		}
		return body
	}
	t.Fatalf("%s has no section %q", readmeFile, title)
	return ""
}

// tableRow returns the cells of the row documenting `key` in a section's table, or nil.
func tableRow(section, key string) []string {
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `"+key+"` |") {
			cells := strings.Split(strings.Trim(line, "|"), " | ")
			for i := range cells {
				cells[i] = strings.TrimSpace(cells[i])
			}
			return cells
		}
	}
	return nil
}

// TestREADMEDocumentsEveryKey walks the yaml keys of the Go types and fails when one has no row,
// with a type, a default and a meaning, in its section of scenarios/README.md.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, c := range []struct {
		section string
		typ     reflect.Type
	}{
		{"Top level", reflect.TypeOf(Scenario{})},
		{"layers[]", reflect.TypeOf(Layer{})},
		{"layers[].generate", reflect.TypeOf(Generate{})},
		{"layers[].generate.size", reflect.TypeOf(SizeDist{})},
		{"layers[].files[]", reflect.TypeOf(File{})},
		{"workload[]", reflect.TypeOf(Op{})},
		{"drivers[]", reflect.TypeOf(DriverSpec{})},
		{"sweep", reflect.TypeOf(Sweep{})},
		{"quick", reflect.TypeOf(Quick{})},
	} {
		sec := readmeSection(t, readme, c.section)
		keys := structFields(c.typ).keys
		if len(keys) == 0 {
			t.Errorf("%s has no yaml keys", c.typ)
		}
		for _, key := range keys {
			row := tableRow(sec, key)
			if len(row) != 4 || row[1] == "" || row[2] == "" || row[3] == "" {
				t.Errorf("README section %q does not document `%s` (%s) as | key | type | default | meaning |: %q", c.section, key, c.typ, row)
			}
		}
	}
	for _, title := range []string{"images", "containers", "Units", "Files the workload adds", "Defaults at a glance", "Limits"} {
		readmeSection(t, readme, title)
	}
	// Every value of every enum, and every op's key list.
	ops := readmeSection(t, readme, "workload[]")
	for _, vals := range [][]string{opNames(), metric.CacheModes, howValues(), kindValues(), fileTypes, sizeDists, backings} {
		for _, v := range vals {
			if !strings.Contains(readme, "`"+v+"`") {
				t.Errorf("README never mentions `%s`", v)
			}
		}
	}
	// The op table follows the key table (an op may share its name with a key: trace).
	opTable := ops
	if i := strings.Index(ops, "| op | measures | keys |"); i >= 0 {
		opTable = ops[i:]
	}
	for op, keys := range opKeysDoc() {
		row := tableRow(opTable, op)
		if row == nil {
			t.Errorf("README has no row for op %s", op)
			continue
		}
		var quoted []string
		for _, k := range keys {
			quoted = append(quoted, "`"+k+"`")
		}
		if got := row[len(row)-1]; got != strings.Join(quoted, ", ") {
			t.Errorf("README lists keys %q for %s, the code %q", got, op, strings.Join(quoted, ", "))
		}
	}
	n := len(commonOpKeys)
	common := "`" + strings.Join(commonOpKeys[:n-1], "`, `") + "` and `" + commonOpKeys[n-1] + "`"
	if !strings.Contains(ops, "every op also takes "+common) {
		t.Errorf("README does not say that every op takes %s", common)
	}
}

// TestREADMEDefaults pins the documented defaults to the constants Resolve uses.
func TestREADMEDefaults(t *testing.T) {
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, c := range []struct{ section, key, want string }{
		{"Top level", "samples", "10"},
		{"Top level", "warmup", "1"},
		{"layers[].generate", "depth", "4"},
		{"layers[].generate", "fanout", "8"},
		{"layers[].generate", "symlinks", "0.02"},
		{"layers[].generate", "root", "`usr/share/<layer name>`"},
		{"layers[].generate.size", "dist", "`lognormal`"},
		{"layers[].generate.size", "sigma", "1.5"},
		{"workload[]", "cache", "`warm`"},
		{"workload[]", "size", DefaultOpSize.String()},
		{"workload[]", "count", "create 100, delete 10, rename 10"},
		{"quick", "scale", "0.25"},
		{"quick", "samples", "3"},
		{"quick", "max_size", DefaultQuickMaxSize.String()},
	} {
		row := tableRow(readmeSection(t, readme, c.section), c.key)
		if len(row) < 3 || row[2] != c.want {
			t.Errorf("README %s `%s` default %q, want %q", c.section, c.key, row, c.want)
		}
	}
	consts := map[string]bool{
		"10": DefaultSamples == 10, "1": DefaultWarmup == 1, "4": DefaultGenDepth == 4, "8": DefaultFanout == 8,
		"0.02": DefaultSymlinks == 0.02, "1.5": DefaultSigma == 1.5, "0.25": DefaultQuickScale == 0.25,
		"3": DefaultQuickSamples == 3, "counts": DefaultCreateCount == 100 && DefaultDeleteCount == 10 && DefaultRenameCount == 10,
		"median": DefaultMedian == 4*units.KiB && DefaultMaxSize == 8*units.MiB,
	}
	for k, ok := range consts {
		if !ok {
			t.Errorf("the constant behind README default %s changed: update the README and this test", k)
		}
	}
}
