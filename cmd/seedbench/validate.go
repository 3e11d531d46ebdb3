package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/seedbench/seedbench/internal/bench"
	"github.com/seedbench/seedbench/internal/scenario"
)

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("validate", "SCENARIO.yaml...", stderr)
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("validate: name at least one scenario file")
	}
	var errs []error
	for _, f := range files {
		_, _, err := bench.Load(ctx, f, scenario.ResolveOptions{}, nil)
		if ctx.Err() != nil {
			return context.Canceled
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", f)
	}
	if len(errs) > 0 {
		// Every problem of every file, FILE:LINE: field: message, then exit 1.
		return codeError{exitError, errors.Join(errs...)}
	}
	return nil
}

func cmdShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("show", "SCENARIO.yaml [--quick] [--samples N]", stderr)
	quick := fs.Bool("quick", false, "show the plan as --quick resolves it")
	samples := fs.Int("samples", 0, "override samples per point")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef("show: name exactly one scenario file")
	}
	plan, _, err := bench.Load(ctx, files[0], scenario.ResolveOptions{Quick: *quick, Samples: *samples}, nil)
	if ctx.Err() != nil {
		return context.Canceled
	}
	if err != nil {
		return codeError{exitError, err}
	}
	return plan.Describe(stdout)
}
