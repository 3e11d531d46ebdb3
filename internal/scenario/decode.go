package scenario

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/seedbench/seedbench/internal/spell"
	"github.com/seedbench/seedbench/internal/units"
)

// MaxFileSize is the largest scenario file Load reads. A scenario describes its layers; a real
// image's file list belongs in a manifest of its own, so a few megabytes is already a very large
// scenario, and the YAML parser holds a node per value in memory.
const MaxFileSize = 16 << 20

// Load reads a scenario file and parses it with Parse. The path must name a regular file (a FIFO or
// a device is refused before anything is read from it, a FIFO without waiting for a writer) of at
// most MaxFileSize bytes.
func Load(path string) (*Scenario, error) {
	data, err := readBounded(path, MaxFileSize)
	if err != nil {
		if strings.Contains(err.Error(), "more than") {
			err = fmt.Errorf("%w: a scenario file may be no larger; put large file lists in a manifest", err)
		} else if strings.Contains(err.Error(), "not a regular file") {
			err = fmt.Errorf("%w: name a scenario file (.yaml)", err)
		}
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Parse(path, data)
}

// fileKind names what a non-regular file is.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

// Parse decodes and validates one scenario file's bytes; file names it in errors and in the
// Scenario. Decoding is strict (an unknown key anywhere is an error) and every problem is reported at
// once: the error is a *Errors, one FILE:LINE: field: message per problem, sorted by line. Parse
// never panics, whatever the input.
func Parse(file string, data []byte) (*Scenario, error) {
	d := &decoder{errorList: errorList{file: file, pos: positions{}}}
	root := d.parseYAML(data)
	if root == nil {
		return nil, d.err()
	}
	sum := sha256.Sum256(data)
	sc := &Scenario{File: file, SHA256: hex.EncodeToString(sum[:])}
	d.pos[""] = root.Line
	d.decodeValue(root, reflect.ValueOf(sc).Elem(), "", root.Line, false)
	sc.pos = d.pos
	if d.limitAt == 0 {
		d.loadManifests(sc)
		d.loadTraces(sc)
	}
	if d.limitAt > 0 {
		// The document expands past the budget: what follows the limit is its consequence, not
		// more problems of the file.
		d.errs = d.errs[:d.limitAt]
		return nil, d.err()
	}
	validate(sc, &d.errorList, nil)
	if err := d.err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// maxNodes bounds the work of one decode: aliases can make a small file expand enormously. A
// scenario with thousands of explicit files stays well below it.
const maxNodes = 1 << 18

// maxScalar bounds every value: the longest is a path or a symlink target (maxPathLen), and a number
// or a name of megabytes would only cost time to parse and to quote.
const maxScalar = 4096

type decoder struct {
	errorList
	nodes int
	// limitAt is how many problems were recorded when the node budget ran out (0 = it did not).
	limitAt int
	// aliasLine is the line of the alias being decoded (0 = none): what an alias expands to stands
	// where the alias is written, not where its anchor is, and its problems are reported there.
	aliasLine int
}

// addAt records a problem at line, or at the alias being decoded.
func (d *decoder) addAt(line int, path, format string, args ...any) {
	if d.aliasLine > 0 {
		line = d.aliasLine
	}
	d.errorList.addAt(line, path, format, args...)
}

// line is where a node of the document stands: its own line, or the alias being decoded.
func (d *decoder) line(n *yaml.Node) int {
	if d.aliasLine > 0 {
		return d.aliasLine
	}
	return n.Line
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML returns the document's root node, or nil after recording why there is none.
func (d *decoder) parseYAML(data []byte) (root *yaml.Node) {
	defer func() {
		// The YAML library should not panic, but a panic must not escape Parse either.
		if r := recover(); r != nil {
			root = nil
			d.addAt(1, "", "malformed YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.addAt(1, "", "the file is empty: a scenario needs at least name, seed, layers and images (see scenarios/README.md)")
			return nil
		}
		d.yamlError(data, err)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(data, err)
		return nil
	default:
		d.addAt(max(next.Line-1, 1), "", "a second YAML document starts here: a scenario file holds one document (remove the `---`)")
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.addAt(1, "", "the file holds no YAML document")
		return nil
	}
	root = doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		d.addAt(1, "", "the file is empty: a scenario needs at least name, seed, layers and images (see scenarios/README.md)")
		return nil
	}
	return root
}

// yamlError records a syntax error at the line the YAML library names, or the best guess at it.
func (d *decoder) yamlError(data []byte, err error) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if strings.HasPrefix(m[2], "did not find expected") {
			// The YAML library reports parser errors (unlike scanner errors) with a 0-based line.
			line = min(line+1, max(bytes.Count(bytes.TrimRight(data, "\n"), []byte("\n"))+1, 1))
		}
		d.addAt(max(line, 1), "", "malformed YAML: %s", m[2])
		return
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 1
	switch {
	case strings.Contains(msg, "control characters"):
		if i := bytes.IndexFunc(data, func(r rune) bool {
			return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f
		}); i >= 0 {
			line = lineAt(data, i)
		}
	case strings.Contains(msg, "UTF-8") || strings.Contains(msg, "utf-8"):
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				line = lineAt(data, i)
				break
			}
			i += n
		}
	case strings.Contains(msg, "anchor '"):
		name := msg[strings.Index(msg, "anchor '")+len("anchor '"):]
		name, _, _ = strings.Cut(name, "'")
		sigil := "&"
		if strings.Contains(msg, "referenced") {
			sigil = "*"
		}
		if i := bytes.Index(data, []byte(sigil+name)); i >= 0 {
			line = lineAt(data, i)
		}
	}
	d.addAt(line, "", "malformed YAML: %s", msg)
}

