package stargz

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
)

// TestRemoteFaults: a layer whose registry is down, whose blob is not in the registry (404) or
// whose TOC digest is wrong fails to mount with an error naming the layer, promptly, and leaves
// nothing mounted (drivertest checks at cleanup).
func TestRemoteFaults(t *testing.T) {
	d := New("stargz", true)
	drivertest.RequireSupported(t, d)
	env := drivertest.Open(t, d, drivers.Options{})
	inst := env.Instance.(*Instance)
	ctx := context.Background()

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte("#!/bin/sh\necho hello\n")
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "hello", Mode: 0o755, Size: int64(len(body))})
	tw.Write(body)
	tw.Close()
	store, err := local.NewStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(buf.Bytes()), Size: int64(buf.Len())}
	if err := content.WriteBlob(ctx, store, "l", bytes.NewReader(buf.Bytes()), desc); err != nil {
		t.Fatal(err)
	}
	if err := inst.ReceiveLayer(ctx, drivers.Layer{Name: "good", Diff: desc, Content: store}); err != nil {
		t.Fatal(err)
	}
	good := *inst.blobs["good"]
	for _, tc := range []struct {
		name string
		addr string
		blob func(b *built)
	}{
		{name: "registry-down", addr: "127.0.0.1:1", blob: func(*built) {}},
		{name: "blob-404", addr: inst.proxy.Addr, blob: func(b *built) {
			b.digest = digest.FromString("not pushed").String()
			b.chain = []string{b.digest}
		}},
		{name: "wrong-toc", addr: inst.proxy.Addr, blob: func(b *built) { b.toc = digest.FromString("not the TOC").String() }},
	} {
		b := good
		b.chain = append([]string(nil), good.chain...)
		tc.blob(&b)
		// A snapshotter of its own, as a lazy pull makes: nothing resolved before, the registry at
		// tc.addr.
		sn, err := newService(ctx, filepath.Join(inst.root, "fault-"+tc.name), tc.addr, true)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		err = inst.prepareRemote(ctx, sn, tc.addr, "layer-"+tc.name, "", &b)
		el := time.Since(t0)
		if err == nil || !strings.Contains(err.Error(), "layer-"+tc.name) {
			t.Errorf("%s: %v, want an error naming the layer", tc.name, err)
		}
		if el > 2*time.Minute {
			t.Errorf("%s: failed after %v: want it promptly", tc.name, el)
		}
		t.Logf("%s: %v (%v)", tc.name, err, el.Round(time.Millisecond))
		if err := errors.Join(drivers.RemoveAll(ctx, sn), sn.Close()); err != nil {
			t.Errorf("%s: close: %v", tc.name, err)
		}
	}
}
