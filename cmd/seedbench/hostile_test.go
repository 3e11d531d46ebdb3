package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHostileFiles: a scenario path that is not a regular file is refused at once, whatever it is,
// by every command that loads one: a FIFO nobody writes (reading it would block) and an endless
// device (reading it would exhaust memory).
func TestHostileFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.yaml")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{fifo, "is a FIFO, not a regular file"},
		{"/dev/zero", "is a character device, not a regular file"},
	} {
		for _, verb := range []string{"validate", "show", "run"} {
			start := time.Now()
			o := run(t, verb, c.path)
			if took := time.Since(start); took > time.Second {
				t.Errorf("%s %s took %v", verb, c.path, took)
			}
			if o.code != 1 || !strings.Contains(o.stderr, c.want) {
				t.Errorf("%s %s: exit %d, want 1 and %q:\n%s", verb, c.path, o.code, c.want, o.stderr)
			}
		}
	}
}

// TestHostileGateFiles: a noise, trials or result path that is not a regular file is refused at once
// by the verbs that read one (report tries each file as trials first), not waited on.
func TestHostileGateFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.json")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	r := "../../results/debian-emacs-apache/20261127T173214Z.json"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", fifo}, "result: " + fifo + " is not a regular file"},
		{[]string{"compare", "--noise", fifo, r, r}, "noise: " + fifo + " is not a regular file"},
		{[]string{"history", "--noise", "/dev/zero", r, r}, "noise: /dev/zero is not a regular file"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, binary, c.args...)
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err()
		cancel()
		var ee *exec.ExitError
		if timedOut != nil || !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: %v (%v), want exit 1 at once and %q:\n%s", c.args, err, timedOut, c.want, out)
		}
	}
}

// TestHostileFlags: command-line values are checked before any work: an empty entry in --drivers is
// a usage error (not "every driver"), and so is a work directory too long for a run's paths.
func TestHostileFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--drivers", ","},
		{"--drivers", "overlayfs,,native"},
		{"--drivers", ""},
		{"--workdir", "/tmp/" + strings.Repeat("w", 120)},
	} {
		o := run(t, append([]string{"run", "../../scenarios/hello-world.yaml"}, args...)...)
		if o.code != 2 || !strings.Contains(o.stderr, strings.TrimPrefix(args[0], "--")) {
			t.Errorf("run %v: exit %d, want 2 naming the flag:\n%s", args, o.code, o.stderr)
		}
	}
}

// TestHostileOut: an --out that cannot be written is refused before anything is measured, and a run
// that fails leaves no empty result file behind.
func TestHostileOut(t *testing.T) {
	requireRoot(t)
	workdir := t.TempDir()
	start := time.Now()
	o := run(t, "run", "../../scenarios/hello-world.yaml", "--quick", "--drivers", "overlayfs", "--workdir", workdir,
		"--out", "/proc/seedbench-result.json")
	if o.code != 1 || !strings.Contains(o.stderr, "output /proc/seedbench-result.json") || time.Since(start) > 10*time.Second {
		t.Errorf("unwritable --out: exit %d after %v:\n%s", o.code, time.Since(start), o.stderr)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "taken.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	o = run(t, "run", "../../scenarios/hello-world.yaml", "--quick", "--drivers", "overlayfs", "--workdir", workdir,
		"--out", filepath.Join(dir, "taken.json"))
	if o.code != 1 || !strings.Contains(o.stderr, "not a regular file") {
		t.Errorf("--out naming a directory: exit %d:\n%s", o.code, o.stderr)
	}
	// A driver that cannot run makes no result; the --out file created up front goes again.
	out := filepath.Join(dir, "r.json")
	o = run(t, "run", "../../scenarios/hello-world.yaml", "--quick", "--drivers", "devmapper", "--workdir", workdir, "--out", out)
	if _, err := os.Stat(out); o.code == 0 || (err == nil) != (o.code == 4) {
		t.Errorf("exit %d, result file present: %v", o.code, err == nil)
	}
	assertNothingOurs(t, workdir)
}

// TestRunLongPaths: the longest path a scenario may hold (3072 bytes, 64 components), under the
// longest work directory a run takes, runs on every driver: what validate accepts, a run can reach.
func TestRunLongPaths(t *testing.T) {
	requireRoot(t)
	comp := strings.Repeat("c", 47)
	p := comp
	for len(p)+1+len(comp) <= 3072 && strings.Count(p, "/") < 63 {
		p += "/" + comp
	}
	scenario := fmt.Sprintf(`name: long-paths
seed: 1
layers:
  - name: base
    files: [{path: %s, size: 4KiB}]
  - name: top
    files: [{path: %s2, size: 1KiB}]
images: {app: top}
containers: {app: 2}
workload:
  - {op: create, count: 3}
  - {op: lookup, cache: [warm, mount]}
  - {op: modify, size: 4KiB}
`, p, p[:len(p)-1])
	dir := t.TempDir()
	f := filepath.Join(dir, "long.yaml")
	if err := os.WriteFile(f, []byte(scenario), 0o644); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	workdir := filepath.Join(base, strings.Repeat("w", 100-len(base)-1))
	out := filepath.Join(dir, "r.json")
	o := run(t, "run", f, "--workdir", workdir, "--out", out, "-q")
	if o.code != 0 && o.code != 4 {
		t.Fatalf("exit %d:\n%s", o.code, o.stderr)
	}
	r := readResult(t, out)
	ran := 0
	for _, d := range r.Drivers {
		if d.Status == "failed" {
			t.Errorf("%s failed: %s", d.Name, d.Reason)
		}
		if d.Status == "ok" {
			ran++
		}
	}
	for _, c := range r.Checks {
		if !c.OK {
			t.Errorf("%s: %s: %s", c.Driver, c.What, c.Detail)
		}
	}
	if ran < 2 {
		t.Errorf("only %d drivers ran", ran)
	}
	assertNothingOurs(t, workdir)
}
