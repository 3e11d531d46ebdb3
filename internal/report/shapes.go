package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/stats"
)

// A shape is a published claim about how drivers differ, checked against a result: what is
// expected, what the result measured, whether the claim holds there, and the mechanism behind it.
// A shape whose drivers or metrics the result lacks is left out.
type shape struct {
	claim string
	why   string
	check func(r *result.Result) (measured string, holds bool, ok bool)
}

var shapes = []shape{
	{
		claim: "copy-up is flat in file size on btrfs and on overlayfs over xfs or btrfs (per-byte cost < 5% of overlayfs over ext4's)",
		why: "overlayfs copies a file up with copy_file_range: on xfs (reflink=1) and btrfs that clones the extents, so only " +
			"metadata moves; on ext4 every byte is copied and the copy fsynced. The btrfs snapshotter's container is a " +
			"writable snapshot: a write never copies the file.",
		check: func(r *result.Result) (string, bool, bool) {
			ref := findFit(r, "overlayfs", metric.FitCopyup, "append")
			if ref == nil || !(ref.Beta > 0) {
				return "", false, false
			}
			var parts []string
			holds := true
			for _, d := range []string{"btrfs", "overlayfs-xfs", "overlayfs-btrfs"} {
				f := findFit(r, d, metric.FitCopyup, "append")
				if f == nil || math.IsNaN(f.Beta) {
					continue
				}
				frac := f.Beta / ref.Beta
				holds = holds && frac < 0.05
				parts = append(parts, fmt.Sprintf("%s %s", d, pct(frac)))
			}
			if len(parts) == 0 {
				return "", false, false
			}
			return fmt.Sprintf("per-byte copy-up cost (fit.copyup, append) as a share of overlayfs's %s: %s",
				FormatRate(1/ref.Beta*1e9), strings.Join(parts, ", ")), holds, true
		},
	},
	{
		claim: "blockfile's container prepare copies the whole image on ext4 but is near-constant on a reflink backing",
		why: "every blockfile Prepare copies the parent's ext4 image file, so its cost follows that file's size (sized from " +
			"the scenario's largest container); on xfs or btrfs copy_file_range reflinks the file instead.",
		check: func(r *result.Result) (string, bool, bool) {
			full, rl := containerPrepare(r, "blockfile"), containerPrepare(r, "blockfile-reflink")
			if full <= 0 || rl <= 0 {
				return "", false, false
			}
			return fmt.Sprintf("container prepare: blockfile (ext4) %s, blockfile-reflink %s (×%.1f)",
				FormatNanos(full), FormatNanos(rl), full/rl), full/rl >= 5, true
		},
	},
	{
		claim: "page cache for containers reading one working set: ≈ 1× on overlayfs, ≈ n× on native and btrfs, ≥ 2× on fuse-overlayfs and erofs",
		why: "overlayfs's containers open the lower file's own inode, so they share its pages. native's copies and btrfs's " +
			"snapshots are separate inodes, and a reflink shares blocks on disk, not pages in memory. fuse-overlayfs caches " +
			"in each mount's FUSE inodes on top of the backing file's pages; erofs reads its layer images through loop " +
			"devices, and caches both the image and the files of each mount.",
		check: func(r *result.Result) (string, bool, bool) {
			n, ws, byDriver := pagecacheMultiples(r)
			if n < 2 || len(byDriver) == 0 {
				return "", false, false
			}
			holds := true
			var parts []string
			for _, d := range driverOrder(r) {
				x, ok := byDriver[d]
				if !ok {
					continue
				}
				switch d {
				case "overlayfs":
					holds = holds && x < 1.5
				case "native", "btrfs":
					holds = holds && x > 0.85*float64(n)
				case "fuse-overlayfs", "erofs":
					holds = holds && x >= 2
				default:
					continue
				}
				parts = append(parts, fmt.Sprintf("%s %.1f×", d, x))
			}
			if len(parts) == 0 {
				return "", false, false
			}
			return fmt.Sprintf("resident after %d containers read the same %s, × the working set: %s", n, ws, strings.Join(parts, ", ")), holds, true
		},
	},
	{
		claim: "native is a true full copy on ext4 but near-free in disk on btrfs",
		why: "native's Prepare copies the parent with copy_file_range: on ext4 byte for byte, on btrfs (and xfs) as reflinks " +
			"that share the blocks. Its time stays: it still walks every file and fsyncs each copy.",
		check: func(r *result.Result) (string, bool, bool) {
			ext, okE := lastDisk(r, "native")
			btr, okB := lastDisk(r, "native-btrfs")
			if !okE || !okB {
				return "", false, false
			}
			return fmt.Sprintf("disk used by the images and every container, × their unique layers: native %.2f, native-btrfs %.2f", ext, btr),
				ext >= 3 && btr <= 1.5, true
		},
	},
}

