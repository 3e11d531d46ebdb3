// Package pull is how images reach the drivers that fetch them from a registry: the Publisher puts
// each layer into the run's registry once per format (gzip for a full pull, eStargz for stargz, …),
// and Full is the full pull containerd does — fetch, verify, decompress, apply and commit each layer
// through a driver's snapshotter — behind the same drivers.Puller interface a lazy snapshotter
// implements itself. The engine (internal/replay) times a pull, whichever implementation makes it,
// and does neither itself.
package pull

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/containerd/containerd/v2/pkg/archive/compression"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/registry"
)

// Repository is where the Publisher pushes every blob in the run's registry (blobs are content
// addressed: one repository holds every format's).
const Repository = "seedbench/layers"

// Gzip is the format a full pull fetches: each layer's tar compressed with containerd's compressor
// at its default level, as `ctr`/containerd push it.
var Gzip drivers.Format = gzipFormat{}

type gzipFormat struct{}

func (gzipFormat) Name() string { return "gzip" }

func (gzipFormat) Convert(_ context.Context, src drivers.LayerSource, dst *os.File) (string, map[string]string, error) {
	zw, err := compression.CompressStream(dst, compression.Gzip)
	if err != nil {
		return "", nil, err
	}
	if _, err := io.Copy(zw, src.Tar); err != nil {
		zw.Close()
		return "", nil, err
	}
	if err := zw.Close(); err != nil {
		return "", nil, err
	}
	return ocispec.MediaTypeImageLayerGzip, nil, nil
}

// Publisher publishes layers into a registry, once per format and layer: the second driver of a
// format gets the first one's blob, converted and pushed once. Safe for concurrent use.
type Publisher struct {
	addr string // the registry's host:port
	dir  string // scratch space for blobs being built
	mu   sync.Mutex
	done map[key]ocispec.Descriptor
}

type key struct{ format, layer string }

// NewPublisher publishes into the registry at addr (host:port), building blobs in dir (made if
// missing; each blob is removed once pushed).
func NewPublisher(addr, dir string) *Publisher {
	return &Publisher{addr: addr, dir: dir, done: map[key]ocispec.Descriptor{}}
}

// Layer publishes the layer to be committed as name, read from src, in format f, unless it already
// is; it returns the blob's descriptor either way.
func (p *Publisher) Layer(ctx context.Context, f drivers.Format, name string, src drivers.LayerSource) (ocispec.Descriptor, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := key{f.Name(), name}
	if d, ok := p.done[k]; ok {
		return d, nil
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return ocispec.Descriptor{}, err
	}
	tmp, err := os.CreateTemp(p.dir, f.Name()+"-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.Remove(tmp.Name())
	mediaType, annotations, err := f.Convert(ctx, src, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %s: %w", name, f.Name(), err)
	}
	d, err := registry.PushLayer(ctx, p.addr, Repository, tmp.Name(), mediaType)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: push %s blob: %w", name, f.Name(), err)
	}
	d.Annotations = annotations
	p.done[k] = d
	return d, nil
}

// Published returns layers (committed names, bottom first) as published in format f: every one of
// them must have been (Layer).
func (p *Publisher) Published(f drivers.Format, layers []string) (drivers.Published, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := drivers.Published{Ref: p.addr + "/" + Repository, Layers: layers}
	for _, l := range layers {
		d, ok := p.done[key{f.Name(), l}]
		if !ok {
			return drivers.Published{}, fmt.Errorf("layer %s was never published as %s", l, f.Name())
		}
		out.Blobs = append(out.Blobs, d)
	}
	return out, nil
}
