package gate

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTrialsFilesCompatible: the committed trials files (results/gate, shown in RESULTS.md) read, and
// write back byte for byte.
func TestTrialsFilesCompatible(t *testing.T) {
	for _, c := range []struct {
		file  string
		read  func(string) (any, error)
		write func(string, any) error
	}{
		{"trials.json", func(p string) (any, error) { return ReadTrials(p) }, func(p string, v any) error { return WriteTrials(p, v.(*Trials)) }},
		{"paired-trials.json", func(p string) (any, error) { return ReadPairedTrials(p) }, func(p string, v any) error { return WritePairedTrials(p, v.(*PairedTrials)) }},
	} {
		path := filepath.Join("..", "..", "results", "gate", c.file)
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		v, err := c.read(path)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), c.file)
		if err := c.write(out, v); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(out); !bytes.Equal(got, want) || len(got) < 1000 {
			t.Errorf("%s written back differs (%d bytes, want %d)", path, len(got), len(want))
		}
	}
}

// TestNoiseFileRoundTrip: a noise file reads back as it was learnt, and writing it again gives the
// same bytes; an existing file is replaced whole, with no temporary file left beside it.
func TestNoiseFileRoundTrip(t *testing.T) {
	n := learn(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "noise.json")
	if err := os.WriteFile(path, []byte("an older, longer file that must not survive in part"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteNoise(path, n); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	back, err := ReadNoise(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, n) {
		t.Errorf("read back %+v, want %+v", back, n)
	}
	if err := WriteNoise(path, back); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, first) || !bytes.HasPrefix(first, []byte("{\n  \"schema\": \"seedbench/noise/v1\",\n")) || !bytes.HasSuffix(first, []byte("}\n")) {
		t.Errorf("written twice: %d then %d bytes, starting %q", len(first), len(again), first[:min(40, len(first))])
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v (%v), want 0644", fi.Mode(), err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("%d files beside the noise file, want none", len(es)-1)
	}
	if err := WriteNoise(filepath.Join(dir, "missing", "noise.json"), n); err == nil || !strings.HasPrefix(err.Error(), "noise: ") {
		t.Errorf("into a missing directory: %v", err)
	}
}

// TestReadRefuses: a file of another format, a torn or malformed one, one that is missing and one
// that is not a regular file are errors that name the file and the format wanted, at once.
func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo.json")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	trials := filepath.Join("..", "..", "results", "gate", "trials.json")
	result := write("result.json", `{"schema": "seedbench/result/v1", "scenario": {"name": "s"}}`)
	for _, c := range []struct {
		path string
		read func(string) error
		want string
	}{
		{trials, readNoise, `noise: ` + trials + `: schema "seedbench/trials/v1", want "seedbench/noise/v1"`},
		{result, readNoise, `noise: ` + result + `: schema "seedbench/result/v1", want "seedbench/noise/v1"`},
		{result, readTrials, `trials: ` + result + `: schema "seedbench/result/v1", want "seedbench/trials/v1"`},
		{trials, readPaired, `paired trials: ` + trials + `: schema "seedbench/trials/v1", want "` + PairedTrialsSchema + `"`},
		{fifo, readPaired, "paired trials: " + fifo + " is not a regular file: name a paired trials file (.json)"},
		{write("none.json", `{"classes": []}`), readNoise, `schema "", want "seedbench/noise/v1"`},
		{write("torn.json", `{"schema": "seedbench/noise/v1", "classes": [`), readNoise, "torn.json: unexpected end of JSON input"},
		{write("wrong.json", `{"schema": "seedbench/noise/v1", "runs": 3}`), readNoise, "wrong.json: json: cannot unmarshal number"},
		{write("array.json", `[]`), readTrials, "array.json: json: cannot unmarshal array"},
		{filepath.Join(dir, "missing.json"), readTrials, "trials: open " + filepath.Join(dir, "missing.json") + ": no such file"},
		{fifo, readNoise, "noise: " + fifo + " is not a regular file: name a noise file (.json)"},
		{"/dev/zero", readTrials, "trials: /dev/zero is not a regular file: name a trials file"},
		{dir, readTrials, "trials: " + dir + " is not a regular file"},
	} {
		start := time.Now()
		err := c.read(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.path, err, c.want)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s took %v", c.path, took)
		}
	}
}

func readNoise(p string) error  { _, err := ReadNoise(p); return err }
func readTrials(p string) error { _, err := ReadTrials(p); return err }
func readPaired(p string) error { _, err := ReadPairedTrials(p); return err }
