package stargz

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
)

// TestRemoteFaults: a layer whose registry is down, whose blob is not in the registry (404), whose
// blob is cut off mid-read or whose TOC digest is wrong fails to mount with an error naming the
// layer, promptly, and leaves nothing mounted (drivertest checks at cleanup).
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
	good, err := env.Publish(t, inst.Format(), drivers.Published{}, "good", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.ReceiveLayer(ctx, good); err != nil {
		t.Fatal(err)
	}
	cut, cuts := truncatingProxy(t, env.Registry)
	for _, tc := range []struct {
		name string
		addr string
		blob func(b *ocispec.Descriptor)
	}{
		{name: "registry-down", addr: "127.0.0.1:1", blob: func(*ocispec.Descriptor) {}},
		{name: "blob-404", addr: inst.proxy.Addr, blob: func(b *ocispec.Descriptor) { b.Digest = digest.FromString("not pushed") }},
		{name: "wrong-toc", addr: inst.proxy.Addr, blob: func(b *ocispec.Descriptor) {
			b.Annotations = maps.Clone(b.Annotations)
			b.Annotations[labelTOCDigest] = digest.FromString("not the TOC").String()
		}},
		{name: "blob-truncated", addr: cut, blob: func(*ocispec.Descriptor) {}},
	} {
		chain := good
		chain.Layers = []string{"layer-" + tc.name}
		chain.Blobs = []ocispec.Descriptor{good.Blobs[0]}
		tc.blob(&chain.Blobs[0])
		// A snapshotter of its own, as a lazy pull makes: nothing resolved before, the registry at
		// tc.addr.
		sn, err := newService(ctx, filepath.Join(inst.root, "fault-"+tc.name), tc.addr, true)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		err = inst.prepareRemote(ctx, sn, tc.addr, chain, 0, "")
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
	if cuts.Load() == 0 {
		t.Error("blob-truncated: the snapshotter never read a blob through the truncating proxy: the case tested nothing")
	}
}

// truncatingProxy forwards to the registry at addr, but cuts every blob response off halfway: the
// connection drops after half the body its headers announced, as a registry or a network that fails
// mid-transfer does (a fault the in-process registry cannot show by itself). It returns its
// host:port and a count of the responses it cut.
func truncatingProxy(t *testing.T, addr string) (string, *atomic.Int64) {
	cuts := new(atomic.Int64)
	target, err := url.Parse("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	rp.ModifyResponse = func(resp *http.Response) error {
		if strings.Contains(resp.Request.URL.Path, "/blobs/") && resp.Request.Method == http.MethodGet && resp.ContentLength > 1 {
			resp.Body = &cutReader{r: resp.Body, left: resp.ContentLength / 2}
			cuts.Add(1)
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), cuts
}

// cutReader fails once left bytes have been read: the reverse proxy then aborts the response.
type cutReader struct {
	r    io.ReadCloser
	left int64
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutReader) Close() error { return c.r.Close() }
