package soci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/awslabs/soci-snapshotter/soci"
	"github.com/awslabs/soci-snapshotter/ztoc"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/pull"
	"github.com/seedbench/seedbench/internal/registry"
)

// pushImage pushes, for the first k+1 layers of chain, what SOCI finds an image's index by (a SOCI
// index v2, as `soci convert` makes it): the SOCI index manifest listing each layer's zTOC
// (soci.NewIndex(soci.V2, …), annotated as soci.IndexBuilder annotates it), and the image manifest —
// the chain's gzip layers — annotated with the index's digest (com.amazon.soci.index-digest). The
// snapshotter is given the image manifest's digest and reads the annotation from the registry. It
// returns the image manifest's digest.
func pushImage(ctx context.Context, addr string, chain drivers.Published, k int) (digest.Digest, error) {
	var ztocs, layers []ocispec.Descriptor
	for j := 0; j <= k; j++ {
		b := chain.Blobs[j]
		layers = append(layers, ocispec.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size})
		zd, err := digest.Parse(b.Annotations[annZtocDigest])
		if err != nil {
			return "", fmt.Errorf("layer %s: no zTOC was published for blob %s (%v)", chain.Layers[j], b.Digest, err)
		}
		zs, err := strconv.ParseInt(b.Annotations[annZtocSize], 10, 64)
		if err != nil {
			return "", fmt.Errorf("layer %s: zTOC size %q: %v", chain.Layers[j], b.Annotations[annZtocSize], err)
		}
		if err := checkZtoc(ctx, addr, zd, b); err != nil {
			return "", fmt.Errorf("layer %s: %w", chain.Layers[j], err)
		}
		ztocs = append(ztocs, ocispec.Descriptor{MediaType: soci.SociLayerMediaType, Digest: zd, Size: zs,
			Annotations: map[string]string{
				soci.IndexAnnotationImageLayerMediaType: b.MediaType,
				soci.IndexAnnotationImageLayerDigest:    b.Digest.String(),
				soci.IndexAnnotationSociSpanSize:        b.Annotations[soci.IndexAnnotationSociSpanSize],
			}})
	}
	idx, err := soci.MarshalIndex(soci.NewIndex(soci.V2, ztocs, nil, map[string]string{soci.IndexAnnotationBuildToolIdentifier: toolID}))
	if err != nil {
		return "", err
	}
	// The index's config is the empty JSON object, the image's a minimal image config.
	if _, err := pushBlob(ctx, addr, []byte("{}")); err != nil {
		return "", err
	}
	idxDigest, err := pushManifest(ctx, addr, idx)
	if err != nil {
		return "", fmt.Errorf("push the SOCI index: %w", err)
	}
	cfg, _ := json.Marshal(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers"}})
	cfgDesc, err := pushBlob(ctx, addr, cfg)
	if err != nil {
		return "", err
	}
	cfgDesc.MediaType = ocispec.MediaTypeImageConfig
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: layers,
		Annotations: map[string]string{soci.ImageAnnotationSociIndexDigest: idxDigest.String()}}
	m.SchemaVersion = 2
	body, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	md, err := pushManifest(ctx, addr, body)
	if err != nil {
		return "", fmt.Errorf("push the image manifest: %w", err)
	}
	return md, nil
}

// checkZtoc fetches zTOC zd from the registry and checks it is blob b's: SOCI itself mounts a layer
// with another layer's zTOC, and its reads then fail span verification (EIO) long after the pull.
func checkZtoc(ctx context.Context, addr string, zd digest.Digest, b ocispec.Descriptor) error {
	url := "http://" + addr + "/v2/" + pull.Repository + "/blobs/" + zd.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("zTOC %s: %w", zd, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("zTOC %s: GET %s: %s: publish the layer again", zd, url, resp.Status)
	}
	toc, err := ztoc.Unmarshal(resp.Body)
	if err != nil {
		return fmt.Errorf("zTOC %s is not a zTOC (%v): publish the layer again", zd, err)
	}
	if int64(toc.CompressedArchiveSize) != b.Size {
		return fmt.Errorf("zTOC %s is not blob %s's: it indexes a %d-byte blob, this one is %d bytes: rebuild the SOCI index from the layer's own blob", zd, b.Digest, toc.CompressedArchiveSize, b.Size)
	}
	return nil
}

// pushBlob pushes data as a blob of the layers' repository.
func pushBlob(ctx context.Context, addr string, data []byte) (ocispec.Descriptor, error) {
	f, err := os.CreateTemp("", "seedbench-soci-blob-")
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return registry.PushLayer(ctx, addr, pull.Repository, f.Name(), "application/octet-stream")
}

// pushManifest puts an OCI image manifest into the layers' repository by its digest.
func pushManifest(ctx context.Context, addr string, body []byte) (digest.Digest, error) {
	d := digest.FromBytes(body)
	url := "http://" + addr + "/v2/" + pull.Repository + "/manifests/" + d.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", ocispec.MediaTypeImageManifest)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return "", fmt.Errorf("PUT %s: %s: %s", url, resp.Status, bytes.TrimSpace(msg))
	}
	return d, nil
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
