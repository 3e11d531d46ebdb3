package scenario

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"sort"
	"testing"

	"github.com/seedbench/seedbench/internal/units"
)

var update = flag.Bool("update", false, "rewrite scenarios/schema.json and the golden files")

const schemaFile = "../../scenarios/schema.json"

func TestSchemaUpToDate(t *testing.T) {
	got, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./internal/scenario -update", schemaFile)
	}
}

// TestSchemaShape checks the generated schema against the Go types it comes from.
func TestSchemaShape(t *testing.T) {
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		ID         string                     `json:"$id"`
		Props      map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
		Additional *bool                      `json:"additionalProperties"`
		Defs       map[string]struct {
			Props      map[string]map[string]any `json:"properties"`
			Additional json.RawMessage           `json:"additionalProperties"`
			Pattern    string                    `json:"pattern"`
			OneOf      []any                     `json:"oneOf"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range s.Props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := append([]string(nil), structFields(reflect.TypeOf(Scenario{})).keys...)
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("top-level properties %v, want %v", keys, want)
	}
	if !reflect.DeepEqual(s.Required, []string{"name", "seed", "layers", "images"}) {
		t.Errorf("required %v", s.Required)
	}
	if s.Additional == nil || *s.Additional {
		t.Error("top level allows additional properties")
	}
	for _, name := range []string{"Layer", "Generate", "SizeDist", "File", "Op", "Sweep", "Quick"} {
		if d := s.Defs[name]; string(d.Additional) != "false" || len(d.Props) == 0 {
			t.Errorf("$defs.%s is not a strict object", name)
		}
	}
	if s.Defs["Size"].Pattern != units.Pattern {
		t.Errorf("Size pattern %q", s.Defs["Size"].Pattern)
	}
	for _, k := range []string{"size", "kind", "cache", "how"} {
		if len(s.Defs["Op"].Props[k]["oneOf"].([]any)) != 2 {
			t.Errorf("Op.%s is not scalar-or-list", k)
		}
	}
	if len(s.Defs["DriverSpec"].OneOf) != 2 || len(s.Defs["Depth"].OneOf) != 3 {
		t.Error("DriverSpec or Depth lost its oneOf")
	}
}
