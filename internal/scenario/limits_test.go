package scenario

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestLimits: absurdly long or deep inputs fail fast with a clear message.
func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: deep\nseed: 1\nlayers:\n")
	for i := range 130 {
		fmt.Fprintf(&b, "  - name: l%d\n", i)
	}
	b.WriteString("images: {app: l129, ok: l100}\nworkload: [{op: lookup, image: ok}]\n")
	wantErr(t, b.String(), "images.app", "more than 128 layers")

	b.Reset()
	b.WriteString("name: wide\nseed: 1\nlayers:\n")
	for i := range 1001 {
		fmt.Fprintf(&b, "  - {name: l%d, parent: scratch}\n", i)
	}
	b.WriteString("images: {app: l1}\n")
	wantErr(t, b.String(), "layers", "1001 layers, more than 1000")

	// Aliases multiply nodes: the decoder stops at its budget instead of expanding them all.
	b.Reset()
	b.WriteString("name: bomb\nseed: 1\nx: &f [")
	for range 100 {
		b.WriteString("{path: a, size: 1KiB}, ")
	}
	b.WriteString("]\ny: &l {name: a, files: *f}\nlayers: [")
	for range 20000 {
		b.WriteString("*l, ")
	}
	b.WriteString("]\nimages: {app: a}\n")
	wantErr(t, b.String(), "", "expands to more than")
	// Past the budget nothing more is reported: the two unknown keys before it, and it.
	_, err := Parse("bomb.yaml", []byte(b.String()))
	var bomb *Errors
	if !errors.As(err, &bomb) || len(*bomb) != 3 || !strings.Contains((*bomb)[2].Msg, "expands to more than") {
		t.Errorf("after the node budget: %v", err)
	}

	// However many problems, the report stays readable.
	b.Reset()
	b.WriteString("name: many\nseed: 1\nlayers:\n  - name: a\n    files:\n")
	for range 2000 {
		b.WriteString("      - {path: /a}\n")
	}
	b.WriteString("images: {app: a}\n")
	_, err = Parse("many.yaml", []byte(b.String()))
	var errs *Errors
	if !errors.As(err, &errs) || len(*errs) != maxErrors+1 || !strings.Contains((*errs)[maxErrors].Msg, "1500 more problems") {
		t.Errorf("got %d problems, want %d and a count of the rest", len(*errs), maxErrors+1)
	}
}

func wantErr(t *testing.T, src, field, msg string) {
	t.Helper()
	_, err := Parse("x.yaml", []byte(src))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want *Errors, got %v", err)
	}
	for _, e := range *errs {
		if (field == "" || e.Field == field) && strings.Contains(e.Msg, msg) {
			return
		}
	}
	t.Errorf("no problem %s: %s among\n%.2000s", field, msg, err)
}
