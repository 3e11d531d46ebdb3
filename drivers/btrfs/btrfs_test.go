package btrfs_test

import (
	"testing"

	"github.com/seedbench/seedbench/drivers/btrfs"
	"github.com/seedbench/seedbench/drivers/drivertest"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, btrfs.New("btrfs"), drivertest.Config{})
}