func lineAt(data []byte, off int) int { return bytes.Count(data[:off], []byte("\n")) + 1 }

// resolve follows aliases and counts the node against the decode budget.
func (d *decoder) resolve(n *yaml.Node, path string) *yaml.Node {
	for hops := 0; n != nil && n.Kind == yaml.AliasNode; hops++ {
		if hops > 64 || n.Alias == nil {
			d.addAt(n.Line, path, "alias %q does not resolve to a value", n.Value)
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	d.nodes++
	if d.nodes == maxNodes {
		d.addAt(n.Line, path, "the document expands to more than %d YAML nodes (aliases?): write a smaller scenario", maxNodes)
		d.limitAt = len(d.errs)
	}
	if d.nodes >= maxNodes {
		return nil
	}
	if n.Kind == yaml.ScalarNode && len(n.Value) > maxScalar {
		d.addAt(n.Line, path, "a value of %d bytes: values are at most %d bytes (a path's most)", len(n.Value), maxScalar)
		return nil
	}
	if tag := n.ShortTag(); !standardTags[tag] {
		d.addAt(n.Line, path, "YAML tag %s is not supported: remove it", n.Tag)
		return nil
	}
	return n
}

var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true,
	"!!map": true, "!!seq": true, "!!timestamp": true, "!!binary": true, "!!merge": true,
}

var (
	sizeType   = reflect.TypeOf(units.Size(0))
	depthType  = reflect.TypeOf(Depth{})
	imagesType = reflect.TypeOf(Images(nil))
	driverType = reflect.TypeOf(DriverSpec{})
)

// scalarOrList are list fields that also accept a single scalar (size: 4KiB ≡ size: [4KiB]).
var scalarOrList = map[string]bool{"Op.size": true, "Op.kind": true, "Op.cache": true, "Op.how": true}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		if n.Style&yaml.TaggedStyle != 0 {
			return n.Tag + " " + strconv.Quote(v)
		}
		return strconv.Quote(v)
	}
	return "nothing"
}

// decodeValue decodes n into v; path names the field and line is where its key is written.
// scalarOK lets a list field take a single scalar.
func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, path string, line int, scalarOK bool) {
	if n != nil && n.Kind == yaml.AliasNode && d.aliasLine == 0 {
		d.aliasLine = n.Line
		defer func() { d.aliasLine = 0 }()
	}
	if n = d.resolve(n, path); n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		d.addAt(line, path, "has no value: write one or remove the key")
		return
	}
	d.decodeNode(n, v, path, line, scalarOK)
}

