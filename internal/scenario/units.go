package scenario

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

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

// unitHelp ends every size error, so the grammar is always one message away.
const unitHelp = "IEC units: B, KiB, MiB, GiB, TiB"

// sizePattern is the whole grammar; schema.json carries the same pattern.
const sizePattern = `^[0-9]+(\.[0-9]+)?(B|KiB|MiB|GiB|TiB)$`

var (
	sizeRE   = regexp.MustCompile(sizePattern)
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
		return 0, fmt.Errorf("invalid size %q: write a number and a unit, e.g. 4KiB (%s)", cut(s), unitHelp)
	}
	v.Mul(v, big.NewInt(int64(mult)))
	if frac != "" {
		f, _ := new(big.Int).SetString(frac, 10)
		f.Mul(f, big.NewInt(int64(mult)))
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
		q, r := new(big.Int).QuoRem(f, den, new(big.Int))
		if r.Sign() != 0 {
			return 0, fmt.Errorf("size %q is not a whole number of bytes: write it in a smaller unit (%s)", cut(s), unitHelp)
		}
		v.Add(v, q)
	}
	if !v.IsInt64() {
		return 0, fmt.Errorf("size %q is too large (%s)", cut(s), unitHelp)
	}
	return Size(v.Int64()), nil
}

// sizeError explains why s is not a size and, when the intent is clear, what to write instead.
func sizeError(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("empty size: write a number and a unit, e.g. 4KiB (%s)", unitHelp)
	}
	if squeezed := strings.Join(strings.Fields(s), ""); squeezed != s {
		if _, err := ParseSize(squeezed); err == nil {
			return fmt.Errorf("size %q contains spaces: write %s (%s)", cut(s), squeezed, unitHelp)
		}
	}
	m := looseRE.FindStringSubmatch(s)
	if m == nil || m[2] == "" || m[2] == "." {
		return fmt.Errorf("invalid size %q: write a number and a unit, e.g. 4KiB (%s)", cut(s), unitHelp)
	}
	sign, num, unit := m[1], m[2], m[3]
	switch {
	case sign == "-":
		return fmt.Errorf("size %q is negative: sizes are byte counts, e.g. 4KiB (%s)", cut(s), unitHelp)
	case sign == "+":
		return fmt.Errorf("invalid size %q: write %s (%s)", cut(s), strings.TrimSpace(s)[1:], unitHelp)
	case unit == "" && !bareNumR.MatchString(num):
		return fmt.Errorf("size %q has no unit: add one, e.g. %sMiB (%s)", cut(s), num, unitHelp)
	case unit == "":
		if n, err := strconv.ParseInt(num, 10, 64); err == nil && Size(n).String() != num+"B" {
			return fmt.Errorf("size %q has no unit: write %sB or %s (%s)", cut(s), num, Size(n), unitHelp)
		}
		return fmt.Errorf("size %q has no unit: write %sB (%s)", cut(s), num, unitHelp)
	}
	iec := map[byte]string{'b': "B", 'k': "KiB", 'm': "MiB", 'g': "GiB", 't': "TiB"}
	name, ok := iec[strings.ToLower(unit)[0]]
	suffix := strings.ToLower(unit[1:])
	if !ok || (suffix != "" && suffix != "b" && suffix != "i" && suffix != "ib") || (name == "B" && suffix != "") {
		return fmt.Errorf("size %q has an unknown unit %q: write e.g. 4KiB (%s)", cut(s), unit, unitHelp)
	}
	fix := num + name
	if unit == name || !sizeRE.MatchString(fix) {
		return fmt.Errorf("invalid size %q: write digits and a unit, e.g. 4KiB or 1.5MiB (%s)", cut(s), unitHelp)
	}
	if _, err := parseExact(fix); err != nil {
		return err
	}
	what := "ambiguous"
	if suffix == "b" {
		what = "decimal"
	}
	return fmt.Errorf("size %q uses the %s unit %q: write %s (%s)", cut(s), what, unit, fix, unitHelp)
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

// approx prints s with one decimal in the largest unit it reaches (65.0MiB), for humans; exact
// values print as String does.
func (s Size) approx() string {
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
		return fmt.Errorf("line %d: a size is a scalar such as 4KiB (%s)", n.Line, unitHelp)
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
