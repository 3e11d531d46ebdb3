package stargz

import (
	"io"
	"os"

	"github.com/containerd/stargz-snapshotter/estargz"
)

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
