package scenario

import (
	"encoding/json"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/units"
)

// SchemaID is the $id of scenarios/schema.json.
const SchemaID = "https://github.com/seedbench/seedbench/scenarios/schema.json"

// JSONSchema returns the JSON Schema (draft 2020-12) of a scenario file, generated from the Go types
// with their yaml key names: strict objects (additionalProperties false), sizes as strings in the
// IEC grammar, scalar-or-list keys as oneOf, enums from the same lists validation uses.
// scenarios/schema.json is this output; a test fails when it is stale (go test -update rewrites it).
// The schema is for editors: Parse checks more (references between keys, ranges, paths).
func JSONSchema() ([]byte, error) {
	r := &jsonschema.Reflector{FieldNameTag: "yaml", ExpandedStruct: true, Mapper: func(t reflect.Type) *jsonschema.Schema {
		if t == reflect.TypeFor[units.Size]() { // one definition, referenced where a size is written
			return &jsonschema.Schema{Ref: "#/$defs/Size"}
		}
		return nil
	}}
	s := r.Reflect(&Scenario{})
	s.Definitions["Size"] = sizeSchema()
	s.ID = SchemaID
	s.Title = "seedbench scenario"
	s.Description = "A seedbench scenario: an image stack (layers, images, containers) and a file workload. Every key is documented in scenarios/README.md."
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func strEnum(vals ...[]string) *jsonschema.Schema {
	s := &jsonschema.Schema{Type: "string"}
	seen := map[string]bool{}
	for _, vs := range vals {
		for _, v := range vs {
			if !seen[v] {
				s.Enum = append(s.Enum, v)
				seen[v] = true
			}
		}
	}
	return s
}

func identSchema() *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Pattern: identRE.String(), MaxLength: ptr(uint64(maxIdentLen))}
}

func intMin(lo int) *jsonschema.Schema {
	return &jsonschema.Schema{Type: "integer", Minimum: json.Number(itoa(lo))}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func ptr[T any](v T) *T { return &v }

// scalarOrList lets a property be one item or a list of them.
func scalarOrListSchema(item *jsonschema.Schema) *jsonschema.Schema {
	return &jsonschema.Schema{OneOf: []*jsonschema.Schema{item, {Type: "array", Items: item, MinItems: ptr(uint64(1))}}}
}

func setProp(s *jsonschema.Schema, key string, p *jsonschema.Schema) {
	if s.Properties == nil {
		return
	}
	if _, ok := s.Properties.Get(key); ok {
		s.Properties.Set(key, p)
	}
}

// sizeSchema describes a units.Size: a string in the IEC grammar.
func sizeSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type: "string", Pattern: units.Pattern,
		Description: "A byte count with an IEC unit (" + units.Help + "), e.g. 16B, 4KiB, 1.5MiB.",
		Examples:    []any{"4KiB", "64MiB"},
	}
}

// JSONSchema describes Depth: `all`, a depth, or a list of depths.
func (Depth) JSONSchema() *jsonschema.Schema {
	level := &jsonschema.Schema{Type: "integer", Minimum: "1"}
	return &jsonschema.Schema{OneOf: []*jsonschema.Schema{
		{Type: "string", Const: "all"},
		level,
		{Type: "array", Items: level, MinItems: ptr(uint64(1))},
	}}
}

// JSONSchema describes Images: a mapping of image name to top layer.
func (Images) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type: "object", MinProperties: ptr(uint64(1)),
		PropertyNames:        identSchema(),
		AdditionalProperties: &jsonschema.Schema{Type: "string"},
	}
}

// JSONSchemaExtend adds patterns, enums and ranges to the scenario's top-level keys.
func (Scenario) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "name", identSchema())
	setProp(s, "samples", intMin(1))
	setProp(s, "warmup", intMin(0))
	setProp(s, "max_samples", intMin(1))
	setProp(s, "containers", &jsonschema.Schema{Type: "object", PropertyNames: identSchema(), AdditionalProperties: intMin(1)})
	if p, ok := s.Properties.Get("layers"); ok {
		p.MinItems = ptr(uint64(1))
	}
}

// JSONSchemaExtend adds name patterns to Layer.
func (Layer) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "name", identSchema())
	setProp(s, "parent", identSchema())
}

// JSONSchemaExtend adds ranges to Generate.
func (Generate) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "files", intMin(1))
	setProp(s, "dirs", intMin(1))
	setProp(s, "depth", intMin(1))
	setProp(s, "fanout", intMin(1))
	setProp(s, "symlinks", &jsonschema.Schema{Type: "number", Minimum: "0", Maximum: "1"})
}

// JSONSchemaExtend adds the dist enum to SizeDist.
func (SizeDist) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "dist", strEnum(sizeDists))
	setProp(s, "sigma", &jsonschema.Schema{Type: "number", ExclusiveMinimum: "0"})
}

// JSONSchemaExtend adds the type enum and the mode pattern to File.
func (File) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "type", strEnum(fileTypes))
	setProp(s, "mode", &jsonschema.Schema{Type: "string", Pattern: modeRE.String()})
}

// JSONSchemaExtend makes size, kind, cache and how scalar-or-list, adds the enums, and lists the keys
// each op takes.
func (Op) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "op", strEnum(opNames()))
	if p, ok := s.Properties.Get("size"); ok {
		setProp(s, "size", scalarOrListSchema(p.Items))
	}
	setProp(s, "kind", scalarOrListSchema(strEnum(kindValues())))
	setProp(s, "cache", scalarOrListSchema(strEnum(metric.CacheModes)))
	setProp(s, "how", scalarOrListSchema(strEnum(howValues())))
	setProp(s, "count", intMin(1))
	setProp(s, "files", intMin(1))
	setProp(s, "samples", intMin(1))
	setProp(s, "max_samples", intMin(1))
	for _, spec := range opSpecs {
		name := string(spec.kind)
		var keys []any
		for _, k := range spec.allowed() {
			keys = append(keys, k)
		}
		s.AllOf = append(s.AllOf, &jsonschema.Schema{
			If:   props("op", &jsonschema.Schema{Const: name}),
			Then: &jsonschema.Schema{PropertyNames: &jsonschema.Schema{Enum: keys}},
		})
	}
}

func props(key string, p *jsonschema.Schema) *jsonschema.Schema {
	m := jsonschema.NewProperties()
	m.Set(key, p)
	return &jsonschema.Schema{Properties: m, Required: []string{key}}
}

// JSONSchemaExtend lets a driver be a plain name or a mapping.
func (DriverSpec) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "name", identSchema())
	setProp(s, "driver", identSchema())
	setProp(s, "backing", strEnum(backings))
	obj := *s
	*s = jsonschema.Schema{OneOf: []*jsonschema.Schema{identSchema(), &obj}}
}

// JSONSchemaExtend adds ranges to Sweep.
func (Sweep) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "containers", &jsonschema.Schema{Type: "array", Items: intMin(1), MinItems: ptr(uint64(1))})
	setProp(s, "images", &jsonschema.Schema{Type: "array", Items: intMin(1), MinItems: ptr(uint64(1))})
}

// JSONSchemaExtend adds ranges to Quick.
func (Quick) JSONSchemaExtend(s *jsonschema.Schema) {
	setProp(s, "scale", &jsonschema.Schema{Type: "number", ExclusiveMinimum: "0", Maximum: "1"})
	setProp(s, "samples", intMin(1))
}
