package main

import (
	"context"
	"fmt"
	"io"

	"github.com/seedbench/seedbench/internal/bench"
	"github.com/seedbench/seedbench/internal/result"
)

// cmdMerge joins the results of a run's shards (seedbench run --shard i/n) into the whole run's.
func cmdMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("merge", "SHARD.json... -o FILE", stderr)
	out := fs.String("o", "", "where to write the merged result")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 || *out == "" {
		return usagef("merge: name every shard's result file and the merged result's (-o FILE)")
	}
	rs, err := readResults(files)
	if err != nil {
		return err
	}
	m, err := bench.Merge(rs, files)
	if err != nil {
		return err
	}
	if err := result.WriteFile(*out, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %d shards: %d metrics, %d checks: %s\n", len(rs), len(m.Metrics), len(m.Checks), *out)
	return nil
}
