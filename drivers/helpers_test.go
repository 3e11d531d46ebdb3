package drivers

import (
	"strings"
	"testing"
)

func TestContainerdVersion(t *testing.T) {
	v := ContainerdVersion()
	if !strings.HasPrefix(v, "v2.") {
		t.Errorf("ContainerdVersion() = %q", v)
	}
	t.Log(v)
	if got := ModuleVersion("example.com/not/linked", "fallback"); got != "fallback" {
		t.Errorf("unlinked module: %q", got)
	}
}
