package zfs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/drivers/zfs"
)

// The conformance suite skips the driver, with its reason: it never runs.
func TestConformance(t *testing.T) {
	drivertest.Run(t, zfs.New("zfs"), drivertest.Config{})
}

func TestUnsupported(t *testing.T) {
	d := zfs.New("zfs")
	cerr := d.Check(context.Background())
	_, oerr := d.Open(context.Background(), drivers.Options{})
	if !errors.Is(cerr, drivers.ErrUnsupported) || oerr == nil || oerr.Error() != cerr.Error() {
		t.Fatalf("check = %v, open = %v: want the same unsupported error", cerr, oerr)
	}
	t.Log(cerr)
}
