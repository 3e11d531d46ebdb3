// Package image opens the images a scenario's layers can come from — an OCI image layout (a
// directory, or a tar of one), a `docker save` tarball, or a registry reference — and keeps their
// layer blobs in a containerd content store by digest (verified as they are written), so a layer is
// fetched once and applied from there by every driver, run after run.
//
// Reading a layer back (Tar) decompresses it as containerd's applier does and checks the
// uncompressed stream against the image config's diff ID: a blob that is not what the image says
// stops the run with the layer named.
package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Source says where an image is: OCI (a path to an OCI image layout directory, a tar of one, or a
// `docker save` tarball) with Ref picking one of its images (a ref name annotation, a tag, or a
// manifest digest; "" when it holds exactly one), or Remote (a registry reference).
type Source struct {
	OCI    string
	Ref    string
	Remote string
}

func (s Source) String() string {
	if s.Remote != "" {
		return "image " + s.Remote
	}
	if s.Ref != "" {
		return fmt.Sprintf("oci %s (%s)", s.OCI, s.Ref)
	}
	return "oci " + s.OCI
}

// Layer is one layer of an opened image: its blob as the content store holds it and the diff ID
// (the digest of the uncompressed tar) the image config gives.
type Layer struct {
	Index  int // 1-based, bottom first
	Blob   ocispec.Descriptor
	DiffID digest.Digest
}

// Image is an opened image whose layers are in the store.
type Image struct {
	Source Source
	Digest string // the manifest's digest ("" for a docker save tarball, which has none)
	Layers []Layer
	store  content.Store
}

// Media types a layer may have: tar, gzip'd or zstd'd tar, OCI's and Docker's names for them.
var layerTypes = map[string]bool{
	ocispec.MediaTypeImageLayer:                            true,
	ocispec.MediaTypeImageLayerGzip:                        true,
	ocispec.MediaTypeImageLayerZstd:                        true,
	ocispec.MediaTypeImageLayerNonDistributable:            true, //nolint:staticcheck // still in the wild
	ocispec.MediaTypeImageLayerNonDistributableGzip:        true, //nolint:staticcheck
	ocispec.MediaTypeImageLayerNonDistributableZstd:        true, //nolint:staticcheck
	string(types.DockerLayer):                              true,
	string(types.DockerUncompressedLayer):                  true,
	string(types.DockerForeignLayer):                       true,
	"application/vnd.docker.image.rootfs.foreign.diff.tar": true,
}

// Open opens the image src (a relative OCI path is taken from base, the scenario's directory) and
// makes sure every layer blob is in store, fetching or copying the ones that are not (by digest: a
// blob already there is not read again). cache is a directory for unpacked layout tars.
func Open(ctx context.Context, src Source, base, cache string, store content.Store) (*Image, error) {
	img, digestOf, err := open(ctx, src, base, cache)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	im := &Image{Source: src, Digest: digestOf, store: store}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("%s: config: %w", src, err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("%s: layers: %w", src, err)
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("%s: the image has no layers", src)
	}
	if len(cfg.RootFS.DiffIDs) != len(ls) {
		return nil, fmt.Errorf("%s: the config lists %d diff IDs for %d layers", src, len(cfg.RootFS.DiffIDs), len(ls))
	}
	uncompressed := src.Remote == "" && isDockerSave(src, base)
	for i, l := range ls {
		lay := Layer{Index: i + 1, DiffID: digest.Digest(cfg.RootFS.DiffIDs[i].String())}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s: layer %d of %d: %s", src, i+1, len(ls), fmt.Sprintf(format, args...))
		}
		mt, err := l.MediaType()
		if err != nil {
			return nil, fail("media type: %v", err)
		}
		if !layerTypes[string(mt)] {
			return nil, fail("media type %q: seedbench applies tar layers, plain, gzip'd or zstd'd", mt)
		}
		var rc io.ReadCloser
		if uncompressed {
			// A docker save tarball holds layers as plain tars: stored as they are, by diff ID.
			lay.Blob = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: lay.DiffID}
			if _, err := store.Info(ctx, lay.Blob.Digest); err != nil {
				if rc, err = l.Uncompressed(); err != nil {
					return nil, fail("%v", err)
				}
			}
		} else {
			d, err := l.Digest()
			if err != nil {
				return nil, fail("digest: %v", err)
			}
			size, err := l.Size()
			if err != nil {
				return nil, fail("size: %v", err)
			}
			lay.Blob = ocispec.Descriptor{MediaType: string(mt), Digest: digest.Digest(d.String()), Size: size}
			if _, err := store.Info(ctx, lay.Blob.Digest); err != nil {
				if rc, err = l.Compressed(); err != nil {
					return nil, fail("blob %s: %v", d, err)
				}
			}
		}
		if rc != nil {
			err := content.WriteBlob(ctx, store, "image-"+lay.Blob.Digest.Encoded(), rc, lay.Blob)
			rc.Close()
			if err != nil {
				return nil, fail("blob %s: %v", lay.Blob.Digest, err)
			}
		}
		info, err := store.Info(ctx, lay.Blob.Digest)
		if err != nil {
			return nil, fail("blob %s: %v", lay.Blob.Digest, err)
		}
		lay.Blob.Size = info.Size
		im.Layers = append(im.Layers, lay)
	}
	return im, nil
}

