package soci

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/awslabs/soci-snapshotter/soci"
	"github.com/awslabs/soci-snapshotter/ztoc"
	"github.com/awslabs/soci-snapshotter/ztoc/compression"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/pull"
	"github.com/seedbench/seedbench/internal/registry"
)

// Annotations a published layer's descriptor carries: its zTOC's descriptor, as SOCI's index lists it.
const (
	annZtocDigest = "io.seedbench.soci.ztoc.digest"
	annZtocSize   = "io.seedbench.soci.ztoc.size"
)

// toolID is what the zTOCs name as their builder.
const toolID = "seedbench (soci-snapshotter v0.16.1 ztoc builder)"

// format is the full pull's gzip blob, unchanged (pull.Gzip writes it: the same bytes, so the same
// digest and the one blob in the registry), plus a zTOC built from it with SOCI's zTOC builder at a
// span size, pushed beside it to the same registry. SOCI's index, which maps each layer to its zTOC,
// is per image and is pushed when an image is received or pulled (pushImage).
type format struct {
	registry string // host:port of the run's registry, where the zTOCs go
	span     int64
}

func (f format) Name() string { return "soci-span" + strconv.FormatInt(f.span, 10) }

func (f format) Convert(ctx context.Context, src drivers.LayerSource, dst *os.File) (string, map[string]string, error) {
	mediaType, _, err := pull.Gzip.Convert(ctx, src, dst)
	if err != nil {
		return "", nil, err
	}
	if err := dst.Sync(); err != nil {
		return "", nil, err
	}
	// The builder SOCI's index builder uses (soci.IndexBuilder.buildSociLayer), on the blob's file.
	toc, err := ztoc.NewBuilder(toolID).BuildZtoc(dst.Name(), f.span, ztoc.WithCompression(compression.Gzip))
	if err != nil {
		return "", nil, fmt.Errorf("build zTOC: %w", err)
	}
	r, desc, err := ztoc.Marshal(toc)
	if err != nil {
		return "", nil, fmt.Errorf("marshal zTOC: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst.Name()), "ztoc-")
	if err != nil {
		return "", nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.ReadFrom(r); err != nil {
		tmp.Close()
		return "", nil, err
	}
	if err := tmp.Close(); err != nil {
		return "", nil, err
	}
	pushed, err := registry.PushLayer(ctx, f.registry, pull.Repository, tmp.Name(), soci.SociLayerMediaType)
	if err != nil {
		return "", nil, fmt.Errorf("push zTOC: %w", err)
	}
	if pushed.Digest != desc.Digest {
		return "", nil, fmt.Errorf("zTOC pushed as %s, marshalled as %s", pushed.Digest, desc.Digest)
	}
	return mediaType, map[string]string{
		annZtocDigest:                    desc.Digest.String(),
		annZtocSize:                      strconv.FormatInt(desc.Size, 10),
		soci.IndexAnnotationSociSpanSize: strconv.FormatInt(f.span, 10),
	}, nil
}
