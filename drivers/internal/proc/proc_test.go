package proc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// start runs script in sh as a daemon logging to a file of the test's.
func start(t *testing.T, script string, clean bool) *Process {
	t.Helper()
	log := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &Process{Name: "test daemon", Detail: "sh", Log: log, Clean: clean}
	if err := Start(&exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Stdout: f, Stderr: f}, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.Dead() {
			p.cmd.Process.Kill()
			<-p.Exited()
		}
	})
	return p
}

func TestStop(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		clean        bool
		want         string // the error's start ("" = none)
	}{
		{"stops on SIGTERM", `trap "exit 0" TERM; sleep 100 & wait`, true, ""},
		{"killed by SIGTERM, unchecked", "sleep 100", false, ""},
		{"fails to close", `trap "echo could not unmount; exit 4" TERM; sleep 100 & wait`, true, "the private test daemon "},
		{"exit code not checked", `trap "exit 4" TERM; sleep 100 & wait`, false, ""},
		{"ignores SIGTERM", `trap "" TERM; sleep 100 & wait; sleep 100`, false, "the private test daemon "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.script, tc.clean)
			time.Sleep(100 * time.Millisecond) // its traps set
			t0 := time.Now()
			err := p.Stop(time.Second)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("stop: %v, want %q…", err, tc.want)
			}
			t.Logf("%v after %v", err, time.Since(t0).Round(time.Millisecond))
			switch tc.name {
			case "fails to close":
				if !strings.Contains(err.Error(), "failed to stop cleanly (exit status 4): could not unmount") {
					t.Errorf("stop does not say why: %v", err)
				}
			case "ignores SIGTERM":
				if !strings.Contains(err.Error(), "did not exit within 1s of SIGTERM: killed") || !p.Dead() {
					t.Errorf("stop: %v (dead %v)", err, p.Dead())
				}
			}
		})
	}
}

// A daemon that died on its own is named in the errors of the calls it fails, and by Stop.
func TestDied(t *testing.T) {
	p := start(t, "echo dying; kill -9 $$", false)
	select {
	case <-p.Exited():
	case <-time.After(5 * time.Second):
		t.Fatal("never exited")
	}
	cause := errors.New("connection refused")
	err := p.Explain(cause)
	if !errors.Is(err, cause) || !strings.HasPrefix(err.Error(), "the private test daemon ") || !strings.Contains(err.Error(), "has exited (signal: killed): connection refused") {
		t.Errorf("explain: %v", err)
	}
	err = p.Stop(time.Second)
	if err == nil || !strings.Contains(err.Error(), "had exited during the run (signal: killed): dying (log: ") {
		t.Errorf("stop: %v", err)
	}
}

// A call failing while the daemon lives is not blamed on its death.
func TestExplainAlive(t *testing.T) {
	p := start(t, "sleep 100", false)
	cause := errors.New("not found")
	if err := p.Explain(cause); err != cause {
		t.Errorf("explain on a live daemon: %v", err)
	}
	if p.Dead() {
		t.Error("dead while alive")
	}
}

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n\n"), 0o600)
	long := filepath.Join(dir, "long")
	os.WriteFile(long, []byte("a\nb\nc\nd\n"), 0o600)
	if got := LogTail(empty); got != "no log output ("+empty+")" {
		t.Errorf("empty: %q", got)
	}
	if got := LogTail(long); got != "b | c | d (log: "+long+")" {
		t.Errorf("long: %q", got)
	}
}
