package soci

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
)

// TestRemoteFaults: a layer whose SOCI index is missing (the image manifest names an index the
// registry does not hold) or corrupt (not a SOCI index), whose zTOC is another layer's, or whose
// registry serves the index and zTOCs but not the layer's blob, fails to mount with an error naming
// the layer, within seconds, and leaves nothing mounted (drivertest checks at cleanup).
func TestRemoteFaults(t *testing.T) {
	d := New("soci", DefaultSpan)
	drivertest.RequireSupported(t, d)
	env := drivertest.Open(t, d, drivers.Options{})
	inst := env.Instance.(*Instance)
	ctx := context.Background()

	layer := func(name, body string) drivers.Published {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(body))})
		tw.Write([]byte(body))
		tw.Close()
		p, err := env.Publish(t, inst.Format(), drivers.Published{}, name, buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, other := layer("good", "#!/bin/sh\necho hello\n"), layer("other", "another layer altogether\n")
	if err := inst.ReceiveLayer(ctx, good); err != nil {
		t.Fatal(err)
	}
	noBlobs := blobless(t, env.Registry, good.Blobs[0].Digest)
	for _, tc := range []struct {
		name string
		addr string // where the snapshotter reaches the registry
		// image pushes the image the layer is mounted from and returns its manifest digest.
		image func(chain drivers.Published) (digest.Digest, error)
	}{
		{name: "index-missing", addr: inst.proxy.Addr, image: func(chain drivers.Published) (digest.Digest, error) {
			return pushManifestAnnotated(ctx, env.Registry, chain, digest.FromString("no such index"))
		}},
		{name: "index-corrupt", addr: inst.proxy.Addr, image: func(chain drivers.Published) (digest.Digest, error) {
			junk, err := pushBlob(ctx, env.Registry, []byte("not a SOCI index"))
			if err != nil {
				return "", err
			}
			return pushManifestAnnotated(ctx, env.Registry, chain, junk.Digest)
		}},
		{name: "ztoc-of-another-layer", addr: inst.proxy.Addr, image: func(chain drivers.Published) (digest.Digest, error) {
			chain.Blobs = []ocispec.Descriptor{chain.Blobs[0]}
			chain.Blobs[0].Annotations = maps.Clone(chain.Blobs[0].Annotations)
			chain.Blobs[0].Annotations[annZtocDigest] = other.Blobs[0].Annotations[annZtocDigest]
			chain.Blobs[0].Annotations[annZtocSize] = other.Blobs[0].Annotations[annZtocSize]
			// pushImage refuses it (SOCI would mount it, its reads failing later): push it as SOCI
			// would find it, to see what the driver makes of the mount.
			if _, err := pushImage(ctx, env.Registry, chain, 0); err == nil || !strings.Contains(err.Error(), "is not blob") {
				t.Errorf("ztoc-of-another-layer: pushing the image: %v, want the zTOC refused", err)
			}
			return "", errRefused
		}},
		{name: "layer-blob-not-served", addr: noBlobs, image: func(chain drivers.Published) (digest.Digest, error) {
			return pushImage(ctx, env.Registry, chain, 0)
		}},
	} {
		chain := good
		chain.Layers = []string{"layer-" + tc.name}
		img, err := tc.image(chain)
		if errors.Is(err, errRefused) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// A snapshotter of its own, as a lazy pull makes: nothing resolved before.
		sn, err := newService(ctx, filepath.Join(inst.root, "fault-"+tc.name), tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		err = prepareRemote(ctx, inst.name, sn, tc.addr, chain, 0, "", img.String())
		el := time.Since(t0)
		if err == nil || !strings.Contains(err.Error(), "layer-"+tc.name) {
			t.Errorf("%s: %v, want an error naming the layer", tc.name, err)
		}
		if !errors.Is(err, drivers.ErrNotLazy) {
			t.Errorf("%s: %v, want drivers.ErrNotLazy: the layer fell back to a local snapshot", tc.name, err)
		}
		if el > 30*time.Second {
			t.Errorf("%s: failed after %v: want it within seconds", tc.name, el)
		}
		t.Logf("%s: %v (%v)", tc.name, err, el.Round(time.Millisecond))
		if err := errors.Join(drivers.RemoveAll(sociContext(ctx), sn), sn.Close()); err != nil {
			t.Errorf("%s: close: %v", tc.name, err)
		}
	}
}

var errRefused = errors.New("refused before the mount")

// pushManifestAnnotated pushes an image manifest of chain's first layer naming index as its SOCI
// index, whatever the registry holds under that digest.
func pushManifestAnnotated(ctx context.Context, addr string, chain drivers.Published, index digest.Digest) (digest.Digest, error) {
	cfg, err := pushBlob(ctx, addr, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}`))
	if err != nil {
		return "", err
	}
	cfg.MediaType = ocispec.MediaTypeImageConfig
	b := chain.Blobs[0]
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg,
		Layers:      []ocispec.Descriptor{{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size}},
		Annotations: map[string]string{"com.amazon.soci.index-digest": index.String()}}
	m.SchemaVersion = 2
	body, err := jsonMarshal(m)
	if err != nil {
		return "", err
	}
	return pushManifest(ctx, addr, body)
}

// blobless forwards to the registry at addr but answers 404 for blob dgst: a registry that serves
// the image's index and zTOCs but not its layer. It returns its host:port.
func blobless(t *testing.T, addr string, dgst digest.Digest) string {
	target, err := url.Parse("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/blobs/"+dgst.String()) {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
