package replay

import (
	"os"
	"runtime"
	"testing"

	"github.com/containerd/log"

	"github.com/seedbench/seedbench/internal/scenario"
)

func init() {
	// As in cmd/seedbench: keep the main thread out of containerd's mount threads' way.
	runtime.LockOSThread()
}

func TestMain(m *testing.M) {
	log.SetLevel("error")
	os.Exit(m.Run())
}

func loadPlan(t *testing.T, file string, quick bool) *scenario.Plan {
	t.Helper()
	sc, err := scenario.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := scenario.Resolve(sc, scenario.ResolveOptions{Quick: quick})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}
