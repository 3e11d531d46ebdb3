// Package registry serves images to the drivers that pull them: an OCI registry in process on
// loopback (go-containerregistry's) or an external one given by URL, and a shaping proxy in front of
// it that gives the connection a bandwidth and a round-trip time, so a pull behaves as it would over
// a real network without touching the host's qdiscs. The proxy counts the bytes it carries: what a
// pull fetched.
package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/internal/network"
)

// Registry is an in-process registry on 127.0.0.1, or an external one (Open).
type Registry struct {
	Addr string // host:port
	// URL is the external registry's, as given ("" for the in-process one).
	URL  string
	srv  *http.Server
	done chan struct{}
}

// Open returns the registry at rawURL, an external one (http://HOST:PORT, anonymous push and pull),
// after checking that it answers the distribution API; or, for "", starts one in process. Closing an
// external registry leaves it alone.
func Open(rawURL string) (*Registry, error) {
	if rawURL == "" {
		return Start()
	}
	u, err := CheckURL(rawURL)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + u.Host + "/v2/")
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w: start it, or leave --registry out for one in process", rawURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("registry %s: GET /v2/ answered %s: seedbench pushes and pulls anonymously: give a registry that needs no login", rawURL, resp.Status)
	}
	return &Registry{Addr: u.Host, URL: rawURL}, nil
}

// CheckURL parses an external registry's URL: plain HTTP, a host and a port, nothing else.
func CheckURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return nil, fmt.Errorf("registry %q: %w: write http://HOST:PORT", rawURL, err)
	case u.Scheme == "https":
		return nil, fmt.Errorf("registry %q: https is not supported: the shaping proxy forwards the connection from 127.0.0.1, where the registry's certificate does not hold: give a plain-HTTP registry (http://HOST:PORT)", rawURL)
	case u.Scheme != "http" || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil:
		return nil, fmt.Errorf("registry %q: write http://HOST:PORT (a plain-HTTP registry, no path or credentials)", rawURL)
	}
	return u, nil
}

// Start serves a registry on a free port of 127.0.0.1 until Close.
func Start() (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("registry: listen: %w", err)
	}
	r := &Registry{Addr: ln.Addr().String(), done: make(chan struct{}),
		srv: &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0))), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(r.done)
		r.srv.Serve(ln)
	}()
	return r, nil
}

// Close stops the in-process registry and waits for it; an external one is left as it is.
func (r *Registry) Close() error {
	if r.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, r.srv.Close())
	}
	<-r.done
	return err
}

// Proxy forwards TCP connections from a port of 127.0.0.1 to a target, shaped to a network.Profile: every
// byte waits half the round-trip time in each direction, and each direction is paced to the
// bandwidth. It counts the bytes it carries towards the client.
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu      sync.Mutex
	profile network.Profile
	down    int64 // bytes carried from the target to clients
	// The link's two directions, shared by every connection: parallel fetches share the bandwidth.
	toClient, toTarget link
	conns              map[net.Conn]bool
	closed             bool
	wg                 sync.WaitGroup
}

// NewProxy listens on a free port of 127.0.0.1 and forwards to target.
func NewProxy(target string, p network.Profile) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: listen: %w", err)
	}
	x := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, profile: p, conns: map[net.Conn]bool{}}
	x.wg.Add(1)
	go x.accept()
	return x, nil
}

// Fetched returns the bytes carried to clients so far.
func (x *Proxy) Fetched() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.down
}

func (x *Proxy) accept() {
	defer x.wg.Done()
	for {
		c, err := x.ln.Accept()
		if err != nil {
			return
		}
		x.mu.Lock()
		if x.closed {
			x.mu.Unlock()
			c.Close()
			return
		}
		x.conns[c] = true
		x.mu.Unlock()
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			x.serve(c, x.profile)
		}()
	}
}