// decodeNode decodes a resolved, non-null node.
func (d *decoder) decodeNode(n *yaml.Node, v reflect.Value, path string, line int, scalarOK bool) {
	switch v.Type() {
	case sizeType:
		d.decodeSize(n, v, path)
		return
	case depthType:
		d.decodeDepth(n, v.Addr().Interface().(*Depth), path)
		return
	case imagesType:
		d.decodeImages(n, v.Addr().Interface().(*Images), path)
		return
	case driverType:
		if n.Kind == yaml.ScalarNode {
			ds := v.Addr().Interface().(*DriverSpec)
			ds.Line = line
			ds.Name, _ = d.str(n, path)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decodeNode(n, p.Elem(), path, line, scalarOK)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path, line)
	case reflect.Slice:
		d.decodeSlice(n, v, path, scalarOK)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if s, ok := d.str(n, path); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if i, ok := d.integer(n, path); ok {
			if v.OverflowInt(i) {
				d.addAt(n.Line, path, "%d is out of range", i)
				return
			}
			v.SetInt(i)
		}
	case reflect.Float32, reflect.Float64:
		if f, ok := d.number(n, path); ok {
			v.SetFloat(f)
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.addAt(n.Line, path, "expected true or false, got %s", describe(n))
			return
		}
		var b bool
		if err := n.Decode(&b); err == nil {
			v.SetBool(b)
		}
	default:
		d.addAt(n.Line, path, "cannot decode into %s", v.Type())
	}
}

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addAt(n.Line, path, "expected a string, got %s", describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
		// A number written for a string keeps its text: mode: 0755 is the string "0755".
		return n.Value, true
	}
	d.addAt(n.Line, path, "expected a string, got %s: quote it", describe(n))
	return "", false
}

func (d *decoder) integer(n *yaml.Node, path string) (int64, bool) {
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				d.addAt(n.Line, path, "integer %s is out of range", n.Value)
				return 0, false
			}
			return i, true
		case "!!float":
			// 1e6 is a fine way to write a count, as long as it is a whole number.
			var f float64
			err := n.Decode(&f)
			switch {
			case err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53:
				return int64(f), true
			case err == nil && f == math.Trunc(f):
				d.addAt(n.Line, path, "%s is out of range", n.Value)
			default:
				d.addAt(n.Line, path, "expected a whole number, got %s", n.Value)
			}
			return 0, false
		}
	}
	d.addAt(n.Line, path, "expected an integer, got %s", describe(n))
	return 0, false
}

func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
		d.addAt(n.Line, path, "expected a finite number, got %s", n.Value)
		return 0, false
	}
	d.addAt(n.Line, path, "expected a number, got %s", describe(n))
	return 0, false
}

func (d *decoder) decodeSize(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.addAt(n.Line, path, "expected a size such as 4KiB, got %s (%s)", describe(n), units.Help)
		return
	}
	s, err := units.ParseSize(n.Value)
	if err != nil {
		d.addAt(n.Line, path, "%v", err)
		return
	}
	v.SetInt(int64(s))
}

const depthHelp = "depth is `all`, a depth (1 = the image's top layer) or a list of depths, e.g. [1, 2]"

func (d *decoder) decodeDepth(n *yaml.Node, dp *Depth, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" && n.Value == "all" {
			dp.All = true
			return
		}
		if n.ShortTag() != "!!int" {
			d.addAt(n.Line, path, "%s; got %s", depthHelp, describe(n))
			return
		}
		if i, ok := d.integer(n, path); ok {
			dp.Levels = []int{int(clampInt(i))}
		}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			d.addAt(n.Line, path, "empty list: %s", depthHelp)
			return
		}
		dp.Levels = []int{}
		for i, c := range n.Content {
			p := index(path, i)
			if c = d.resolve(c, p); c == nil {
				continue
			}
			d.pos[p] = d.line(c)
			if c.Kind != yaml.ScalarNode || c.ShortTag() != "!!int" {
				d.addAt(c.Line, p, "%s; got %s", depthHelp, describe(c))
				continue
			}
			if x, ok := d.integer(c, p); ok {
				dp.Levels = append(dp.Levels, int(clampInt(x)))
			}
		}
	default:
		d.addAt(n.Line, path, "%s; got %s", depthHelp, describe(n))
	}
}

// clampInt keeps a parsed integer inside int32 so later arithmetic cannot overflow; anything that
// large fails validation anyway.
func clampInt(i int64) int64 { return min(max(i, math.MinInt32), math.MaxInt32) }

