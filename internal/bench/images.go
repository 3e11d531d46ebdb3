package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/plugins/content/local"

	"github.com/seedbench/seedbench/internal/image"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/rundir"
	"github.com/seedbench/seedbench/internal/scenario"
)

// ImageCache is the directory under the work directory base where images' layer blobs are kept, by
// digest, from run to run (a containerd content store), with the OCI layout tars unpacked.
const ImageCache = "images"

// Images returns the opener scenario.Resolve uses for layers that come from an image: it opens the
// image (fetching or copying its blobs into base's image cache), and scans each layer's tar once —
// its footprint for the pre-flight check, every entry checked, the blob against its diff ID — so a
// bad image stops the run before anything is mounted.
func Images(ctx context.Context, base string) func(scenario.ImageSource) ([]scenario.ImageLayer, error) {
	if base == "" {
		base = rundir.DefaultBase
	}
	return func(src scenario.ImageSource) ([]scenario.ImageLayer, error) {
		dir := filepath.Join(base, ImageCache)
		if err := os.MkdirAll(filepath.Join(dir, "layouts"), 0o755); err != nil {
			return nil, fmt.Errorf("image cache: %w", err)
		}
		store, err := local.NewStore(dir)
		if err != nil {
			return nil, fmt.Errorf("image cache: %w", err)
		}
		im, err := image.Open(ctx, image.Source{OCI: src.OCI, Ref: src.Ref, Remote: src.Image}, src.Dir, filepath.Join(dir, "layouts"), store)
		if err != nil {
			return nil, err
		}
		out := make([]scenario.ImageLayer, len(im.Layers))
		var below []*layer.Tree
		for i, l := range im.Layers {
			il := scenario.ImageLayer{Source: im.Source.String(), Index: l.Index, Count: len(im.Layers), Digest: l.Blob.Digest.String(),
				DiffID: l.DiffID.String(), MediaType: l.Blob.MediaType, Size: l.Blob.Size}
			il.Tar = func(ctx context.Context) (io.ReadCloser, error) { return im.Tar(ctx, l.Index) }
			t, err := ScanImageLayer(ctx, &il, fmt.Sprintf("%d of %d", l.Index, len(im.Layers)))
			if err == nil && len(below) > 0 {
				err = layer.CheckThrough(layer.Merge(below), t)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", im.Source, err)
			}
			below = append(below, t)
			st := t.Stats()
			il.DiskBytes, il.Entries = st.DiskBytes, int64(len(t.Entries))
			out[i] = il
		}
		return out, nil
	}
}

// ScanImageLayer reads an image layer's tar to its end and returns its tree (named name in errors).
func ScanImageLayer(ctx context.Context, il *scenario.ImageLayer, name string) (*layer.Tree, error) {
	rc, err := il.Tar(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	t, err := layer.FromTar(name, rc)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, fmt.Errorf("layer %s: %w", name, err)
	}
	return t, nil
}
