// Command realstack builds the real seed stack the flagship is shaped after — Debian bookworm minbase
// (debootstrap), then `apt-get install --no-install-recommends emacs-nox`, then `apache2`, each a
// layer as a Dockerfile's RUN makes one (apt lists and caches cleaned) — and writes it as an OCI
// image layout, its layer tars made by containerd's walking differ, and the layers' manifests
// (scenarios/manifests/: path, type, size, mode, link target per entry; no contents).
//
//	go run ./scripts/realstack [-work DIR] [-oci DIR] [-manifests DIR] [-mirror URL]
//
// Needs root (debootstrap, chroot, overlay mounts) and the network to Debian's mirror. Each step is
// an overlay mount over the layers below, so a layer's diff is exactly what its step wrote.
package main

import (
	"archive/tar"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/archive"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/scenario"
)

// RefName names the image in the layout's index.
const RefName = "seedbench/debian-emacs-apache:bookworm"

type step struct {
	name string
	run  []string // shell commands run in the chroot (nil: debootstrap)
}

var steps = []step{
	{name: "debian"},
	{name: "emacs", run: []string{"apt-get update -qq", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends emacs-nox"}},
	{name: "apache2", run: []string{"apt-get update -qq", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apache2"}},
}

// clean is what a Dockerfile's RUN removes after apt, so the layer holds the packages alone.
const clean = "apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log /tmp/*"

func main() {
	work := flag.String("work", "/var/tmp/seedbench-realstack", "work directory (the layers' trees and mounts)")
	ociDir := flag.String("oci", "/var/tmp/seedbench-realstack/oci", "where to write the OCI image layout")
	manifests := flag.String("manifests", "scenarios/manifests", "where to write the layers' manifests")
	mirror := flag.String("mirror", "http://deb.debian.org/debian", "the Debian mirror")
	flag.Parse()
	if err := build(context.Background(), *work, *ociDir, *manifests, *mirror); err != nil {
		fmt.Fprintln(os.Stderr, "realstack:", err)
		os.Exit(1)
	}
}

func build(ctx context.Context, work, ociDir, manifests, mirror string) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("needs root: debootstrap, chroot and overlay mounts")
	}
	start := time.Now()
	var undo []func()
	defer func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}()
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	for _, d := range []string{work, manifests} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	var uppers []string // each step's upper directory, bottom first
	var layers []v1.Layer
	var stats []string
	lowerView := filepath.Join(work, "empty")
	if err := os.MkdirAll(lowerView, 0o755); err != nil {
		return err
	}
	for i, st := range steps {
		t0 := time.Now()
		upper := filepath.Join(work, st.name, "upper")
		merged := filepath.Join(work, st.name, "merged")
		for _, d := range []string{upper, merged, filepath.Join(work, st.name, "work")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		if i == 0 {
			if err := run("debootstrap", "--variant=minbase", "bookworm", upper, mirror); err != nil {
				return err
			}
			if err := chrootRun(upper, clean); err != nil {
				return err
			}
			// The device nodes debootstrap makes belong to the host's /dev, not to an image.
			if err := emptyDir(filepath.Join(upper, "dev")); err != nil {
				return err
			}
			merged = upper
		} else {
			opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(reverse(uppers), ":"), upper, filepath.Join(work, st.name, "work"))
			if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
				return fmt.Errorf("%s: mount: %w", st.name, err)
			}
			undo = append(undo, func() { unix.Unmount(merged, unix.MNT_DETACH) })
			cmds := append([]string{"printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d"}, st.run...)
			cmds = append(cmds, "rm -f /usr/sbin/policy-rc.d", clean)
			if err := chrootRun(merged, strings.Join(cmds, " && ")); err != nil {
				return fmt.Errorf("%s: %w", st.name, err)
			}
		}
		uppers = append(uppers, upper)
		blob := filepath.Join(work, st.name+".tar")
		if err := writeDiff(ctx, blob, lowerView, merged); err != nil {
			return fmt.Errorf("%s: diff: %w", st.name, err)
		}
		ents, files, bytes, err := manifestOf(blob)
		if err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		mf, err := os.Create(filepath.Join(manifests, st.name+".tsv"))
		if err != nil {
			return err
		}
		err = scenario.WriteManifest(mf, ents)
		if cerr := mf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		l, err := tarball.LayerFromFile(blob, tarball.WithCompressedCaching)
		if err != nil {
			return err
		}
		layers = append(layers, l)
		stats = append(stats, fmt.Sprintf("%s: %d entries, %d files, %d bytes, built in %s", st.name, len(ents), files, bytes, time.Since(t0).Round(time.Second)))
		fmt.Fprintln(os.Stderr, "realstack:", stats[len(stats)-1])
		// The next step's lower view is this one's merged tree: mounted read-only.
		lowerView = filepath.Join(work, st.name, "view")
		if err := os.MkdirAll(lowerView, 0o755); err != nil {
			return err
		}
		if i == 0 {
			lowerView = upper
		} else {
			opts := "lowerdir=" + strings.Join(reverse(uppers), ":")
			if err := unix.Mount("overlay", lowerView, "overlay", unix.MS_RDONLY, opts); err != nil {
				return fmt.Errorf("%s: view: %w", st.name, err)
			}
			view := lowerView
			undo = append(undo, func() { unix.Unmount(view, unix.MNT_DETACH) })
		}
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(ociDir); err != nil {
		return err
	}
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": RefName})); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "realstack: %s in %s, built in %s\n", RefName, ociDir, time.Since(start).Round(time.Second))
	for _, s := range stats {
		fmt.Println(s)
	}
	return nil
}

func reverse(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[len(xs)-1-i] = x
	}
	return out
}

