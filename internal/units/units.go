// Package units is the one grammar of byte counts seedbench reads and writes: IEC sizes (16B,
// 4KiB, 1.5MiB; never the ambiguous 4k or the decimal 4KB), and the saturating arithmetic that
// keeps estimates made of them from wrapping.
package units

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Size is a byte count, read and written in IEC units.
type Size int64

// IEC units, from the largest down; String picks the largest that divides the value exactly.
const (
	B   Size = 1
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

var iecUnits = []struct {
	name string
	size Size
}{{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"B", B}}

// Help ends every size error, so the grammar is always one message away.
const Help = "IEC units: B, KiB, MiB, GiB, TiB"

// Pattern is the whole grammar; schema.json carries the same pattern.
const Pattern = `^[0-9]+(\.[0-9]+)?(B|KiB|MiB|GiB|TiB)$`

var (
	sizeRE   = regexp.MustCompile(Pattern)
	looseRE  = regexp.MustCompile(`^\s*([+-]?)([0-9]*\.?[0-9]*)\s*([A-Za-z]*)\s*$`)
	bareNumR = regexp.MustCompile(`^[0-9]+$`)
)

// ParseSize parses a byte count with an IEC unit: 16B, 4KiB, 1.5MiB (a decimal must land on a whole
// byte). A bare number and decimal or ambiguous units (4k, 4K, 4KB, 4M, 4MB) are errors whose message
// gives the IEC spelling to write instead.
func ParseSize(s string) (Size, error) {
	if sizeRE.MatchString(s) {
		return parseExact(s)
	}
	return 0, sizeError(s)
}

func parseExact(s string) (Size, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	num, unit := s[:i], s[i:]
	var mult Size
	for _, u := range iecUnits {
		if u.name == unit {
			mult = u.size
		}
	}
	intPart, frac, _ := strings.Cut(num, ".")
	v, ok := new(big.Int).SetString(intPart, 10)
	if !ok {
		return 0, fmt.Errorf("invalid size %q: write a number and a unit, e.g. 4KiB (%s)", Clip(s), Help)
	}
	v.Mul(v, big.NewInt(int64(mult)))
	if frac != "" {
		f, _ := new(big.Int).SetString(frac, 10)
		f.Mul(f, big.NewInt(int64(mult)))
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
		q, r := new(big.Int).QuoRem(f, den, new(big.Int))
		if r.Sign() != 0 {
			return 0, fmt.Errorf("size %q is not a whole number of bytes: write it in a smaller unit (%s)", Clip(s), Help)
		}
		v.Add(v, q)
	}
	if !v.IsInt64() {
		return 0, fmt.Errorf("size %q is too large (%s)", Clip(s), Help)
	}
	return Size(v.Int64()), nil
}

// sizeError explains why s is not a size and, when the intent is clear, what to write instead.
func sizeError(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("empty size: write a number and a unit, e.g. 4KiB (%s)", Help)
	}
	if squeezed := strings.Join(strings.Fields(s), ""); squeezed != s {
		if _, err := ParseSize(squeezed); err == nil {
			return fmt.Errorf("size %q contains spaces: write %s (%s)", Clip(s), squeezed, Help)
		}
	}
	m := looseRE.FindStringSubmatch(s)
	if m == nil || m[2] == "" || m[2] == "." {
		return fmt.Errorf("invalid size %q: write a number and a unit, e.g. 4KiB (%s)", Clip(s), Help)
	}
	sign, num, unit := m[1], m[2], m[3]
	switch {
	case sign == "-":
		return fmt.Errorf("size %q is negative: sizes are byte counts, e.g. 4KiB (%s)", Clip(s), Help)
	case sign == "+":
		return fmt.Errorf("invalid size %q: write %s (%s)", Clip(s), strings.TrimSpace(s)[1:], Help)
	case unit == "" && !bareNumR.MatchString(num):
		return fmt.Errorf("size %q has no unit: add one, e.g. %sMiB (%s)", Clip(s), num, Help)
	case unit == "":
		if n, err := strconv.ParseInt(num, 10, 64); err == nil && Size(n).String() != num+"B" {
			return fmt.Errorf("size %q has no unit: write %sB or %s (%s)", Clip(s), num, Size(n), Help)
		}
		return fmt.Errorf("size %q has no unit: write %sB (%s)", Clip(s), num, Help)
	}
	iec := map[byte]string{'b': "B", 'k': "KiB", 'm': "MiB", 'g': "GiB", 't': "TiB"}
	name, ok := iec[strings.ToLower(unit)[0]]
	suffix := strings.ToLower(unit[1:])
	if !ok || (suffix != "" && suffix != "b" && suffix != "i" && suffix != "ib") || (name == "B" && suffix != "") {
		return fmt.Errorf("size %q has an unknown unit %q: write e.g. 4KiB (%s)", Clip(s), unit, Help)
	}
	fix := num + name
	if unit == name || !sizeRE.MatchString(fix) {
		return fmt.Errorf("invalid size %q: write digits and a unit, e.g. 4KiB or 1.5MiB (%s)", Clip(s), Help)
	}
	if _, err := parseExact(fix); err != nil {
		return err
	}
	what := "ambiguous"
	if suffix == "b" {
		what = "decimal"
	}
	return fmt.Errorf("size %q uses the %s unit %q: write %s (%s)", Clip(s), what, unit, fix, Help)
}

// String prints the shortest exact IEC form: 16B, 4KiB, 64MiB, 1536KiB.
func (s Size) String() string {
	if s == 0 {
		return "0B"
	}
	if s < 0 {
		if s == math.MinInt64 {
			return strconv.FormatInt(int64(s), 10) + "B"
		}
		return "-" + (-s).String()
	}
	for _, u := range iecUnits {
		if s%u.size == 0 {
			return strconv.FormatInt(int64(s/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// Approx prints s with one decimal in the largest unit it reaches (65.0MiB), for humans; exact
// values print as String does.
func (s Size) Approx() string {
	for _, u := range iecUnits {
		if s >= u.size || u.size == B {
			if s%u.size == 0 {
				return s.String()
			}
			return strconv.FormatFloat(float64(s)/float64(u.size), 'f', 1, 64) + u.name
		}
	}
	return s.String()
}

// MarshalText writes String's form (so a Size is a readable JSON value and map key).
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses ParseSize's grammar.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML writes String's form.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

// UnmarshalYAML parses a scalar node with ParseSize.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a size is a scalar such as 4KiB (%s)", n.Line, Help)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*s = v
	return nil
}

// SatAdd is a + b for non-negative a and b, saturating at the largest int64: a hostile scenario
// must give a huge count or estimate, never a wrapped negative one.
func SatAdd[T ~int64](a, b T) T {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// SatMul is a × b for non-negative a and b, saturating as SatAdd.
func SatMul[T ~int64](a, b T) T {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// maxQuoted is the longest value a message quotes whole; a longer one is cut, with its length.
const maxQuoted = 256

// Clip returns s, or its first 100 bytes and its length when it is longer than maxQuoted: a message
// quotes what is wrong, it does not echo a megabyte back.
func Clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	n := 100
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:n], len(s))
}
