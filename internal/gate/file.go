package gate

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// The gate's files — noise floors (NoiseSchema), trials (TrialsSchema) and paired trials
// (PairedTrialsSchema) — are indented JSON objects that name their format in a "schema" field.
// readJSON and writeJSON are their one reader and writer.

// readJSON reads a file of the format kind ("noise", "trials", "paired trials") whose schema must be
// schema. Its errors begin with kind and name the file.
func readJSON[T any](path, kind, schema string) (*T, error) {
	// O_NONBLOCK: a FIFO given by mistake opens without waiting for a writer, then is refused.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s is not a regular file: name a %s file (.json)", kind, path, kind)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", kind, path, err)
	}
	// The schema first, so that another format is named as such, not as a field of the wrong type.
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", kind, path, err)
	}
	if head.Schema != schema {
		return nil, fmt.Errorf("%s: %s: schema %q, want %q", kind, path, head.Schema, schema)
	}
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", kind, path, err)
	}
	return v, nil
}

// writeJSON writes v to path as indented JSON and a newline, atomically: a reader sees the old file
// or the whole new one, never a torn write (a temporary file beside path, synced, renamed over it).
// Its errors begin with kind and name the file.
func writeJSON(path, kind string, v any) (err error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %s: %w", kind, path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("%s: %s: %w", kind, path, err)
		}
	}()
	if _, err = tmp.Write(append(b, '\n')); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil { // CreateTemp makes 0600
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