func (x *Proxy) serve(c net.Conn, p network.Profile) {
	defer func() {
		c.Close()
		x.mu.Lock()
		delete(x.conns, c)
		x.mu.Unlock()
	}()
	t, err := net.Dial("tcp", x.target)
	if err != nil {
		return
	}
	x.mu.Lock()
	x.conns[t] = true
	x.mu.Unlock()
	defer func() {
		t.Close()
		x.mu.Lock()
		delete(x.conns, t)
		x.mu.Unlock()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		shapedCopy(t, c, p, &x.toTarget, nil)
		closeWrite(t)
	}()
	go func() {
		defer wg.Done()
		shapedCopy(c, t, p, &x.toClient, func(n int) {
			x.mu.Lock()
			x.down += int64(n)
			x.mu.Unlock()
		})
		closeWrite(c)
	}()
	wg.Wait()
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// chunk is data read at a time, released after the one-way delay.
type chunk struct {
	buf *[]byte // from chunkBufs; b is its first bytes
	b   []byte
	at  time.Time
}

// chunkBufs recycles the chunks' buffers: a pull's proxy runs in the process that times it.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// link is one direction of the modelled network: when it has carried everything sent so far.
type link struct {
	mu   sync.Mutex
	free time.Time
}

// send books n bytes entering the link at t at bandwidth bps: it returns when they have left it.
func (l *link) send(t time.Time, n int, bps int64) time.Time {
	tx := time.Duration(float64(n) * 8 / float64(bps) * float64(time.Second))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.free.After(t) {
		t = l.free
	}
	l.free = t.Add(tx)
	return l.free
}

// shapedCopy copies src to dst over a modelled link: a chunk read at t enters the link once it is
// free (every connection's chunks share it), takes its size over the bandwidth, and arrives half the
// round-trip time (the propagation delay) after it left; it is written then. count sees every byte
// written, before the client can read it.
func shapedCopy(dst io.Writer, src io.Reader, p network.Profile, l *link, count func(int)) {
	delay := p.RTT / 2
	q := make(chan chunk, 256)
	go func() {
		defer close(q)
		for {
			buf := chunkBufs.Get().(*[]byte)
			n, err := src.Read(*buf)
			if n > 0 {
				q <- chunk{buf, (*buf)[:n], time.Now().Add(delay)}
			} else {
				chunkBufs.Put(buf)
			}
			if err != nil {
				return
			}
		}
	}()
	for ch := range q {
		arrive := ch.at
		if p.Bandwidth > 0 {
			arrive = l.send(ch.at.Add(-delay), len(ch.b), p.Bandwidth).Add(delay)
		}
		if d := time.Until(arrive); d > 0 {
			time.Sleep(d)
		}
		// Counted before the write, so a client that has read the last byte never sees a count
		// short of it; a short write takes back what did not go.
		if count != nil {
			count(len(ch.b))
		}
		n, err := dst.Write(ch.b)
		if count != nil && n < len(ch.b) {
			count(n - len(ch.b))
		}
		chunkBufs.Put(ch.buf)
		if err != nil {
			for ch := range q { // drain, so the reader ends
				chunkBufs.Put(ch.buf)
			}
			return
		}
	}
}

// Close stops the proxy, cuts every connection and waits for its goroutines.
func (x *Proxy) Close() error {
	x.mu.Lock()
	x.closed = true
	for c := range x.conns {
		c.Close()
	}
	x.mu.Unlock()
	err := x.ln.Close()
	x.wg.Wait()
	return err
}

// PushLayer pushes the compressed layer at path (gzip, or eStargz, which is gzip) as a blob of
// repository repo in the registry at addr, over plain HTTP, and describes it as mediaType. The
// blob is read twice, to hash it and to send it: never decompressed (a push needs no diff ID).
func PushLayer(ctx context.Context, addr, repo, path, mediaType string) (ocispec.Descriptor, error) {
	r, err := name.NewRepository(addr+"/"+repo, name.Insecure)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	dg := digest.Canonical.Digester()
	size, err := io.Copy(dg.Hash(), f)
	f.Close()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	h, err := v1.NewHash(dg.Digest().String())
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	l, err := partial.CompressedToLayer(fileBlob{path: path, digest: h, size: size, mediaType: types.MediaType(mediaType)})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if err := remote.WriteLayer(r, l, remote.WithContext(ctx)); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: dg.Digest(), Size: size}, nil
}

// fileBlob is a compressed layer in a file whose digest and size are known (partial.CompressedLayer).
type fileBlob struct {
	path      string
	digest    v1.Hash
	size      int64
	mediaType types.MediaType
}

func (b fileBlob) Digest() (v1.Hash, error)            { return b.digest, nil }
func (b fileBlob) Compressed() (io.ReadCloser, error)  { return os.Open(b.path) }
func (b fileBlob) Size() (int64, error)                { return b.size, nil }
func (b fileBlob) MediaType() (types.MediaType, error) { return b.mediaType, nil }
