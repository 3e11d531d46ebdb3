package main

import (
	"context"
	"io"
	"os"

	"github.com/seedbench/seedbench/internal/report"
	"github.com/seedbench/seedbench/internal/result"
)

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", "RESULT.json... [-o FILE]", stderr)
	out := fs.String("o", "", "write the report to FILE instead of stdout")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("report: name at least one result file")
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
	for i, f := range files {
		r, err := result.ReadFile(f)
		if err != nil {
			return err
		}
		if i > 0 {
			io.WriteString(w, "\n")
		}
		if err := report.Tables(w, r); err != nil {
			return err
		}
	}
	return nil
}
