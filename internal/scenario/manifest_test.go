package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/internal/units"
)

// TestManifest: a manifest's entries join their layer (files, dirs, links; whiteouts as delete), and
// a bad manifest is reported at its own file and line, each problem with the fix.
func TestManifest(t *testing.T) {
	p := mustResolve(t, "testdata/valid/manifest.yaml", ResolveOptions{})
	base, top := p.Layer("base"), p.Layer("top")
	var got []string
	for _, f := range base.Files {
		if !strings.HasPrefix(f.Path, WorkloadDir+"/") {
			got = append(got, f.Type+" "+f.Path+" "+f.Mode+" "+f.Size.String()+" "+f.Target)
		}
	}
	want := []string{
		"dir etc 0755 0B ", "file etc/hostname 0644 16B ", "dir usr 0755 0B ", "dir usr/bin 0755 0B ",
		"file usr/bin/bash 0755 1280KiB ", "symlink usr/bin/rbash  0B bash", "file usr/bin/perl5.36.0 0755 3840KiB ",
		"hardlink usr/bin/perl  0B usr/bin/perl5.36.0", "dir usr/share 0755 0B ", "dir usr/share/doc 0755 0B ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("base files:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(top.Delete) != 1 || top.Delete[0] != "usr/share/doc" {
		t.Errorf("top delete %v", top.Delete)
	}

	_, err := Load("testdata/manifests/bad-scenario.yaml")
	var errs *Errors
	if !errors.As(err, &errs) || len(*errs) != 7 {
		t.Fatalf("bad manifest: %v", err)
	}
	for i, want := range []string{
		"bad.tsv:1: unknown type \"x\"", "bad.tsv:2: size \"lots\" must be a byte count", "bad.tsv:3: path \"/abs\" must be relative",
		"bad.tsv:4: a symlink needs a TARGET", "bad.tsv:5: a file has no TARGET", "bad.tsv:6: size 5 on a dir",
		"bad-scenario.yaml:7: layers[1].manifest: open ",
	} {
		if !strings.Contains((*errs)[i].Error(), want) {
			t.Errorf("problem %d: %q, want %q", i, (*errs)[i].Error(), want)
		}
	}
}

// TestManifestQuick: --quick keeps a stable sample of a manifest's files (a hash of the path), every
// directory, and no hardlink to a file it left out.
func TestManifestQuick(t *testing.T) {
	var entries []ManifestEntry
	entries = append(entries, ManifestEntry{Type: 'd', Mode: 0o755, Path: "d"})
	for i := range 2000 {
		entries = append(entries, ManifestEntry{Type: 'f', Mode: 0o644, Size: 100, Path: fmt.Sprintf("d/f%05d", i)})
	}
	entries = append(entries, ManifestEntry{Type: 'h', Mode: 0o644, Path: "d/link", Target: entries[1].Path})
	var b bytes.Buffer
	if err := WriteManifest(&b, entries); err != nil {
		t.Fatal(err)
	}
	back, err := ParseManifest("m.tsv", &b)
	if err != nil || len(back) != len(entries) || back[5] != entries[5] {
		t.Fatalf("round trip: %v, %d entries", err, len(back))
	}
	kept := 0
	for _, e := range entries[1:2001] {
		if keepInQuick(e.Path, 0.1) {
			kept++
		}
	}
	if kept < 150 || kept > 250 {
		t.Errorf("kept %d of 2000 at scale 0.1", kept)
	}
}

func TestParseTrace(t *testing.T) {
	good := TraceHeader + "\n# command: cat\nstat\t/usr/bin/cat\nmiss\t/etc/ld.so.preload\nopen\t/etc/x\nread\t/etc/x\t0\t4096\nreadlink\t/bin\n"
	tr, err := ParseTrace("traces/cat.trace", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Name != "cat" || len(tr.Entries) != 5 || tr.Entries[3].Off != 0 || tr.Entries[3].Len != 4096 || tr.Comment[0] != "command: cat" {
		t.Errorf("%+v", tr)
	}
	var b strings.Builder
	WriteTrace(&b, tr)
	if b.String() != good {
		t.Errorf("written back:\n%s\nwant:\n%s", b.String(), good)
	}
	for _, c := range []struct{ in, want string }{
		{"stat\t/x\n", `t.trace:1: not a seedbench trace`},
		{TraceHeader + "\nwrite\t/x\n", `t.trace:2: unknown access "write"`},
		{TraceHeader + "\nread\t/x\t0\n", `t.trace:2: read takes 4 tab-separated fields, got 3`},
		{TraceHeader + "\nread\t/x\t-1\t5\n", `t.trace:2: read /x: offset "-1"`},
		{TraceHeader + "\nstat\tetc/x\n", `t.trace:2: path "etc/x": an absolute path`},
		{TraceHeader + "\n# nothing\n", `the trace has no accesses`},
	} {
		if _, err := ParseTrace("t.trace", strings.NewReader(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.in, err, c.want)
		}
	}
}

// The flagship's debian, emacs and apache2 layers are their manifests, entry for entry: the files
// and bytes of the real layers scripts/realstack built; --quick keeps a stable tenth of the files.
func TestFlagshipShape(t *testing.T) {
	count := func(file string) (files int, bytes units.Size) {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		es, err := ParseManifest(file, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.Type == 'f' {
				files++
				bytes += units.Size(e.Size)
			}
		}
		return files, bytes
	}
	for _, quick := range []bool{false, true} {
		p := mustResolve(t, "../../scenarios/debian-emacs-apache.yaml", ResolveOptions{Quick: quick})
		for _, name := range []string{"debian", "emacs", "apache2"} {
			wantFiles, wantBytes := count("../../scenarios/manifests/" + name + ".tsv")
			files, bytes := 0, units.Size(0)
			for _, f := range p.Layer(name).Files {
				if f.Type == "file" && !strings.HasPrefix(f.Path, WorkloadDir+"/") {
					files++
					bytes += f.Size
				}
			}
			if !quick && (files != wantFiles || bytes != wantBytes) {
				t.Errorf("%s: %d files, %s; its manifest %d, %s", name, files, bytes, wantFiles, wantBytes)
			}
			if share := float64(files) / float64(wantFiles); quick && (share < 0.08 || share > 0.12) {
				t.Errorf("quick %s: %d of the manifest's %d files, want about a tenth", name, files, wantFiles)
			}
		}
	}
}
