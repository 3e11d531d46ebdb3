package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/all"
	"github.com/seedbench/seedbench/internal/report"
)

func cmdDrivers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("drivers", "[--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	var rows []report.DriverRow
	for _, d := range all.Catalog().All() {
		row := report.DriverRow{Info: d.Info(), Available: true}
		if err := d.Check(ctx); err != nil {
			row.Available = false
			// The catalogue says "no" already: keep the reason and the fix.
			row.Reason = strings.TrimPrefix(err.Error(), drivers.ErrUnsupported.Error()+": ")
			if !errors.Is(err, drivers.ErrUnsupported) {
				row.Reason = "check failed: " + err.Error()
			}
		}
		rows = append(rows, row)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	return report.DriversDoc(rows).Text(stdout, report.TextOptions{Width: termWidth(stdout)})
}