func open(ctx context.Context, src Source, base, cache string) (v1.Image, string, error) {
	if src.Remote != "" {
		ref, err := name.ParseReference(src.Remote)
		if err != nil {
			return nil, "", err
		}
		img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
		if err != nil {
			return nil, "", err
		}
		d, err := img.Digest()
		if err != nil {
			return nil, "", err
		}
		return img, d.String(), nil
	}
	p := src.OCI
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, "", err
	}
	if !st.IsDir() {
		kind, err := tarKind(p)
		if err != nil {
			return nil, "", err
		}
		if kind == "docker" {
			var tag *name.Tag
			if src.Ref != "" {
				t, err := name.NewTag(src.Ref)
				if err != nil {
					return nil, "", fmt.Errorf("ref %q: %w", src.Ref, err)
				}
				tag = &t
			}
			img, err := tarball.ImageFromPath(p, tag)
			return img, "", err
		}
		if p, err = unpackLayout(p, cache, st); err != nil {
			return nil, "", err
		}
	}
	lp, err := layout.FromPath(p)
	if err != nil {
		return nil, "", fmt.Errorf("not an OCI image layout (%v): give a layout directory, a tar of one, or a docker save tarball", err)
	}
	return pick(lp, src.Ref)
}

func isDockerSave(src Source, base string) bool {
	p := src.OCI
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return false
	}
	k, _ := tarKind(p)
	return k == "docker"
}

// pick finds the image ref names in the layout's index (every image when ref is "" and there is one).
func pick(lp layout.Path, ref string) (v1.Image, string, error) {
	idx, err := lp.ImageIndex()
	if err != nil {
		return nil, "", err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	var names []string
	var found []v1.Descriptor
	for _, d := range im.Manifests {
		n := d.Annotations[ocispec.AnnotationRefName]
		if n == "" {
			n = d.Digest.String()
		}
		names = append(names, n)
		tagged := d.Annotations[ocispec.AnnotationRefName]
		switch {
		case ref == "":
			found = append(found, d)
		case tagged == ref, d.Digest.String() == ref, tagged != "" && strings.HasSuffix(ref, ":"+tagged):
			found = append(found, d)
		}
	}
	sort.Strings(names)
	switch {
	case len(found) == 0 && ref == "":
		return nil, "", errors.New("the layout's index lists no image")
	case len(found) == 0:
		return nil, "", fmt.Errorf("no image %q in the layout's index (it has: %s)", ref, strings.Join(names, ", "))
	case len(found) > 1:
		return nil, "", fmt.Errorf("the layout holds %d images (%s): pick one with ref", len(found), strings.Join(names, ", "))
	}
	d := found[0]
	if d.MediaType.IsIndex() {
		// An index inside: the linux/amd64 (or only) image of it.
		inner, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, "", err
		}
		m, err := inner.IndexManifest()
		if err != nil {
			return nil, "", err
		}
		for _, md := range m.Manifests {
			if md.Platform == nil || (md.Platform.OS == "linux" && md.Platform.Architecture == "amd64") || len(m.Manifests) == 1 {
				img, err := inner.Image(md.Digest)
				return img, md.Digest.String(), err
			}
		}
		return nil, "", fmt.Errorf("index %s has no linux/amd64 image", d.Digest)
	}
	img, err := idx.Image(d.Digest)
	return img, d.Digest.String(), err
}

