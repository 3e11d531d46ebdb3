package main

import (
	"context"
	"fmt"
	"io"

	"github.com/seedbench/seedbench/internal/report"
	"github.com/seedbench/seedbench/internal/result"
)

// cmdCompare compares two result files metric by metric; exit 3 when a metric got significantly
// worse (the nightly gate).
func cmdCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compare", "BASE.json NEW.json [--format table|markdown|json] [--all]", stderr)
	format := fs.String("format", "table", "table | markdown | json")
	all := fs.Bool("all", false, "list every metric, not only the significant changes")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 2 {
		return usagef("compare: name two result files, BASE.json and NEW.json")
	}
	if *format != "table" && *format != "markdown" && *format != "json" {
		return usagef("compare: --format must be table, markdown or json, not %q", *format)
	}
	base, err := result.ReadFile(files[0])
	if err != nil {
		return err
	}
	next, err := result.ReadFile(files[1])
	if err != nil {
		return err
	}
	if base.Scenario.Name != next.Scenario.Name {
		fmt.Fprintf(stderr, "seedbench: warning: comparing scenario %s with %s\n", base.Scenario.Name, next.Scenario.Name)
	}
	cs, sum := report.Compare(base, next)
	if *format == "json" {
		err = report.WriteCompareJSON(stdout, cs, sum)
	} else {
		doc := report.CompareDoc(cs, sum, !*all)
		if *format == "markdown" {
			err = doc.Markdown(stdout)
		} else {
			err = doc.Text(stdout, report.TextOptions{Width: termWidth(stdout), Details: true})
		}
	}
	if err != nil {
		return err
	}
	if sum.Worse > 0 {
		return codeError{code: exitRegression, err: fmt.Errorf("%d metrics significantly worse than %s", sum.Worse, files[0])}
	}
	return nil
}
