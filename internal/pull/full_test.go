package pull

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// faultyFetcher is a test double of a registry's fetcher that serves wrong bytes: the faults a
// well-behaved in-process registry cannot show.
type faultyFetcher struct {
	body []byte
	err  error
}

func (f faultyFetcher) Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
	if f.err != nil {
		return nil, f.err
	}
	return io.NopCloser(bytes.NewReader(f.body)), nil
}

// TestFetchBlobRefuses: a full pull checks what it fetched — a blob cut short, one too long, one
// with other bytes, and a fetch error each fail with what went wrong.
func TestFetchBlobRefuses(t *testing.T) {
	blob := bytes.Repeat([]byte("layer"), 1000)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(blob), Size: int64(len(blob))}
	other := bytes.Repeat([]byte("LAYER"), 1000)
	for _, tc := range []struct {
		name string
		f    faultyFetcher
		want string
	}{
		{"truncated", faultyFetcher{body: blob[:len(blob)/2]}, "truncated or overlong"},
		{"overlong", faultyFetcher{body: append(blob, 'x')}, "truncated or overlong"},
		{"wrong bytes", faultyFetcher{body: other}, "the registry sent the wrong bytes"},
		{"404", faultyFetcher{err: errors.New("content at http://127.0.0.1/v2/x/blobs/sha256:00 not found: not found")}, "not found"},
	} {
		err := fetchBlob(context.Background(), tc.f, desc, filepath.Join(t.TempDir(), "blob"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	if err := fetchBlob(context.Background(), faultyFetcher{body: blob}, desc, filepath.Join(t.TempDir(), "blob")); err != nil {
		t.Errorf("the right blob: %v", err)
	}
}
