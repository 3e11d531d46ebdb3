package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/all"
	"github.com/seedbench/seedbench/drivers/proxy"
	"github.com/seedbench/seedbench/internal/rundir"
	"github.com/seedbench/seedbench/internal/units"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "--driver NAME --socket PATH [--workdir DIR] [--backing-size SIZE]", stderr)
	name := fs.String("driver", "", "the in-process driver whose snapshotter to serve (seedbench drivers lists them)")
	socket := fs.String("socket", "", "the unix socket to serve containerd's snapshots gRPC service at")
	base := fs.String("workdir", rundir.DefaultBase, "base directory of run state: the driver's backing lives in a run directory there")
	sizeFlag := fs.String("backing-size", "", "size of the driver's backing filesystem, e.g. 16GiB (default 2GiB; the image is sparse)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve: unexpected argument %q", pos[0])
	}
	cat := all.Catalog()
	if *name == "" {
		return usagef("serve: --driver NAME is required, e.g. --driver overlayfs (one of: %s)", servable(cat))
	}
	if *socket == "" {
		return usagef("serve: --socket PATH is required, e.g. --socket /run/seedbench-overlayfs.sock")
	}
	var size int64
	if *sizeFlag != "" {
		s, err := units.ParseSize(*sizeFlag)
		if err != nil {
			return usagef("serve: --backing-size: %v", err)
		}
		size = int64(s)
	}
	d, err := cat.Variant(drivers.Spec{Name: *name})
	if err != nil {
		return usagef("serve: --driver: %v", err)
	}
	if d.Info().Family == proxy.Family {
		return usagef("serve: --driver %s reaches its snapshotter through a proxy socket itself: serve a snapshotter, e.g. --driver overlayfs", *name)
	}
	sock, err := filepath.Abs(*socket)
	if err != nil {
		return err
	}
	if err := proxy.CheckListen(sock); err != nil {
		return err
	}
	if err := d.Check(ctx); err != nil {
		return err
	}
	wd, err := rundir.Create(*base, rundir.NewID(time.Now()))
	if err != nil {
		return err
	}
	srv, err := proxy.Listen(ctx, d, sock, drivers.Options{WorkDir: filepath.Join(wd.Path, "w"), BackingSize: size})
	if err != nil {
		return errors.Join(err, wd.Close())
	}
	b := srv.Instance.Backing()
	fmt.Fprintf(stdout, "serving %s at %s (its backing: %s at %s); stop with SIGINT or SIGTERM\n", *name, sock, b.FS, b.Path)
	fmt.Fprintf(stdout, "containerd reaches it with:\n  [proxy_plugins.seedbench-%s]\n    type = \"snapshot\"\n    address = %q\n", *name, sock)
	fmt.Fprintf(stdout, "seedbench measures it with a scenario driver: {name: served-%s, driver: proxy, socket: %s}\n", *name, sock)
	select {
	case <-ctx.Done():
	case err = <-srv.Done():
		err = fmt.Errorf("serve %s at %s: %w", *name, sock, err)
	}
	cerr := srv.Close(context.Background())
	if cerr == nil {
		fmt.Fprintf(stdout, "stopped: %s closed, %s removed\n", *name, sock)
	}
	return errors.Join(err, cerr, wd.Close())
}

// servable lists the drivers serve can serve: every one but the proxies.
func servable(cat *drivers.Catalog) string {
	var out []string
	for _, d := range cat.All() {
		if d.Info().Family != proxy.Family {
			out = append(out, d.Info().Name)
		}
	}
	return strings.Join(out, ", ")
}

// serveChild runs this process as a proxy driver's private server when it was started as one, and
// returns its exit code (-1: it was not).
func serveChild() int {
	child, err := proxy.ChildMain(all.Catalog())
	switch {
	case !child:
		return -1
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", proxy.ChildName, err)
		return exitError
	}
	return exitOK
}
