package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/seedbench/seedbench/internal/bench"
	"github.com/seedbench/seedbench/internal/rundir"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/trace"
)

func cmdTrace(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("trace", "SCENARIO.yaml --image NAME [-o FILE] [--timeout D] [--workdir DIR] -- COMMAND [ARG...]", stderr)
	image := fs.String("image", "", "the scenario's image to run the program in (required)")
	out := fs.String("o", "", "the trace file to write (default: stdout)")
	timeout := fs.Duration("timeout", 10*time.Second, "stop the program (SIGTERM, then SIGKILL 5s later) after this long: a server never exits on its own")
	workdir := fs.String("workdir", rundir.DefaultBase, "base directory for the image's tree while the program runs")
	var command []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, command = args[:i], args[i+1:]
	}
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(files) != 1:
		return usagef("trace: name exactly one scenario file")
	case *image == "":
		return usagef("trace: --image is required: the image whose stack the program runs in")
	case len(command) == 0:
		return usagef("trace: give the command after --, e.g. seedbench trace s.yaml --image web -- /usr/sbin/apache2ctl -X")
	}
	if os.Geteuid() != 0 {
		return errors.New("trace needs root: it builds the image's tree, mounts /proc and /dev in it and chroots")
	}
	if err := bench.CheckWorkDir(*workdir); err != nil {
		return err
	}
	plan, _, err := bench.Load(ctx, files[0], scenario.ResolveOptions{Images: bench.Images(ctx, *workdir)}, nil)
	if err != nil {
		return codeError{exitError, err}
	}
	dir, err := rundir.Create(*workdir, "trace-"+strconv.Itoa(os.Getpid()))
	if err != nil {
		return err
	}
	defer dir.Close()
	t, err := trace.Record(ctx, plan, trace.Options{Image: *image, Command: command, Timeout: *timeout, Dir: dir.Path, Log: stderr})
	if err != nil {
		return codeError{exitError, err}
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := scenario.WriteTrace(w, t); err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(stderr, "trace: %d accesses to %s\n", len(t.Entries), *out)
	}
	return nil
}