// Shapes writes the published shapes the result can check: for each, whether it holds here, the
// figures, and why. Nothing is written when none applies.
func Shapes(w io.Writer, r *result.Result, md bool) error {
	var lines []string
	for _, s := range shapes {
		measured, holds, ok := s.check(r)
		if !ok {
			continue
		}
		verdict := "holds"
		if !holds {
			verdict = "does NOT hold here"
		}
		if md {
			lines = append(lines, fmt.Sprintf("- **%s** — %s: %s. *Why:* %s", s.claim, verdict, measured, s.why))
		} else {
			lines = append(lines, fmt.Sprintf("- %s: %s\n    %s\n    why: %s", s.claim, verdict, measured, s.why))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	ew := &errWriter{w: w}
	if md {
		fmt.Fprintf(ew, "\n### shapes\n\n%s\n", strings.Join(lines, "\n"))
	} else {
		fmt.Fprintf(ew, "\nshapes\n%s\n", strings.Join(lines, "\n"))
	}
	return ew.err
}

func pct(frac float64) string {
	if math.Abs(frac) < 0.0005 {
		return "0.0%"
	}
	if math.Abs(frac) < 0.1 {
		return strconv.FormatFloat(100*frac, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(100*frac, 'f', 0, 64) + "%"
}

// findFit returns the driver's fit of name with how=how at the warm cache (or no cache parameter).
func findFit(r *result.Result, driver, name, how string) *result.Fit {
	fits := r.Fits
	if len(fits) == 0 {
		fits = stats.Fits(r) // a result written before fits were
	}
	for i := range fits {
		f := &fits[i]
		if f.Driver == driver && f.Name == name && f.Params["how"] == how && (f.Params["cache"] == "" || f.Params["cache"] == "warm") {
			return f
		}
	}
	return nil
}

// containerPrepare is the largest of the driver's container prepare medians (the largest image's).
func containerPrepare(r *result.Result, driver string) float64 {
	most := 0.0
	for _, m := range r.Find(driver, "snapshot.prepare", nil) {
		if m.Params["container"] != "" && m.Summary.N > 0 {
			most = max(most, m.Summary.Median)
		}
	}
	return most
}

// pagecacheMultiples returns, at the largest container count with page-cache figures, the page
// cache each driver held as a multiple of the working set.
func pagecacheMultiples(r *result.Result) (n int, ws string, by map[string]float64) {
	by = map[string]float64{}
	for _, m := range r.Metrics {
		if m.Name != "pagecache.resident" {
			continue
		}
		c, err := strconv.Atoi(m.Params["containers"])
		if err != nil || c < n {
			continue
		}
		if c > n {
			n, by = c, map[string]float64{}
		}
		size, ok := metric.Number(m.Params[metric.PWorkingSet])
		if !ok || size <= 0 || m.Summary.N == 0 {
			continue
		}
		ws = m.Params["working_set"]
		by[m.Driver] = m.Summary.Median / size
	}
	return n, ws, by
}

// lastDisk is the driver's disk.vs_unique at the most containers.
func lastDisk(r *result.Result, driver string) (float64, bool) {
	best, v, ok := -1, 0.0, false
	for _, m := range r.Find(driver, "disk.vs_unique", nil) {
		c, err := strconv.Atoi(m.Params["containers"])
		if err == nil && c > best && m.Summary.N > 0 {
			best, v, ok = c, m.Summary.Median, true
		}
	}
	return v, ok
}
