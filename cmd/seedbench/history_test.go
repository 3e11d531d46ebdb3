package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHistoryHTML: history --html writes the page whole, beside nothing else; a page path that is a
// directory is an error naming it, and leaves no temporary file behind.
func TestHistoryHTML(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "site", "history.html")
	a, b := "../../results/debian-emacs-apache/20261127T133034Z.json", "../../results/debian-emacs-apache/20261127T153229Z.json"
	if o := run(t, "history", a, b, "--html", page); o.code != 0 {
		t.Fatalf("history --html: exit %d\n%s", o.code, o.stderr)
	}
	got, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "<!DOCTYPE html>") || !strings.Contains(string(got), "const DATA = {") || !strings.HasSuffix(strings.TrimSpace(string(got)), "</html>") {
		t.Errorf("history.html is not a whole page with its data inline (%d bytes)", len(got))
	}
	entries, _ := os.ReadDir(filepath.Dir(page))
	if len(entries) != 1 {
		t.Errorf("%s holds %d files, want the page alone", filepath.Dir(page), len(entries))
	}
	o := run(t, "history", a, b, "--html", filepath.Dir(page))
	if o.code != 1 || !strings.Contains(o.stderr, "history --html") {
		t.Errorf("history --html DIR: exit %d, want 1 and an error naming the flag:\n%s", o.code, o.stderr)
	}
	if entries, _ := os.ReadDir(filepath.Dir(page)); len(entries) != 1 {
		t.Errorf("a failed history --html left %d files in %s", len(entries), filepath.Dir(page))
	}
}
