package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tarEntry is one entry of a test layer: a file (Body), a directory, a link or a device node.
type tarEntry struct {
	h    tar.Header
	body string
}

func file(name, body string, mode int64) tarEntry {
	return tarEntry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}, body}
}

// writeImage writes an OCI image layout holding one image whose layers are the given entry lists
// (gzip'd, as a registry serves them).
func writeImage(t *testing.T, dir string, layers ...[]tarEntry) {
	t.Helper()
	var ls []v1.Layer
	for _, es := range layers {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, e := range es {
			if err := tw.WriteHeader(&e.h); err != nil {
				t.Fatal(err)
			}
			io.WriteString(tw, e.body)
		}
		tw.Close()
		data := b.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "test:1"})); err != nil {
		t.Fatal(err)
	}
}

// TestRunImage replays a stack whose lower layers come from an OCI image layout — regular files,
// directories, a symlink, a hardlink, a device node, a FIFO, and in the upper image layer a whiteout
// and an opaque directory — under a layer of the scenario's own, on overlayfs and native. Every
// merged view (the build steps', every container's after the workload) must match, content by
// content, what the image's tars and the workload say.
func TestRunImage(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	dev := tarEntry{h: tar.Header{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}}
	fifo := tarEntry{h: tar.Header{Name: "run/initctl", Typeflag: tar.TypeFifo, Mode: 0o600}}
	writeImage(t, filepath.Join(dir, "oci"),
		[]tarEntry{
			{h: tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755}},
			file("usr/bin/perl5.36.0", strings.Repeat("perl", 5000), 0o755),
			{h: tar.Header{Name: "usr/bin/perl", Typeflag: tar.TypeLink, Linkname: "usr/bin/perl5.36.0", Mode: 0o755}},
			{h: tar.Header{Name: "bin", Typeflag: tar.TypeSymlink, Linkname: "usr/bin"}},
			file("etc/motd", "hello", 0o644),
			file("var/cache/debconf/config.dat", "old", 0o644),
			file("var/cache/debconf/templates.dat", "old", 0o644),
			dev, fifo,
		},
		[]tarEntry{
			file("etc/.wh.motd", "", 0o644),
			file("var/cache/debconf/.wh..wh..opq", "", 0o644),
			file("var/cache/debconf/config.dat", "new", 0o600),
			file("usr/share/emacs/site-lisp/x.el", strings.Repeat(";", 9000), 0o644),
		})
	sc := `name: image
seed: 3
samples: 2
layers:
  - {name: debian, oci: oci, ref: "test:1", names: [base, debian]}
  - {name: app, parent: debian, files: [{path: app/main, size: 8KiB}], delete: [usr/share/emacs]}
images: {app: app}
containers: {app: 2}
workload:
  - {op: create, count: 3, size: 4KiB}
  - {op: lookup, image: app, kind: [hit, miss], cache: [warm, mount]}
  - {op: modify, image: app, size: [4KiB], how: [append, chmod]}
  - {op: delete, layer: debian, count: 2, kind: [file]}
`
	f := filepath.Join(dir, "image.yaml")
	if err := os.WriteFile(f, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	workdir := t.TempDir()
	out := filepath.Join(t.TempDir(), "r.json")
	o := run(t, "run", f, "--drivers", "overlayfs,native", "--workdir", workdir, "--out", out, "-q")
	if o.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", o.code, o.stdout, o.stderr)
	}
	r := readResult(t, out)
	if len(r.Checks) == 0 {
		t.Fatal("no checks")
	}
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("check failed: %s: %s: %s", c.Driver, c.What, c.Detail)
		}
	}
	var names []string
	for _, l := range r.Layers {
		names = append(names, l.Name)
		if (l.Name == "base" || l.Name == "debian") && (l.Digest == "" || l.DiffID == "" || !strings.Contains(l.Image, "oci")) {
			t.Errorf("layer %s: image %q digest %q diff ID %q", l.Name, l.Image, l.Digest, l.DiffID)
		}
	}
	if strings.Join(names, ",") != "base,debian,app" {
		t.Errorf("layers %v, want base, debian, app", names)
	}
	if len(r.Find("native", "layer.apply", map[string]string{"layer": "base"})) != 1 {
		t.Error("no layer.apply of the image's base layer on native")
	}
	// The blobs stay in the work directory's image cache for the next run, and nothing else does.
	ents, _ := os.ReadDir(workdir)
	for _, e := range ents {
		if e.Name() != "images" {
			t.Errorf("left behind in %s: %s", workdir, e.Name())
		}
	}
	os.RemoveAll(filepath.Join(workdir, "images"))
	assertNothingOurs(t, workdir)
}

// TestRunHostileImage: an image whose layers would write outside the snapshot is refused before
// anything is mounted, naming the layer and the entry, and nothing is written where it points.
func TestRunHostileImage(t *testing.T) {
	requireRoot(t)
	outside := t.TempDir() // where a hostile entry aims
	cases := []struct {
		name   string
		layers [][]tarEntry
		want   string
	}{
		{"dotdot", [][]tarEntry{{file("../../../../../../.."+outside+"/pwned", "x", 0o644)}}, `layer 1 of 1: tar entry 1 ("../`},
		{"absolute", [][]tarEntry{{file(outside+"/pwned", "x", 0o644)}}, `an absolute name: refused`},
		{"symlink then through it", [][]tarEntry{{{h: tar.Header{Name: "escape", Typeflag: tar.TypeSymlink, Linkname: outside}}, file("escape/pwned", "x", 0o644)}},
			`tar entry 2 ("escape/pwned"): written through the symlink escape`},
		{"symlink in a lower layer", [][]tarEntry{{{h: tar.Header{Name: "escape", Typeflag: tar.TypeSymlink, Linkname: outside}}}, {file("escape/pwned", "x", 0o644)}},
			`layer 2 of 2: entry "escape/pwned": written through escape, a symlink`},
		{"hardlink out", [][]tarEntry{{{h: tar.Header{Name: "shadow", Typeflag: tar.TypeLink, Linkname: "../../../etc/shadow"}}}}, `a hardlink to "../../../etc/shadow", outside the layer`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeImage(t, filepath.Join(dir, "oci"), c.layers...)
			f := filepath.Join(dir, "s.yaml")
			os.WriteFile(f, []byte("name: hostile\nseed: 1\nlayers:\n  - {name: base, oci: oci}\nimages: {app: base}\n"), 0o644)
			workdir := t.TempDir()
			o := run(t, "run", f, "--drivers", "overlayfs,native", "--workdir", workdir, "-q", "--out", filepath.Join(dir, "r.json"))
			if o.code != 1 || !strings.Contains(o.stderr, f+":4: layer base") || !strings.Contains(o.stderr, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 naming %s:4, layer base and %q", o.code, o.stderr, f, c.want)
			}
			if ents, _ := os.ReadDir(outside); len(ents) > 0 {
				t.Errorf("written outside: %v", ents)
			}
			os.RemoveAll(filepath.Join(workdir, "images"))
			assertNothingOurs(t, workdir)
		})
	}
}
