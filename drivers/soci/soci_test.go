package soci_test

import (
	"archive/tar"
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/drivers/soci"
	"github.com/seedbench/seedbench/internal/network"
)

// TestConformance runs the snapshotter suite (SOCI prepares local overlay snapshots when no remote
// labels are given) and the lazy path: a received layer is mounted from the registry through its
// SOCI index and fetched as it is read; a lazy pull starts from empty caches.
func TestConformance(t *testing.T) {
	drivertest.Run(t, soci.New("soci", soci.DefaultSpan), drivertest.Config{
		SuiteName: "overlayfs",
		Checks:    []drivertest.Check{{Name: "lazy", Run: checkLazy}, {Name: "refuses", Run: checkRefuses}},
	})
}

func layerTar(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "usr/", Mode: 0o755})
	for _, name := range []string{"etc/hello", "usr/big"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(files[name]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[name])
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testFiles() map[string][]byte {
	big := make([]byte, 16<<20)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(big)
	return map[string][]byte{"etc/hello": []byte("hello from a lazily pulled layer\n"), "usr/big": big}
}

func checkLazy(t *testing.T, env *drivertest.Env) {
	ctx := context.Background()
	files := testFiles()
	inst := env.Instance.(*soci.Instance)
	chain, err := env.Publish(t, inst.Format(), drivers.Published{}, "l0", layerTar(t, files))
	if err != nil {
		t.Fatal(err)
	}
	size := chain.Bytes()
	if err := inst.ReceiveLayer(ctx, chain); err != nil {
		t.Fatal(err)
	}
	mounted := inst.Proxy().Fetched()
	if mounted <= 0 || mounted > size/4 {
		t.Errorf("mounting the layer fetched %d bytes of a %d-byte layer: want its index, manifest and zTOC only", mounted, size)
	}
	sn := env.Instance.Snapshotter()
	ms, err := sn.Prepare(ctx, "c0", "l0")
	if err != nil {
		t.Fatal(err)
	}
	dir := env.Mount(t, ms, "c0")
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes (%v), want %d", name, len(got), err, len(want))
		}
	}
	if f := inst.Proxy().Fetched(); f < int64(len(files["usr/big"])) {
		t.Errorf("mounting and reading the files fetched %d bytes: want at least the large file's %d", f, len(files["usr/big"]))
	}
	env.Unmount(t, dir)

	// A lazy pull starts from nothing: reading the small file fetches a span, not the whole layer.
	pull, err := inst.Pull(ctx, chain, network.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err = pull.Prepare(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	dir = env.Mount(t, ms, "c1")
	if got, err := os.ReadFile(filepath.Join(dir, "etc/hello")); err != nil || !bytes.Equal(got, files["etc/hello"]) {
		t.Errorf("lazy pull: etc/hello %q (%v)", got, err)
	}
	if f := pull.Fetched(); f <= 0 || f > size/2 {
		t.Errorf("lazy pull and a small read fetched %d bytes of %d: want a span or so, from the pull's own caches", f, size)
	}
	t.Logf("lazy pull + small read: %d of %d bytes", pull.Fetched(), size)
	env.Unmount(t, dir)
	if err := pull.Close(ctx); err != nil {
		t.Errorf("close the pull: %v", err)
	}
	if err := pull.Close(ctx); err != nil {
		t.Errorf("close the pull twice: %v", err)
	}
}

// checkRefuses: a pull of a layer never published fails with the layer's name; nothing is left
// mounted (drivertest checks at cleanup).
func checkRefuses(t *testing.T, env *drivertest.Env) {
	ctx := context.Background()
	inst := env.Instance.(*soci.Instance)
	never := drivers.Published{Ref: env.Registry + "/seedbench/layers", Layers: []string{"never"},
		Blobs: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromString("never pushed"), Size: 100}}}
	if _, err := inst.Pull(ctx, never, network.Profile{}); err == nil || !strings.Contains(err.Error(), "never") {
		t.Errorf("lazy pull of a layer never published: %v, want an error naming it", err)
	}
	if _, err := env.Publish(t, inst.Format(), drivers.Published{}, "junk", []byte("this is not a tar archive, and not a layer either")); err == nil || !strings.Contains(err.Error(), "junk") {
		t.Errorf("a layer that is not a tar: %v, want an error naming it", err)
	}
}
