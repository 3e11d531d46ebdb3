package registry

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/network"
)

// TestProxyShapes: a body through the proxy takes at least what the modelled link needs for it
// (its bits over the bandwidth, and a round trip), arrives whole, and is counted.
func TestProxyShapes(t *testing.T) {
	body := bytes.Repeat([]byte("seedbench"), 256<<10/9) // ~256 KiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://")
	for _, prof := range []string{"unlimited 0s", "10Mbit/s 40ms"} {
		p, err := network.Parse(prof)
		if err != nil {
			t.Fatal(err)
		}
		x, err := NewProxy(target, p)
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: &http.Transport{}}
		t0 := time.Now()
		resp, err := client.Get("http://" + x.Addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		el := time.Since(t0)
		client.CloseIdleConnections()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%s: body of %d bytes (%v), want %d", prof, len(got), err, len(body))
		}
		if f := x.Fetched(); f < int64(len(body)) || f > int64(len(body))+4096 {
			t.Errorf("%s: fetched %d bytes, want the body's %d and its headers", prof, f, len(body))
		}
		if p.Bandwidth > 0 {
			least := time.Duration(float64(len(body))*8/float64(p.Bandwidth)*float64(time.Second)) + p.RTT
			if el < least {
				t.Errorf("%s: %v for %d bytes: want at least %v (the bits over the bandwidth and a round trip)", prof, el, len(body), least)
			}
		}
		if err := x.Close(); err != nil {
			t.Errorf("%s: close: %v", prof, err)
		}
	}
}

// TestRegistryServes: a blob pushed to the registry comes back through the proxy, and Close stops
// both.
func TestRegistryServes(t *testing.T) {
	r, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewProxy(r.Addr, network.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + x.Addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ through the proxy: %s", resp.Status)
	}
	if err := x.Close(); err != nil {
		t.Error(err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if _, err := http.Get("http://" + r.Addr + "/v2/"); err == nil {
		t.Error("the registry still answers after Close")
	}
}

// TestOpen: an external registry is used by its URL and left running at Close; a URL seedbench
// cannot use, a registry that is down or one that wants a login is refused, saying what to give.
func TestOpen(t *testing.T) {
	ext, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	r, err := Open("http://" + ext.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Addr != ext.Addr || r.URL != "http://"+ext.Addr {
		t.Errorf("opened %+v, want the registry at %s", r, ext.Addr)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if resp, err := http.Get("http://" + ext.Addr + "/v2/"); err != nil {
		t.Errorf("the external registry was stopped by Close: %v", err)
	} else {
		resp.Body.Close()
	}
	login := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	defer login.Close()
	for _, tc := range []struct{ url, want string }{
		{"https://" + ext.Addr, "https is not supported"},
		{"http://" + strings.Split(ext.Addr, ":")[0], "write http://HOST:PORT"},
		{"http://" + ext.Addr + "/v2/foo", "write http://HOST:PORT"},
		{"ftp://" + ext.Addr, "write http://HOST:PORT"},
		{"http://127.0.0.1:1", "start it, or leave --registry out"},
		{login.URL, "needs no login"},
	} {
		if _, err := Open(tc.url); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q): %v, want an error saying %q", tc.url, err, tc.want)
		}
	}
	// The in-process one, for "".
	own, err := Open("")
	if err != nil || own.URL != "" {
		t.Fatalf("Open(\"\"): %+v, %v", own, err)
	}
	if err := own.Close(); err != nil {
		t.Error(err)
	}
}