// tarKind tells an OCI layout tar ("oci": it has an oci-layout file) from a docker save tarball
// ("docker": a manifest.json and no oci-layout).
func tarKind(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	manifest := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("not a tar of an image (%v): give a layout directory, a tar of one, or a docker save tarball", err)
		}
		switch path.Clean(h.Name) {
		case "oci-layout":
			return "oci", nil
		case "manifest.json":
			manifest = true
		}
	}
	if manifest {
		return "docker", nil
	}
	return "", errors.New("a tar with neither an oci-layout file nor a manifest.json: not an image")
}

// unpackLayout unpacks an OCI layout tar once into cache (keyed by the file's identity: path,
// size, modification time) and returns the directory. Only the layout's own names are unpacked:
// oci-layout, index.json and blobs/ALG/HEX.
func unpackLayout(p, cache string, st os.FileInfo) (string, error) {
	abs, _ := filepath.Abs(p)
	key := digest.FromString(fmt.Sprintf("%s\x00%d\x00%d", abs, st.Size(), st.ModTime().UnixNano())).Encoded()[:16]
	dir := filepath.Join(cache, "layout-"+key)
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(cache, "unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("layout tar: %w", err)
		}
		n := path.Clean(h.Name)
		parts := strings.Split(n, "/")
		ok := n == "oci-layout" || n == "index.json" ||
			(len(parts) == 3 && parts[0] == "blobs" && digest.Algorithm(parts[1]).Available() && parts[2] != ".." && parts[2] != ".")
		if h.Typeflag == tar.TypeDir || !ok {
			continue
		}
		if h.Typeflag != tar.TypeReg {
			return "", fmt.Errorf("layout tar: %s is not a regular file", h.Name)
		}
		out := filepath.Join(tmp, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", err
		}
		w, err := os.Create(out)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(w, tr)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("layout tar: %s: %w", h.Name, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	return dir, nil
}

// Tar returns layer i's uncompressed tar (1-based), decompressed from the store as containerd's
// applier does. Reading it to the end checks the stream against the diff ID: a mismatch is an
// error from Read, naming the layer.
func (im *Image) Tar(ctx context.Context, i int) (io.ReadCloser, error) {
	l := im.Layers[i-1]
	ra, err := im.store.ReaderAt(ctx, l.Blob)
	if err != nil {
		return nil, fmt.Errorf("%s: layer %d: blob %s: %w", im.Source, i, l.Blob.Digest, err)
	}
	ds, err := compression.DecompressStream(content.NewReader(ra))
	if err != nil {
		ra.Close()
		return nil, fmt.Errorf("%s: layer %d: %w", im.Source, i, err)
	}
	return &verifying{r: ds, closers: []io.Closer{ds, ra}, d: l.DiffID.Algorithm().Digester(), want: l.DiffID,
		what: fmt.Sprintf("%s: layer %d", im.Source, i)}, nil
}

// verifying checks what it reads against a digest at EOF.
type verifying struct {
	r       io.Reader
	closers []io.Closer
	d       digest.Digester
	want    digest.Digest
	what    string
}

func (v *verifying) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.d.Hash().Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := v.d.Digest(); got != v.want {
			return n, fmt.Errorf("%s: the uncompressed layer is %s, the image config says %s (a corrupt or substituted blob)", v.what, got, v.want)
		}
	} else if err != nil {
		err = fmt.Errorf("%s: %w", v.what, err)
	}
	return n, err
}

func (v *verifying) Close() error {
	var errs []error
	for _, c := range v.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
