package docs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSync(t *testing.T) {
	f := filepath.Join(t.TempDir(), "README.md")
	begin, end := Markers("x", "pkg", "go test ./pkg -update")
	doc := "intro\n" + begin + "old\n" + end + "outro\n"
	if err := os.WriteFile(f, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Sync(f, begin, end, "new\n", false); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("stale part: %v", err)
	}
	if err := Sync(f, begin, end, "new\n", true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f); string(b) != "intro\n"+begin+"new\n"+end+"outro\n" {
		t.Errorf("rewritten: %q", b)
	}
	if err := Sync(f, begin, end, "new\n", false); err != nil {
		t.Errorf("fresh part: %v", err)
	}
	if err := Sync(f, "<!-- y -->\n", end, "", false); err == nil {
		t.Error("missing markers")
	}
}
