package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seedbench/seedbench/internal/scenario"
)

// TestLoadDrivers: every driver spec run would refuse is refused by Load (what validate calls), each
// at its own line, with the fix; valid variants (one on another) pass.
func TestLoadDrivers(t *testing.T) {
	_, _, err := Load(context.Background(), "testdata/drivers.yaml", scenario.ResolveOptions{}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	for _, want := range []string{
		`testdata/drivers.yaml:9: drivers[1]: unknown driver "overlayfss" (did you mean "overlayfs"?)`,
		`testdata/drivers.yaml:10: drivers[2].driver: unknown driver "aufs"`,
		`testdata/drivers.yaml:11: drivers[3].mount_options: native takes no mount options (got index=on): remove mount_options`,
		`testdata/drivers.yaml:12: drivers[4].mount_options: mount option "upperdir=/tmp" is set by the snapshotter: remove it`,
		`testdata/drivers.yaml:13: drivers[5].backing: btrfs needs a btrfs backing (got xfs)`,
		`testdata/drivers.yaml:14: drivers[6].mount_options: blockfile takes no mount options`,
		`testdata/drivers.yaml:15: drivers[7].name: "native" is already a driver: give the variant a name of its own, with driver: overlayfs`,
		`testdata/drivers.yaml:16: drivers[8].name: "overlayfs-metacopy" is already a driver`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "testdata/drivers.yaml:"); n != 8 {
		t.Errorf("%d problems, want 8:\n%s", n, got)
	}
	if strings.Contains(got, ":17:") || strings.Contains(got, ":18:") {
		t.Errorf("valid variants refused:\n%s", got)
	}
}

func TestLoadSelects(t *testing.T) {
	plan, ds, err := Load(context.Background(), "../../scenarios/hello-world.yaml", scenario.ResolveOptions{Quick: true}, []string{"native", "overlayfs"})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Name != "hello-world" || len(ds) != 2 || ds[0].Info().Name != "native" || ds[1].Info().Name != "overlayfs" {
		t.Errorf("plan %s, drivers %v", plan.Name, ds)
	}
	if _, _, err := Load(context.Background(), "../../scenarios/hello-world.yaml", scenario.ResolveOptions{}, []string{"aufs"}); err == nil || !strings.Contains(err.Error(), "unknown driver aufs") {
		t.Errorf("unknown --drivers name: %v", err)
	}
}

// TestLoadCancelled: loading answers an interrupt at once, whatever it is doing (here, parsing a
// large file), so Ctrl-C and SIGTERM end `validate`, `show` and `run` before anything is mounted.
func TestLoadCancelled(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: big\nseed: 1\nlayers:\n")
	for l := range 40 {
		fmt.Fprintf(&b, "  - name: l%d\n    files:\n", l)
		for i := range 2000 {
			fmt.Fprintf(&b, "      - {path: d%d/f%d, size: 1B}\n", i%50, i)
		}
	}
	b.WriteString("images: {app: l39}\n")
	f := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := Load(ctx, f, scenario.ResolveOptions{}, nil)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 500*time.Millisecond {
		t.Errorf("cancelled load: %v after %v", err, time.Since(start))
	}
}