func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// chrootRun runs a shell command line inside root, with /proc and /dev mounted for apt's scripts.
func chrootRun(root, line string) error {
	for _, m := range []struct{ src, dir, fs string }{{"proc", "proc", "proc"}, {"/dev", "dev", ""}} {
		dir := filepath.Join(root, m.dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		var err error
		if m.fs == "" {
			err = unix.Mount(m.src, dir, "", unix.MS_BIND|unix.MS_REC, "")
		} else {
			err = unix.Mount(m.src, dir, m.fs, 0, "")
		}
		if err != nil {
			return fmt.Errorf("mount %s: %w", dir, err)
		}
		defer unix.Unmount(dir, unix.MNT_DETACH)
	}
	cmd := exec.Command("chroot", root, "/bin/sh", "-c", line)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C"}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("chroot %s: %w", line, err)
	}
	return nil
}

func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// writeDiff writes the changes from lower to upper as a tar (containerd's walking differ's core).
func writeDiff(ctx context.Context, path, lower, upper string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = archive.WriteDiff(ctx, f, lower, upper)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// manifestOf lists a layer tar's entries: files, dirs, links, whiteouts (.wh.NAME) and opaque dirs
// (.wh..wh..opq); device nodes and FIFOs are left out (an image layer may carry them, a manifest
// rebuilds files). It returns the entries, the regular files and their bytes.
func manifestOf(path string) ([]scenario.ManifestEntry, int, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	var out []scenario.ManifestEntry
	files, bytes := 0, int64(0)
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, 0, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Clean("/"+h.Name), "/"), "/")
		if name == "" {
			continue
		}
		dir, base := filepath.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		e := scenario.ManifestEntry{Mode: uint32(h.Mode) & 0o7777, Path: name}
		switch {
		case base == ".wh..wh..opq":
			e = scenario.ManifestEntry{Type: 'o', Path: dir}
		case strings.HasPrefix(base, ".wh."):
			e = scenario.ManifestEntry{Type: 'w', Path: filepath.Join(dir, strings.TrimPrefix(base, ".wh."))}
		case h.Typeflag == tar.TypeDir:
			e.Type = 'd'
		case h.Typeflag == tar.TypeReg:
			e.Type, e.Size = 'f', h.Size
			files++
			bytes += h.Size
		case h.Typeflag == tar.TypeSymlink:
			e.Type, e.Target, e.Mode = 'l', h.Linkname, 0o777
		case h.Typeflag == tar.TypeLink:
			e.Type, e.Target = 'h', strings.TrimPrefix(filepath.Clean("/"+h.Linkname), "/")
		default:
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, files, bytes, nil
}
