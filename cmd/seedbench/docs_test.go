package main

import (
	"bytes"
	"context"
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// usageOf runs a command with -h and returns its usage lines (after "seedbench ": a command may
// have a second form, on the lines after the first) and its flags.
func usageOf(t *testing.T, name string) ([]string, []string) {
	t.Helper()
	var stderr bytes.Buffer
	if code := runMain(context.Background(), []string{name, "-h"}, &bytes.Buffer{}, &stderr); code != exitOK {
		t.Fatalf("%s -h: exit %d: %s", name, code, stderr.String())
	}
	lines := strings.Split(stderr.String(), "\n")
	usage, ok := strings.CutPrefix(lines[0], "usage: seedbench ")
	if !ok {
		t.Fatalf("%s -h: first line %q", name, lines[0])
	}
	usages := []string{usage}
	for _, l := range lines[1:] {
		if more, ok := strings.CutPrefix(l, "       seedbench "); ok {
			usages = append(usages, more)
		}
	}
	var flags []string
	for _, l := range lines[1:] {
		if m := regexp.MustCompile(`^  -(\S+)`).FindStringSubmatch(l); m != nil {
			flags = append(flags, m[1])
		}
	}
	return usages, flags
}

// flagsIn lists the flags a usage line names ([--quick], [-o FILE], --noise FILE, …).
func flagsIn(usage string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?:^|[\s\[])--?([a-z][a-z0-9-]*)`).FindAllStringSubmatch(usage, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestUsageDocumented pins each command's usage line to its flags, and README.md's command-line
// block and main.go's doc to the usage lines.
func TestUsageDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	mainGo, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		usages, flags := usageOf(t, c.name)
		var named []string
		for _, u := range usages {
			for _, f := range flagsIn(u) {
				if !slices.Contains(named, f) {
					named = append(named, f)
				}
			}
		}
		slices.Sort(flags)
		slices.Sort(named)
		if !slices.Equal(flags, named) {
			t.Errorf("%s: usage %q names flags %v, the command defines %v", c.name, usages, named, flags)
		}
		for _, usage := range usages {
			line := "seedbench " + usage // the usage line starts with the command
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `( +#.*)?$`).Match(readme) {
				t.Errorf("README.md's command line block lacks %q", line)
			}
			if !regexp.MustCompile(`(?m)^//\t` + regexp.QuoteMeta(line) + `( +#.*)?$`).Match(mainGo) {
				t.Errorf("main.go's doc lacks %q", line)
			}
		}
	}
}

// TestREADMELayout: README.md's layout section names every package of the module.
func TestREADMELayout(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Layout")
	if i < 0 {
		t.Fatal("README.md has no Layout section")
	}
	layout := readme[i:]
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || rel == "bin" || rel == "results" {
			if rel != "." {
				return filepath.SkipDir
			}
		}
		if _, err := build.ImportDir(p, 0); err != nil {
			return nil // no Go package here
		}
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(rel) + `/?\s`).MatchString(layout) {
			t.Errorf("README.md's layout does not list package %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
