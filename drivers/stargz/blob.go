package stargz

import (
	"io"
	"os"

	"github.com/containerd/stargz-snapshotter/estargz"
	"github.com/opencontainers/go-digest"
)

type digester struct {
	d digest.Digester
}

func newDigester() *digester { return &digester{d: digest.Canonical.Digester()} }

func (d *digester) Write(p []byte) (int, error) { return d.d.Hash().Write(p) }
func (d *digester) digest() string              { return d.d.Digest().String() }

// prefetchSpan is where an eStargz blob's prefetch landmark sits: the bytes before it are the
// prioritised files, what prefetch fetches (0 when the blob has none).
func prefetchSpan(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	r, err := estargz.Open(io.NewSectionReader(f, 0, st.Size()))
	if err != nil {
		return 0
	}
	if e, ok := r.Lookup(estargz.PrefetchLandmark); ok {
		return e.Offset
	}
	return 0
}

// layerSize is a file's size (0 when it cannot be read).
func layerSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
