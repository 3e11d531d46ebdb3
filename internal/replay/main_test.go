package replay

import (
	"os"
	"runtime"
	"testing"

	"github.com/containerd/log"
)

func init() {
	// As in cmd/seedbench: keep the main thread out of containerd's mount threads' way.
	runtime.LockOSThread()
}

func TestMain(m *testing.M) {
	log.SetLevel("error")
	os.Exit(m.Run())
}
