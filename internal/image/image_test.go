package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerTar is a small layer tar: a file per name.
func layerTar(t *testing.T, names ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(n)), Typeflag: tar.TypeReg})
		tw.Write([]byte(n))
	}
	tw.Close()
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// testLayer is a layer of a hand-made layout: its blob as stored, media type and diff ID.
type testLayer struct {
	blob      []byte
	mediaType string
	diffID    digest.Digest
}

func gzLayer(t *testing.T, names ...string) testLayer {
	tb := layerTar(t, names...)
	return testLayer{blob: gz(tb), mediaType: ocispec.MediaTypeImageLayerGzip, diffID: digest.FromBytes(tb)}
}

// writeLayout writes an OCI image layout by hand (so a test can break any part of it) holding one
// image named ref, and returns the digests of the layer blobs.
func writeLayout(t *testing.T, dir, ref string, ls ...testLayer) []digest.Digest {
	t.Helper()
	blob := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		p := filepath.Join(dir, "blobs", "sha256", d.Encoded())
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers"}}
	var descs []ocispec.Descriptor
	var ds []digest.Digest
	for _, l := range ls {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.diffID)
		d := blob(l.blob)
		d.MediaType = l.mediaType
		descs = append(descs, d)
		ds = append(ds, d.Digest)
	}
	cb, _ := json.Marshal(cfg)
	cd := blob(cb)
	cd.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: descs}
	m.SchemaVersion = 2
	mb, _ := json.Marshal(m)
	md := blob(mb)
	md.MediaType = ocispec.MediaTypeImageManifest
	md.Annotations = map[string]string{ocispec.AnnotationRefName: ref}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{md}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), ib, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return ds
}

func openIn(t *testing.T, src Source, base string) (*Image, error) {
	t.Helper()
	cache := t.TempDir()
	store, err := local.NewStore(filepath.Join(cache, "store"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(cache, "layouts"), 0o755)
	return Open(context.Background(), src, base, filepath.Join(cache, "layouts"), store)
}

// readAll reads layer i's tar to the end.
func readAll(im *Image, i int) ([]byte, error) {
	rc, err := im.Tar(context.Background(), i)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// One image, four ways in: a layout directory, a tar of it, a docker save tarball, a registry on
// 127.0.0.1. Each gives the same layers, and each layer reads back as the tar it was.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	l1, l2 := gzLayer(t, "etc/hostname", "usr/bin/bash"), gzLayer(t, "usr/share/emacs/x")
	writeLayout(t, dir, "seedbench/test:1", l1, l2)
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := pick(lp, "")
	if err != nil {
		t.Fatal(err)
	}
	// A docker save tarball and a tar of the layout.
	docker := filepath.Join(t.TempDir(), "save.tar")
	tag, _ := name.NewTag("seedbench/test:1")
	if err := tarball.WriteToFile(docker, tag, img); err != nil {
		t.Fatal(err)
	}
	layoutTar := filepath.Join(t.TempDir(), "layout.tar")
	tarDir(t, dir, layoutTar)
	// A registry, in process, on loopback.
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/seedbench/test:1"
	rref, _ := name.ParseReference(ref)
	if err := remote.Write(rref, img); err != nil {
		t.Fatal(err)
	}
	for _, src := range []Source{{OCI: filepath.Base(dir)}, {OCI: dir, Ref: "seedbench/test:1"}, {OCI: layoutTar}, {OCI: docker}, {OCI: docker, Ref: "seedbench/test:1"}, {Remote: ref}} {
		t.Run(src.String(), func(t *testing.T) {
			im, err := openIn(t, src, filepath.Dir(dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(im.Layers) != 2 {
				t.Fatalf("%d layers", len(im.Layers))
			}
			for i, want := range []testLayer{l1, l2} {
				b, err := readAll(im, i+1)
				if err != nil {
					t.Fatal(err)
				}
				if digest.FromBytes(b) != want.diffID || im.Layers[i].DiffID != want.diffID {
					t.Errorf("layer %d reads back as %s (diff ID %s), want %s", i+1, digest.FromBytes(b), im.Layers[i].DiffID, want.diffID)
				}
			}
		})
	}
}

// tarDir writes dir as a tar.
func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	defer tw.Close()
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
}

// Bad images: each an error naming the image, the layer and what is wrong.
func TestOpenRefuses(t *testing.T) {
	good := gzLayer(t, "a")
	cases := []struct {
		name  string
		build func(t *testing.T, dir string)
		want  string // from Open, or from reading the layer when open is ""
		read  bool
	}{
		{"missing blob", func(t *testing.T, dir string) {
			ds := writeLayout(t, dir, "x", good, gzLayer(t, "b"))
			os.Remove(filepath.Join(dir, "blobs", "sha256", ds[1].Encoded()))
		}, "layer 2 of 2: blob sha256:", false},
		{"digest mismatch", func(t *testing.T, dir string) {
			ds := writeLayout(t, dir, "x", good)
			p := filepath.Join(dir, "blobs", "sha256", ds[0].Encoded())
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 0xff
			os.WriteFile(p, b, 0o644)
		}, "layer 1 of 1: blob sha256:", false},
		{"unknown media type", func(t *testing.T, dir string) {
			l := good
			l.mediaType = "application/vnd.example.squashfs"
			writeLayout(t, dir, "x", l)
		}, `layer 1 of 1: media type "application/vnd.example.squashfs"`, false},
		{"corrupt gzip", func(t *testing.T, dir string) {
			b := gz(layerTar(t, "a", "b", "c"))
			b[len(b)/2] ^= 0xff
			writeLayout(t, dir, "x", testLayer{blob: b, mediaType: ocispec.MediaTypeImageLayerGzip, diffID: good.diffID})
		}, "layer 1", true},
		{"diff ID mismatch", func(t *testing.T, dir string) {
			l := good
			l.diffID = digest.FromString("something else")
			writeLayout(t, dir, "x", l)
		}, "layer 1: the uncompressed layer is sha256:", true},
		{"no such ref", func(t *testing.T, dir string) {
			writeLayout(t, dir, "seedbench/a:1", good)
		}, `no image "seedbench/b:1" in the layout's index (it has: seedbench/a:1)`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.build(t, dir)
			src := Source{OCI: dir}
			if c.name == "no such ref" {
				src.Ref = "seedbench/b:1"
			}
			im, err := openIn(t, src, "")
			if c.read {
				if err != nil {
					t.Fatal(err)
				}
				_, err = readAll(im, 1)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("got %v, want an error naming %s and %q", err, dir, c.want)
			}
		})
	}
}

func TestOpenNotAnImage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.tar")
	tarDir(t, t.TempDir(), p)
	if _, err := openIn(t, Source{OCI: p}, ""); err == nil || !strings.Contains(err.Error(), "neither an oci-layout file nor a manifest.json") {
		t.Errorf("an empty tar: %v", err)
	}
	if _, err := openIn(t, Source{OCI: t.TempDir()}, ""); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("an empty directory: %v", err)
	}
}