func (d *decoder) decodeImages(n *yaml.Node, im *Images, path string) {
	if n.Kind != yaml.MappingNode {
		d.addAt(n.Line, path, "expected a mapping of image name to top layer, e.g. {web: apache2}, got %s", describe(n))
		return
	}
	*im = Images{}
	for _, p := range d.pairs(n, path) {
		img := Image{Name: p.key, Line: d.line(p.k)}
		d.decodeValue(p.v, reflect.ValueOf(&img.Top).Elem(), p.path, d.line(p.k), false)
		*im = append(*im, img)
	}
}

type pair struct {
	key  string
	path string
	k, v *yaml.Node
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// pairs lists a mapping's entries, recording each key's line and reporting duplicate, merge and
// non-scalar keys.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	out := make([]pair, 0, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.resolve(n.Content[i], path)
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" {
			d.addAt(k.Line, path, "a key must be a plain string, got %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" || k.Value == "<<" {
			d.addAt(k.Line, path, "merge keys (<<) are not supported: write the keys out")
			continue
		}
		p := join(path, k.Value)
		if !plainKeyRE.MatchString(k.Value) {
			p = fmt.Sprintf("%s[%q]", path, k.Value)
		}
		if first, dup := seen[k.Value]; dup {
			d.addAt(k.Line, p, "duplicate key (first at line %d): keep one", first)
			continue
		}
		seen[k.Value] = d.line(k)
		d.pos[p] = d.line(k)
		out = append(out, pair{key: k.Value, path: p, k: k, v: n.Content[i+1]})
	}
	return out
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addAt(n.Line, path, "expected a mapping, got %s", describe(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.addAt(n.Line, path, "cannot decode into %s", v.Type())
		return
	}
	m := reflect.MakeMap(v.Type())
	for _, p := range d.pairs(n, path) {
		e := reflect.New(v.Type().Elem()).Elem()
		d.decodeValue(p.v, e, p.path, d.line(p.k), false)
		m.SetMapIndex(reflect.ValueOf(p.key).Convert(v.Type().Key()), e)
	}
	v.Set(m)
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string, scalarOK bool) {
	items := n.Content
	switch {
	case n.Kind == yaml.SequenceNode:
	case scalarOK && n.Kind == yaml.ScalarNode:
		items = []*yaml.Node{n}
	case scalarOK:
		d.addAt(n.Line, path, "expected one value or a list of values, got %s", describe(n))
		return
	default:
		d.addAt(n.Line, path, "expected a list, got %s: write [ … ]", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, c := range items {
		p := index(path, i)
		if n.Kind == yaml.ScalarNode {
			p = path // a single scalar: its errors name the field, not an element
		} else {
			d.pos[p] = d.line(c)
		}
		d.decodeValue(c, s.Index(i), p, d.line(c), false)
	}
	v.Set(s)
}

// fields describes a struct type's yaml keys.
type fields struct {
	index map[string]int // key → field index
	keys  []string       // in declaration order
	line  int            // index of the Line field, -1 if none
}

var fieldCache sync.Map // reflect.Type → fields

func structFields(t reflect.Type) fields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(fields)
	}
	f := fields{index: map[string]int{}, line: -1}
	defer func() { fieldCache.Store(t, f) }()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if sf.Name == "Line" && sf.Type.Kind() == reflect.Int {
			f.line = i
		}
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		f.index[name] = i
		f.keys = append(f.keys, name)
	}
	return f
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, line int) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.addAt(n.Line, path, "expected a mapping (key: value), got %s", describe(n))
		return
	}
	f := structFields(t)
	if f.line >= 0 {
		v.Field(f.line).SetInt(int64(line))
	}
	for _, p := range d.pairs(n, path) {
		i, ok := f.index[p.key]
		if !ok {
			d.addAt(p.k.Line, p.path, "unknown key %q%s: the keys here are %s", p.key, suggest(p.key, f.keys), strings.Join(f.keys, ", "))
			continue
		}
		d.decodeValue(p.v, v.Field(i), p.path, d.line(p.k), scalarOrList[t.Name()+"."+p.key])
	}
}

// suggest returns ` (did you mean "x"?)` for the closest known key, or "" (spell.Suggest).
var suggest = spell.Suggest

// sortedKeys returns m's keys in order, for deterministic messages.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
