package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/seedbench/seedbench/internal/pull"
)

// TestRunPull pulls a small image afresh over two networks: overlayfs fully (it fetches every byte of
// the gzip layers), stargz lazily (a start that reads 90 KiB of a 10 MiB image fetches a small
// share of it); every pull is ready before it is done, and nothing is left behind.
func TestRunPull(t *testing.T) {
	requireRoot(t)
	workdir := t.TempDir()
	out := filepath.Join(t.TempDir(), "r.json")
	o := run(t, "run", "testdata/pull.yaml", "--drivers", "overlayfs,stargz,stargz-noprefetch,soci", "--workdir", workdir, "--out", out, "-q")
	if o.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", o.code, o.stdout, o.stderr)
	}
	assertNothingOurs(t, workdir)
	r := readResult(t, out)
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("check failed: %s: %s: %s", c.Driver, c.What, c.Detail)
		}
	}
	for _, drv := range []string{"overlayfs", "stargz", "stargz-noprefetch", "soci"} {
		lazyChecks := 0
		for _, c := range r.Checks {
			if c.Driver == drv && strings.HasSuffix(c.What, "every layer mounted lazily") {
				lazyChecks++
			}
		}
		if want := map[bool]int{true: 0, false: 2}[drv == "overlayfs"]; lazyChecks != want {
			t.Errorf("%s: %d checks that every layer was mounted lazily: want %d (one per network of a lazy driver)", drv, lazyChecks, want)
		}
		img := r.Find(drv, "pull.image_bytes", nil)
		if len(img) != 1 || img[0].Summary.Median < 9<<20 {
			t.Fatalf("%s: pull.image_bytes %+v: want one, of the image's 10 MiB or more", drv, img)
		}
		for _, network := range []string{"unlimited 0s", "100Mbit/s 5ms"} {
			q := map[string]string{"network": network}
			ready, done := r.Find(drv, "pull.ready", q), r.Find(drv, "pull.done", q)
			share := r.Find(drv, "pull.fetched_share", q)
			if peak := r.Find(drv, "pull.heap_peak", q); len(peak) != 1 || peak[0].Summary.Max <= 0 {
				t.Errorf("%s over %s: pull.heap_peak %+v: want one, above 0 (a pull allocates)", drv, network, peak)
			}
			if len(ready) != 1 || len(done) != 1 || len(share) != 1 {
				t.Fatalf("%s over %s: %d pull.ready, %d pull.done, %d pull.fetched_share metrics: want one each", drv, network, len(ready), len(done), len(share))
			}
			for k := range ready[0].Samples {
				if done[0].Samples[k] < ready[0].Samples[k] {
					t.Errorf("%s over %s: done %v before ready %v", drv, network, done[0].Samples[k], ready[0].Samples[k])
				}
			}
			s := share[0].Summary.Median
			switch drv {
			case "overlayfs":
				if s < 1 || s > 1.05 {
					t.Errorf("overlayfs over %s fetched %.3f of the image: want all of it (and the HTTP headers)", network, s)
				}
			case "soci": // a span (4 MiB of a layer's gzip) at a time
				if s <= 0 || s > 0.9 {
					t.Errorf("soci over %s fetched %.3f of the image: want less than all of it", network, s)
				}
			default:
				if s <= 0 || s > 0.5 {
					t.Errorf("%s over %s fetched %.3f of the image: want a small share", drv, network, s)
				}
			}
		}
	}
}

// TestRunPullExternalRegistry: with --registry, the pull op and stargz push to and pull from that
// registry (go-containerregistry's, served here on loopback as a stand-in for one on the network,
// its requests recorded), the result records it, and the registry is left running; a URL seedbench
// cannot use is a usage error.
func TestRunPullExternalRegistry(t *testing.T) {
	requireRoot(t)
	var mu sync.Mutex
	seen := map[string]bool{} // "METHOD repository" of every blob request
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if repo, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/blobs/"); ok {
			mu.Lock()
			seen[r.Method+" "+repo] = true
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	url := srv.URL
	workdir := t.TempDir()
	out := filepath.Join(t.TempDir(), "r.json")
	o := run(t, "run", "testdata/pull.yaml", "--drivers", "overlayfs,stargz", "--registry", url, "--workdir", workdir, "--out", out, "-q")
	if o.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", o.code, o.stdout, o.stderr)
	}
	assertNothingOurs(t, workdir)
	r := readResult(t, out)
	if r.Run.Registry != url {
		t.Errorf("result records registry %q, want %q", r.Run.Registry, url)
	}
	mu.Lock()
	for _, want := range []string{"POST " + pull.Repository, "GET " + pull.Repository} {
		if !seen[want] {
			t.Errorf("the external registry saw no %s/blobs/ request (it saw %v)", want, seen)
		}
	}
	mu.Unlock()
	if resp, err := http.Get(url + "/v2/"); err != nil {
		t.Errorf("the external registry is gone after the run: %v", err)
	} else {
		resp.Body.Close()
	}
	if o := run(t, "run", "testdata/pull.yaml", "--registry", "http://127.0.0.1:1", "--workdir", workdir, "-q"); o.code != 1 || !strings.Contains(o.stderr, "start it, or leave --registry out") {
		t.Errorf("--registry of a registry that is down: exit %d, stderr %q: want exit 1 saying to start it", o.code, o.stderr)
	}
	assertNothingOurs(t, workdir)
	if o := run(t, "run", "testdata/pull.yaml", "--registry", "https://"+strings.TrimPrefix(url, "http://"), "--workdir", workdir, "-q"); o.code != 2 || !strings.Contains(o.stderr, "https is not supported") {
		t.Errorf("--registry https://…: exit %d, stderr %q: want a usage error saying https is not supported", o.code, o.stderr)
	}
}
