package scenario

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics; a failure is a *Errors whose every problem has a line in the
// file; a success resolves (normal and quick) and renders.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml", "../../scenarios/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("fuzz.yaml", data)
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) || len(*errs) == 0 {
				t.Fatalf("error %T %v is not a non-empty *Errors", err, err)
			}
			// Lines as YAML counts them: \r\n, a lone \r and \n each end one.
			lines := 1 + bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) - bytes.Count(data, []byte("\r\n"))
			for _, e := range *errs {
				if e.Line < 1 || e.Line > lines || e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("problem %+v outside the file's %d lines", e, lines)
				}
			}
			return
		}
		for _, quick := range []bool{false, true} {
			p, err := Resolve(sc, ResolveOptions{Quick: quick})
			if err != nil {
				t.Fatalf("Parse accepted what Resolve rejects: %v", err)
			}
			if err := p.Describe(io.Discard); err != nil {
				t.Fatal(err)
			}
		}
	})
}
