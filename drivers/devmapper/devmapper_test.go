package devmapper

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
)

// The conformance suite skips the driver, with its reason: it never runs.
func TestConformance(t *testing.T) {
	drivertest.Run(t, New("devmapper"), drivertest.Config{})
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	misc := filepath.Join(dir, "misc")
	control := filepath.Join(dir, "control")
	defer func(c, m string) { controlPath, miscPath = c, m }(controlPath, miscPath)
	controlPath, miscPath = control, misc
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(misc, "183 hw_random\n 63 vga_arbiter\n")
	for _, tc := range []struct {
		setup func()
		want  string
	}{
		{func() {}, "no device-mapper in this kernel (no " + control + ") (fix: load dm_mod (CONFIG_BLK_DEV_DM) and install dmsetup/thin-provisioning-tools)"},
		{func() { write(misc, "236 device-mapper\n") }, "run dmsetup mknodes"},
		{func() { write(control, "") }, ""}, // dmsetup present or not: unsupported either way
	} {
		tc.setup()
		d := New("devmapper")
		for what, err := range map[string]error{"check": d.Check(context.Background()), "open": openErr(d)} {
			if !errors.Is(err, drivers.ErrUnsupported) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s = %v, want unsupported with %q", what, err, tc.want)
			}
		}
	}
}

func openErr(d drivers.Driver) error {
	_, err := d.Open(context.Background(), drivers.Options{})
	return err
}
